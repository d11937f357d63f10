"""Build DescribeServiceJob responses in botocore's shape for the core's tests."""

from __future__ import annotations

from typing import Any

from airflow_batch_service.core import reasons

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/"


def attempt(
    n: int, start: int, stop: int | None = None, reason: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "serviceResourceId": {"name": "TrainingJobArn", "value": f"{ARN}AWSBatchtrain{n:032x}"},
        "startedAt": start,
    }
    if stop is not None:
        item["stoppedAt"] = stop
    if reason is not None:
        item["statusReason"] = reason
    return item


def describe(
    status: str, attempts: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    attempts = attempts or []
    response: dict[str, Any] = {
        "jobId": "job-1",
        "jobArn": "arn:aws:batch:us-east-1:123456789012:service-job/job-1",
        "jobName": "train",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
        "status": status,
        "createdAt": 1_000,
        "attempts": attempts,
        "serviceJobType": "SAGEMAKER_TRAINING",
        **extra,
    }
    if attempts:
        response["latestAttempt"] = {"serviceResourceId": attempts[-1]["serviceResourceId"]}
    return response


ISE = reasons.sagemaker("InternalServerError: We encountered an internal error.")
VALIDATION = reasons.sagemaker("ValidationException: Requested resource not found.")
STRATEGY = {
    "attempts": 3,
    "evaluateOnExit": [
        {"action": "RETRY", "onStatusReason": reasons.SAGEMAKER_PREFIX + "InternalServerError*"},
        {"action": "EXIT", "onStatusReason": reasons.SAGEMAKER_PREFIX + "ValidationException*"},
    ],
}
