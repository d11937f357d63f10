"""Every documented SubmitServiceJob bound (core.validation)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_batch_service.core.validation import (
    InvalidRequestError,
    submit_request_problems,
    validate_submit_request,
)

VALID: dict[str, Any] = {
    "jobName": "train-1",
    "jobQueue": "q",
    "serviceJobType": "SAGEMAKER_TRAINING",
    "serviceRequestPayload": json.dumps({"TrainingJobName": "t"}),
}


def with_(**changes: Any) -> dict[str, Any]:
    request = dict(VALID)
    for key, value in changes.items():
        if value is ...:
            request.pop(key)
        else:
            request[key] = value
    return request


def test_a_valid_request_passes() -> None:
    validate_submit_request(
        with_(
            retryStrategy={
                "attempts": 10,
                "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "*"}] * 5,
            },
            schedulingPriority=0,
            shareIdentifier="team_a",
            preemptionConfiguration={"preemptionRetriesBeforeTermination": 0},
            timeoutConfig={"attemptDurationSeconds": 1},
            tags={"k" * 128: "v" * 256},
            clientToken="x" * 64,
        )
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"jobName": ...}, "jobName", "required"),
        ({"jobName": "x" * 129}, "jobName", "at most 128 characters, got 129"),
        ({"jobName": "has space"}, "jobName", "letters, digits"),
        ({"jobQueue": ""}, "jobQueue", "required"),
        ({"serviceJobType": "FOO"}, "serviceJobType", "SAGEMAKER_TRAINING"),
        ({"serviceRequestPayload": "{not json"}, "serviceRequestPayload", "valid JSON"),
        ({"serviceRequestPayload": "[1]"}, "serviceRequestPayload", "JSON object"),
        ({"retryStrategy": {"attempts": 0}}, "retryStrategy.attempts", "between 1 and 10"),
        ({"retryStrategy": {"attempts": 11}}, "retryStrategy.attempts", "between 1 and 10"),
        ({"retryStrategy": {"attempts": True}}, "retryStrategy.attempts", "integer"),
        ({"retryStrategy": {}}, "retryStrategy.attempts", "required"),
        (
            {
                "retryStrategy": {
                    "attempts": 2,
                    "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "*"}] * 6,
                }
            },
            "retryStrategy.evaluateOnExit",
            "at most 5",
        ),
        (
            {
                "retryStrategy": {
                    "attempts": 2,
                    "evaluateOnExit": [{"action": "retry", "onStatusReason": "*"}],
                }
            },
            "retryStrategy.evaluateOnExit[0].action",
            "RETRY, EXIT",
        ),
        (
            {
                "retryStrategy": {
                    "attempts": 2,
                    "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "x" * 513}],
                }
            },
            "retryStrategy.evaluateOnExit[0].onStatusReason",
            "1-512",
        ),
        (
            {
                "retryStrategy": {
                    "attempts": 2,
                    "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "a\tb"}],
                }
            },
            "retryStrategy.evaluateOnExit[0].onStatusReason",
            "printable",
        ),
        ({"schedulingPriority": -1}, "schedulingPriority", "between 0 and 9999"),
        ({"schedulingPriority": 10000}, "schedulingPriority", "between 0 and 9999"),
        ({"shareIdentifier": "a", "quotaShareName": "b"}, "quotaShareName", "together"),
        ({"shareIdentifier": "bad*"}, "shareIdentifier", "letters, digits"),
        (
            {"timeoutConfig": {"attemptDurationSeconds": 0}},
            "timeoutConfig.attemptDurationSeconds",
            "at least 1",
        ),
        (
            {"preemptionConfiguration": {"preemptionRetriesBeforeTermination": -1}},
            "preemptionConfiguration.preemptionRetriesBeforeTermination",
            "at least 0",
        ),
        ({"tags": {}}, "tags", "1-50"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "1-50"),
        ({"tags": {"k" * 129: "v"}}, "tags[", "1-128"),
        ({"tags": {"k": "v" * 257}}, "tags['k']", "at most 256"),
        ({"tags": {"aws:x": "v"}}, "tags['aws:x']", "reserved"),
        ({"clientToken": ""}, "clientToken", "1-64"),
        ({"clientToken": "x" * 65}, "clientToken", "1-64"),
    ],
)
def test_each_bound_is_named(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidRequestError) as err:
        validate_submit_request(with_(**changes))
    assert err.value.field.startswith(field)
    assert words in str(err.value)
    assert str(err.value).startswith(field)


def test_every_problem_is_listed_not_just_the_first() -> None:
    problems = submit_request_problems(
        with_(jobName="bad name", schedulingPriority=99999, serviceJobType="FOO")
    )
    assert {p.field for p in problems} == {"jobName", "schedulingPriority", "serviceJobType"}
