"""Hand one event to moto's EventBridge: the rules of the default bus route it to SQS.

moto's ``put_events`` does deliver to SQS targets and honours event patterns
(``detail.jobQueue`` included), but not as AWS: the message it sends leaves out ``account``,
every put gets a fresh ``id`` (a duplicate EventBridge delivers carries the id of the first
copy), a DISABLED rule still gets events, and a schedule-only rule (no event pattern) matches
every event. So the rules are read here: ENABLED rules with an event pattern, matched by
moto's own ``EventPattern`` (the full pattern language), and the event's JSON sent to each SQS
target as is (or what the target's ``Input`` / ``InputPath`` / ``InputTransformer`` makes of
it). Other target kinds (Lambda, Logs, another bus, ...) get nothing from the emulator.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from moto.events.models import EventsBackend, events_backends
from moto.events.utils import EventTemplateParser
from moto.sqs.models import sqs_backends
from moto.utilities.arns import parse_arn

log = logging.getLogger(__name__)

DEFAULT_BUS = "default"


def _events_backend(account: str, region: str) -> EventsBackend | None:
    """The account's and region's EventBridge, if anybody has used it (never creates one)."""
    regions = dict.get(events_backends, account)
    backend = dict.get(regions, region) if regions is not None else None
    return backend if isinstance(backend, EventsBackend) else None


def _rules(account: str, region: str) -> list[Any]:
    backend = _events_backend(account, region)
    bus = backend.event_buses.get(DEFAULT_BUS) if backend is not None else None
    if bus is None:
        return []
    return [
        rule
        for rule in bus.rules.values()
        if rule.state == "ENABLED" and rule.event_pattern.get_pattern()
    ]


def has_rules(account: str, region: str) -> bool:
    """Whether an event of this account and region could reach anybody: without an ENABLED
    pattern rule on the default bus it vanishes, so it is not even built."""
    return bool(_rules(account, region))


def deliver(event: dict[str, Any]) -> int:
    """Put ``event`` (the full envelope) on its account's and region's default bus; returns
    how many SQS targets got it. A target that cannot take it is skipped (EventBridge's
    failed delivery, which nobody sees without a dead-letter queue)."""
    sent = 0
    for rule in _rules(str(event["account"]), str(event["region"])):
        if not rule.event_pattern.matches_event(event):
            continue
        for target in list(rule.targets):
            try:
                sent += _to_sqs(target, event)
            except Exception as err:  # one broken target must not stop the others
                log.debug("event %s not delivered to %s: %s", event["id"], target.get("Arn"), err)
    return sent


def _to_sqs(target: dict[str, Any], event: dict[str, Any]) -> int:
    arn = parse_arn(str(target["Arn"]))
    if arn.service != "sqs":
        return 0
    backend = sqs_backends[arn.account][arn.region]
    queue = backend.queues.get(arn.resource_id)
    if queue is None:
        return 0
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    if queue.fifo_queue and not (group_id and getattr(queue, "content_based_deduplication", 0)):
        return 0  # EventBridge needs both for a FIFO queue
    backend.send_message(arn.resource_id, _input(target, event), group_id=group_id)
    return 1


def _input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """What the target receives: the event, or what the target's input settings make of it."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        node: Any = event
        for part in str(target["InputPath"]).lstrip("$").strip(".").split("."):
            if part:
                node = node.get(part) if isinstance(node, dict) else None
        return json.dumps(node)
    transformer = target.get("InputTransformer")
    if transformer:
        parsed = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event={**event, "ingestion-time": 0.0},  # type: ignore[typeddict-item]
        )
        return parsed if isinstance(parsed, str) else json.dumps(parsed)
    return json.dumps(event)
