"""One call that makes an SQS queue receive the emulator's service-job state-change events.

What a user sets up in AWS to consume Batch's events: an SQS queue, an EventBridge rule on
the default bus whose pattern picks ``aws.batch`` / ``Batch Service Job State Change`` (and,
optionally, some job queues: ``detail.jobQueue`` carries the queue's **ARN**, so names are
turned into ARNs here), the queue as the rule's target, and a queue policy that lets
``events.amazonaws.com`` send to it. Done on moto's backends directly (in-process, and in the
server for the control API and ``--event-queue``); idempotent, and a second call with other
job queues replaces the rule's filter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.events.models import events_backends
from moto.sqs.models import sqs_backends

from airflow_batch_service.emulator.backend import service_job_backends
from airflow_batch_service.emulator.event_knobs import DEFAULT_QUEUE, check_queue_name
from airflow_batch_service.emulator.events import SOURCE, STATE_CHANGE

TARGET_ID = "batch-service-events"
#: Rule names: 1-64 of letters, digits, ``.``, ``-``, ``_``.
_RULE_NAME_MAX = 64


def pattern(job_queue_arns: Sequence[str] | None) -> dict[str, Any]:
    """The rule's event pattern: Batch's service-job state changes, of these queues only."""
    out: dict[str, Any] = {"source": [SOURCE], "detail-type": [STATE_CHANGE]}
    if job_queue_arns:
        out["detail"] = {"jobQueue": list(job_queue_arns)}
    return out


def queue_arns(job_queues: Any, account: str, region: str) -> list[str] | None:
    """Job queue names or ARNs (one, or a list) -> ARNs (a name the emulator does not know
    yet gets the ARN it will have)."""
    if job_queues is None:
        return None
    if isinstance(job_queues, str):
        job_queues = [job_queues]
    if not isinstance(job_queues, Sequence):
        raise ValueError(
            f"job_queues: must be a list of job queue names or ARNs, got {job_queues!r}"
        )
    backend = service_job_backends[account][region]
    out = []
    for item in job_queues:
        if not isinstance(item, str) or not item:
            raise ValueError(f"job_queues: {item!r} is not a job queue name or ARN")
        if item.startswith("arn:"):
            out.append(item)
            continue
        queue = backend.find_queue(item)
        out.append(queue.arn if queue is not None else backend._arn("job-queue", item))
    return out


def ensure(
    name: str = DEFAULT_QUEUE,
    job_queues: str | Sequence[str] | None = None,
    region: str = "us-east-1",
    account: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Create (or update) the queue, the rule, the target and the policy. Returns
    ``{"queueName", "queueArn", "ruleName", "ruleArn", "account", "region", "jobQueues"}``."""
    check_queue_name(name)
    arns = queue_arns(job_queues, account, region)
    fifo = name.endswith(".fifo")
    sqs = sqs_backends[account][region]
    queue = sqs.queues.get(name)
    if queue is None:
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}
        queue = sqs.create_queue(name, None, **attributes)
    events = events_backends[account][region]
    rule_name = name[:_RULE_NAME_MAX]
    rule = events.put_rule(rule_name, event_pattern=json.dumps(pattern(arns)), state="ENABLED")
    target: dict[str, Any] = {"Id": TARGET_ID, "Arn": queue.queue_arn}
    if fifo:
        target["SqsParameters"] = {"MessageGroupId": TARGET_ID}
    events.put_targets(rule_name, None, [target])
    _allow_events(sqs, name, queue.queue_arn, rule.arn)
    return {
        "queueName": name,
        "queueArn": queue.queue_arn,
        "ruleName": rule_name,
        "ruleArn": rule.arn,
        "account": account,
        "region": region,
        "jobQueues": arns,
    }


def _allow_events(sqs: Any, name: str, queue_arn: str, rule_arn: str) -> None:
    """Add to the queue's policy a statement letting the rule send (kept if already there)."""
    sid = f"batch-service-events-{rule_arn.rsplit('/', 1)[-1]}"
    current = sqs.queues[name].policy
    policy: dict[str, Any] = json.loads(current) if current else {"Version": "2012-10-17"}
    statements = [s for s in policy.get("Statement", []) if s.get("Sid") != sid]
    statements.append(
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }
    )
    policy["Statement"] = statements
    sqs.set_queue_attributes(name, {"Policy": json.dumps(policy)})


def ensure_missing(names: Sequence[str], region: str, account: str) -> None:
    """Set up each of ``names`` whose queue or rule is gone (``--event-queue``: after a
    reset, the next tick or SQS call brings them back)."""
    sqs_regions = dict.get(sqs_backends, account)
    events_regions = dict.get(events_backends, account)
    sqs = dict.get(sqs_regions, region) if sqs_regions is not None else None
    events = dict.get(events_regions, region) if events_regions is not None else None
    bus = events.event_buses.get("default") if events is not None else None
    for name in names:
        present = (
            sqs is not None
            and name in sqs.queues
            and bus is not None
            and name[:_RULE_NAME_MAX] in bus.rules
        )
        if not present:
            ensure(name, None, region, account)
