"""The operator's pre-submit checks (``core.validation``) and the emulator's answer
(``emulator.submit_rules``) are two readings of SubmitServiceJob's documented bounds, kept apart
on purpose. Here they must meet: at each edge of each bound both accept the request, and one
step past it both refuse it, naming the same field.

Bounds, from the Batch API reference and service quotas (see
``shared/reference/service-jobs-api.md``): jobName 1-128 of ``[A-Za-z0-9_-]``; serviceJobType
SAGEMAKER_TRAINING; retryStrategy.attempts 1-10 with at most 5 evaluateOnExit rules, each an
action of RETRY or EXIT and an onStatusReason of 1-512 printable characters;
schedulingPriority 0-9999; shareIdentifier and quotaShareName 1-255 of ``[A-Za-z0-9_-]``, not
both; timeoutConfig.attemptDurationSeconds at least 1; preemptionRetriesBeforeTermination at
least 0; 1-50 tags, keys 1-128 characters not starting ``aws:``, values at most 256; clientToken
1-64; the payload a JSON object of at most 10 KiB, the whole request at most 30 KiB.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_batch_service.core.validation import submit_request_problems
from airflow_batch_service.emulator.submit_rules import submit_problems

RULE = {"action": "RETRY", "onStatusReason": "x*"}


def _request(**extra: Any) -> dict[str, Any]:
    request = {
        "jobName": "job",
        "jobQueue": "queue",
        "serviceJobType": "SAGEMAKER_TRAINING",
        "serviceRequestPayload": json.dumps({"TrainingJobName": "t"}),
    }
    request.update(extra)
    return {k: v for k, v in request.items() if v is not None}


def _padded_payload(size: int) -> str:
    head = '{"p":"'
    return head + "x" * (size - len(head) - 2) + '"}'


#: 50 tags at their longest: about 19 KiB of the request's 30.
BIG_TAGS = {f"{i:02d}".ljust(128, "k"): "v" * 256 for i in range(50)}

# (case, extra fields at the edge: accepted, extra fields one step past: refused, the field)
EDGES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("jobName length", {"jobName": "n" * 128}, {"jobName": "n" * 129}, "jobName"),
    ("jobName characters", {"jobName": "a-B_9"}, {"jobName": "a.b"}, "jobName"),
    ("jobName required", {}, {"jobName": None}, "jobName"),
    ("jobQueue required", {}, {"jobQueue": ""}, "jobQueue"),
    ("serviceJobType", {}, {"serviceJobType": "SAGEMAKER_TRAINING_V2"}, "serviceJobType"),
    (
        "attempts low",
        {"retryStrategy": {"attempts": 1}},
        {"retryStrategy": {"attempts": 0}},
        "retryStrategy.attempts",
    ),
    (
        "attempts high",
        {"retryStrategy": {"attempts": 10}},
        {"retryStrategy": {"attempts": 11}},
        "retryStrategy.attempts",
    ),
    (
        "attempts type",
        {"retryStrategy": {"attempts": 2}},
        {"retryStrategy": {"attempts": True}},
        "retryStrategy.attempts",
    ),
    (
        "attempts required",
        {"retryStrategy": {"attempts": 2}},
        {"retryStrategy": {"evaluateOnExit": [RULE]}},
        "retryStrategy.attempts",
    ),
    (
        "rule count",
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [RULE] * 5}},
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [RULE] * 6}},
        "retryStrategy.evaluateOnExit",
    ),
    (
        "rule action",
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [{**RULE, "action": "EXIT"}]}},
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [{**RULE, "action": "retry"}]}},
        "retryStrategy.evaluateOnExit[0].action",
    ),
    (
        "rule pattern length",
        {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{**RULE, "onStatusReason": "p" * 512}],
            }
        },
        {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{**RULE, "onStatusReason": "p" * 513}],
            }
        },
        "retryStrategy.evaluateOnExit[0].onStatusReason",
    ),
    (
        "rule pattern printable",
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [{**RULE, "onStatusReason": "a b*"}]}},
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [{**RULE, "onStatusReason": "a\nb"}]}},
        "retryStrategy.evaluateOnExit[0].onStatusReason",
    ),
    (
        "rule keys",
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [RULE]}},
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": [{**RULE, "onExitCode": "1"}]}},
        "retryStrategy.evaluateOnExit[0]",
    ),
    ("priority low", {"schedulingPriority": 0}, {"schedulingPriority": -1}, "schedulingPriority"),
    (
        "priority high",
        {"schedulingPriority": 9999},
        {"schedulingPriority": 10_000},
        "schedulingPriority",
    ),
    (
        "share length",
        {"shareIdentifier": "s" * 255},
        {"shareIdentifier": "s" * 256},
        "shareIdentifier",
    ),
    (
        "quota share characters",
        {"quotaShareName": "q_1"},
        {"quotaShareName": "q 1"},
        "quotaShareName",
    ),
    (
        "share and quota share",
        {"quotaShareName": "q"},
        {"quotaShareName": "q", "shareIdentifier": "s"},
        "quotaShareName",
    ),
    (
        "attempt duration",
        {"timeoutConfig": {"attemptDurationSeconds": 1}},
        {"timeoutConfig": {"attemptDurationSeconds": 0}},
        "timeoutConfig.attemptDurationSeconds",
    ),
    (
        "preemption retries",
        {"preemptionConfiguration": {"preemptionRetriesBeforeTermination": 0}},
        {"preemptionConfiguration": {"preemptionRetriesBeforeTermination": -1}},
        "preemptionConfiguration.preemptionRetriesBeforeTermination",
    ),
    (
        "tag count",
        {"tags": {f"k{i}": "v" for i in range(50)}},
        {"tags": {f"k{i}": "v" for i in range(51)}},
        "tags",
    ),
    ("tag key", {"tags": {"k" * 128: "v"}}, {"tags": {"k" * 129: "v"}}, "tags["),
    ("tag reserved prefix", {"tags": {"awsx": "v"}}, {"tags": {"AWS:x": "v"}}, "tags["),
    ("tag value", {"tags": {"k": "v" * 256}}, {"tags": {"k": "v" * 257}}, "tags["),
    ("clientToken", {"clientToken": "t" * 64}, {"clientToken": "t" * 65}, "clientToken"),
    (
        "payload object",
        {"serviceRequestPayload": "{}"},
        {"serviceRequestPayload": "[]"},
        "serviceRequestPayload",
    ),
    (
        "payload size",
        {"serviceRequestPayload": _padded_payload(10 * 1024)},
        {"serviceRequestPayload": _padded_payload(10 * 1024 + 1)},
        "serviceRequestPayload",
    ),
    (
        "request size",
        {"tags": BIG_TAGS},
        {
            "tags": BIG_TAGS,
            "serviceRequestPayload": _padded_payload(10 * 1024),
            "jobName": "n" * 128,
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{**RULE, "onStatusReason": "p" * 512}] * 5,
            },
            "shareIdentifier": "s" * 255,
            "clientToken": "t" * 64,
        },
        "request",
    ),
]


def _fields(problems: list[Any]) -> set[str]:
    return {p.field for p in problems}


@pytest.mark.parametrize(
    ("accepted", "refused", "field"), [c[1:] for c in EDGES], ids=[c[0] for c in EDGES]
)
def test_both_readings_agree_at_every_edge(
    accepted: dict[str, Any], refused: dict[str, Any], field: str
) -> None:
    assert submit_request_problems(_request(**accepted)) == []
    assert submit_problems(_request(**accepted)) == []
    provider = _fields(submit_request_problems(_request(**refused)))
    emulator = _fields(submit_problems(_request(**refused)))
    assert provider == emulator, f"provider refuses {provider}, emulator {emulator}"
    assert any(f.startswith(field) for f in emulator), f"{field} not named in {emulator}"
