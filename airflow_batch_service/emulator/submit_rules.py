"""What AWS Batch refuses in a SubmitServiceJob request, checked with the emulator's own code.

Written from the Batch API reference (``SubmitServiceJob``, ``ServiceJobRetryStrategy``,
``ServiceJobEvaluateOnExit``, ``ServiceJobTimeout``, ``ServiceJobPreemptionConfiguration``) and
the Batch service quotas (payload 10 KiB, request 30 KiB), apart from the provider's
``core.validation`` on purpose: the operator checks these bounds before any call, and were the
emulator to answer from the same table, a wrong bound there would be agreed with here and no
test would see it. ``tests/emulator/test_validation.py`` pins each bound from the docs.

Field paths use the API's names (``retryStrategy.evaluateOnExit[2].action``), so a
``ClientException`` names the field as AWS's docs do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from airflow_batch_service.core.validation import Problem
from airflow_batch_service.emulator.field_rules import priority_problems, tags_problems

#: Documented: the members of ``ServiceJobType``.
JOB_TYPES = frozenset({"SAGEMAKER_TRAINING"})
#: Documented: up to 128 letters (upper and lower case), numbers, hyphens and underscores.
NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: Documented for ``shareIdentifier`` and ``quotaShareName``: up to 255 of the same.
SHARE = re.compile(r"[A-Za-z0-9_-]{1,255}")
#: Documented: ``retryStrategy.attempts`` is 1-10; up to 5 ``evaluateOnExit`` rules.
ATTEMPTS = range(1, 11)
RULES_MAX = 5
#: Documented: ``onStatusReason`` is 1-512 printable characters; the actions are RETRY, EXIT.
REASON_PATTERN_MAX = 512
ACTIONS = ("RETRY", "EXIT")
#: Documented: ``clientToken`` is 1-64 characters.
TOKEN_MAX = 64
#: Batch service quotas: the payload, and the whole request body, in bytes.
PAYLOAD_MAX_BYTES = 10 * 1024
REQUEST_MAX_BYTES = 30 * 1024

_REQUIRED = ("jobName", "jobQueue", "serviceRequestPayload", "serviceJobType")
_NAME_RULE = "letters, digits, hyphens or underscores"


def _type(value: Any) -> str:
    return type(value).__name__


def _integer(path: str, value: Any, low: int, high: int | None = None) -> list[Problem]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [Problem(path, f"must be an integer, got {_type(value)} {value!r}")]
    if value < low:
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        return [Problem(path, f"must be {bound}, got {value}")]
    if high is not None and value > high:
        return [Problem(path, f"must be between {low} and {high}, got {value}")]
    return []


def _keys(value: Mapping[str, Any], path: str, known: tuple[str, ...]) -> list[Problem]:
    unknown = sorted(set(value) - set(known))
    if not unknown:
        return []
    return [Problem(path, f"unknown key(s) {unknown}; allowed: {', '.join(known)}")]


def _job_name(value: Any) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem("jobName", f"must be a string, got {_type(value)}")]
    if len(value) > 128:
        return [Problem("jobName", f"must be at most 128 characters, got {len(value)}")]
    if not NAME.fullmatch(value):
        return [Problem("jobName", f"must be 1-128 {_NAME_RULE}, got {value!r}")]
    return []


def _job_queue(value: Any) -> list[Problem]:
    if isinstance(value, str):
        return []
    return [Problem("jobQueue", f"must be a string, got {_type(value)}")]


def _job_type(value: Any) -> list[Problem]:
    if value in JOB_TYPES:
        return []
    return [
        Problem("serviceJobType", f"must be one of {', '.join(sorted(JOB_TYPES))}, got {value!r}")
    ]


def _payload(value: Any) -> list[Problem]:
    path = "serviceRequestPayload"
    if not isinstance(value, str):
        return [Problem(path, f"must be a JSON string, got {_type(value)}")]
    try:
        document = json.loads(value)
    except ValueError as err:
        return [Problem(path, f"must be valid JSON ({err})")]
    if not isinstance(document, dict):
        return [Problem(path, f"must be a JSON object, got {_type(document)}")]
    size = len(value.encode("utf-8"))
    if size > PAYLOAD_MAX_BYTES:
        return [
            Problem(
                path,
                f"is {size:,} bytes as JSON; AWS Batch allows at most {PAYLOAD_MAX_BYTES:,} "
                "(10 KiB). Move large values (hyperparameters, environment) to S3 or shorten them",
            )
        ]
    return []


def _exit_rule(where: str, rule: Any) -> list[Problem]:
    if not isinstance(rule, Mapping):
        return [Problem(where, "must be an object with action and onStatusReason")]
    out = _keys(rule, where, ("action", "onStatusReason"))
    if rule.get("action") not in ACTIONS:
        out.append(
            Problem(
                f"{where}.action",
                f"must be one of {', '.join(ACTIONS)}, got {rule.get('action')!r}",
            )
        )
    pattern, at = rule.get("onStatusReason"), f"{where}.onStatusReason"
    if pattern is None:
        out.append(Problem(at, "is required (a glob matched against the attempt's statusReason)"))
    elif not isinstance(pattern, str):
        out.append(Problem(at, "must be a string"))
    elif not pattern or len(pattern) > REASON_PATTERN_MAX:
        out.append(Problem(at, f"must be 1-{REASON_PATTERN_MAX} characters, got {len(pattern)}"))
    elif not pattern.isprintable():
        out.append(Problem(at, "may contain only printable characters"))
    return out


def _retry_strategy(value: Any) -> list[Problem]:
    path = "retryStrategy"
    if not isinstance(value, Mapping):
        return [Problem(path, f"must be an object, got {_type(value)}")]
    out = _keys(value, path, ("attempts", "evaluateOnExit"))
    if "attempts" in value:
        out += _integer(f"{path}.attempts", value["attempts"], ATTEMPTS[0], ATTEMPTS[-1])
    else:
        out.append(Problem(f"{path}.attempts", "is required"))
    rules = value.get("evaluateOnExit")
    if rules is None:
        return out
    if not isinstance(rules, list):
        return [*out, Problem(f"{path}.evaluateOnExit", "must be a list of rules")]
    if len(rules) > RULES_MAX:
        out.append(
            Problem(f"{path}.evaluateOnExit", f"at most {RULES_MAX} rules, got {len(rules)}")
        )
    for index, rule in enumerate(rules):
        out += _exit_rule(f"{path}.evaluateOnExit[{index}]", rule)
    return out


def _share(field: str) -> Callable[[Any], list[Problem]]:
    def check(value: Any) -> list[Problem]:
        if not isinstance(value, str):
            return [Problem(field, f"must be a string, got {_type(value)}")]
        if not SHARE.fullmatch(value):
            return [Problem(field, f"must be 1-255 {_NAME_RULE}, got {value!r}")]
        return []

    return check


def _one_int_object(field: str, key: str, low: int) -> Callable[[Any], list[Problem]]:
    """``{key: int >= low}``: ``preemptionConfiguration`` and ``timeoutConfig``."""

    def check(value: Any) -> list[Problem]:
        if not isinstance(value, Mapping):
            return [Problem(field, "must be an object")]
        out = _keys(value, field, (key,))
        if key in value:
            out += _integer(f"{field}.{key}", value[key], low)
        return out

    return check


def _client_token(value: Any) -> list[Problem]:
    if isinstance(value, str) and 1 <= len(value) <= TOKEN_MAX:
        return []
    return [Problem("clientToken", f"must be a string of 1-{TOKEN_MAX} characters")]


#: The optional fields and their checks, in the order the API reference lists them.
_OPTIONAL: dict[str, Callable[[Any], list[Problem]]] = {
    "retryStrategy": _retry_strategy,
    "schedulingPriority": priority_problems,
    "shareIdentifier": _share("shareIdentifier"),
    "quotaShareName": _share("quotaShareName"),
    "preemptionConfiguration": _one_int_object(
        "preemptionConfiguration", "preemptionRetriesBeforeTermination", 0
    ),
    "timeoutConfig": _one_int_object("timeoutConfig", "attemptDurationSeconds", 1),
    "tags": tags_problems,
    "clientToken": _client_token,
}
_GIVEN: dict[str, Callable[[Any], list[Problem]]] = {
    "jobName": _job_name,
    "jobQueue": _job_queue,
    "serviceJobType": _job_type,
    "serviceRequestPayload": _payload,
}


def _request_size(request: Mapping[str, Any]) -> list[Problem]:
    try:
        body = json.dumps(dict(request), separators=(",", ":"))
    except (TypeError, ValueError):
        return []
    size = len(body.encode("utf-8"))
    if size <= REQUEST_MAX_BYTES:
        return []
    return [
        Problem(
            "request",
            f"the whole SubmitServiceJob request is {size:,} bytes; AWS Batch allows at most "
            f"{REQUEST_MAX_BYTES:,} (30 KiB)",
        )
    ]


def submit_problems(request: Mapping[str, Any]) -> list[Problem]:
    """Every rule a SubmitServiceJob request (API shape) breaks, as Batch would refuse it."""
    out = [Problem(field, "is required") for field in _REQUIRED if request.get(field) in (None, "")]
    for field, check in _GIVEN.items():
        if request.get(field) not in (None, ""):
            out += check(request[field])
    for field, check in _OPTIONAL.items():
        if request.get(field) is not None:
            out += check(request[field])
    if request.get("shareIdentifier") is not None and request.get("quotaShareName") is not None:
        out.append(Problem("quotaShareName", "cannot be given together with {shareIdentifier}"))
    return out or _request_size(request)
