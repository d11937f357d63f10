"""Small builders shared by the emulator tests."""

from __future__ import annotations

import json
from typing import Any

PAYLOAD = {
    "TrainingJobName": "train",
    "RoleArn": "arn:aws:iam::123456789012:role/sm",
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def submit_args(queue: str, name: str = "job", **extra: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "jobName": name,
        "jobQueue": queue,
        "serviceJobType": "SAGEMAKER_TRAINING",
        "serviceRequestPayload": json.dumps(PAYLOAD),
    }
    args.update(extra)
    return args


def describe(batch: Any, job_id: str) -> dict[str, Any]:
    out = batch.describe_service_job(jobId=job_id)
    out.pop("ResponseMetadata", None)
    return out


def run_to_end(emu: Any, batch: Any, job_id: str, step: float = 1.0, limit: int = 200) -> dict[str, Any]:
    """Advance the (frozen) clock step by step until the job ends; return the last describe."""
    for _ in range(limit):
        job = describe(batch, job_id)
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        emu.advance(step)
    raise AssertionError(f"job {job_id} did not end: {job['status']}")


def statuses_until_end(emu: Any, batch: Any, job_id: str, step: float = 1.0, limit: int = 200) -> list[str]:
    """Every status seen while stepping the clock, consecutive repeats collapsed."""
    seen: list[str] = []
    for _ in range(limit):
        status = describe(batch, job_id)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ("SUCCEEDED", "FAILED"):
            return seen
        emu.advance(step)
    raise AssertionError(f"job {job_id} did not end: {seen}")
