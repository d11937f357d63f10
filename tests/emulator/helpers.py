"""Small builders shared by the emulator tests (and, through ``tests/provider/support.py``, by
the provider's): the SubmitServiceJob arguments, scenario documents, reasons."""

from __future__ import annotations

import json
from typing import Any

from airflow_batch_service.core import reasons

ISE = reasons.sagemaker("InternalServerError: We encountered an internal error.")
VALIDATION = reasons.sagemaker("ValidationException: bad hyperparameter")

PAYLOAD = {
    "TrainingJobName": "train",
    "RoleArn": "arn:aws:iam::123456789012:role/sm",
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


# -- scenario documents (the emulator's format, docs/emulator.md) ------------------------------


def attempt(
    result: str,
    reason: str | None = None,
    *,
    seconds: float | None = None,
    runnable_seconds: float | None = None,
    metrics: dict[str, float] | None = None,
    hold_until_seen: dict[str, int] | None = None,
    hold_until_released: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One scripted try: ``{"result", "statusReason", "seconds", "runnableSeconds", "metrics",
    "holdUntilSeen", "holdUntilReleased"}``, only the keys given."""
    item: dict[str, Any] = {"result": result}
    for key, value in (
        ("statusReason", reason),
        ("seconds", seconds),
        ("runnableSeconds", runnable_seconds),
        ("metrics", metrics),
        ("holdUntilSeen", hold_until_seen),
        ("holdUntilReleased", hold_until_released),
    ):
        if value is not None:
            item[key] = value
    return item


def succeeded(**timing: Any) -> dict[str, Any]:
    return attempt("SUCCEEDED", **timing)


def failed(reason: str | None = None, **timing: Any) -> dict[str, Any]:
    """A failed try; without a reason the emulator's default (a SageMaker AlgorithmError)."""
    return attempt("FAILED", reason, **timing)


def hang(**timing: Any) -> dict[str, Any]:
    """Runs until a timeout or a terminate."""
    return attempt("HANG", **timing)


def capacity(**timing: Any) -> dict[str, Any]:
    """SCHEDULED, then back to RUNNABLE for want of capacity: no attempt used."""
    return attempt("CAPACITY", **timing)


def preempted(**timing: Any) -> dict[str, Any]:
    return attempt("PREEMPTED", **timing)


def script(name: str, *attempts: dict[str, Any]) -> dict[str, Any]:
    """The script of the jobs whose name matches the glob ``name``."""
    return {"jobName": name, "attempts": list(attempts)}


def scenarios(*jobs: dict[str, Any], seconds_per_state: float | None = None) -> dict[str, Any]:
    """A scenario document of several job scripts (the first match wins)."""
    document: dict[str, Any] = {"jobs": list(jobs)}
    if seconds_per_state is not None:
        document["secondsPerState"] = seconds_per_state
    return document


def scenario(name: str, *attempts: dict[str, Any]) -> dict[str, Any]:
    """A scenario document scripting one job name (glob): ``scenario("x", failed(ISE), succeeded())``."""
    return scenarios(script(name, *attempts))


# -- calls ---------------------------------------------------------------------------------------


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


def run_to_end(
    emu: Any, batch: Any, job_id: str, step: float = 1.0, limit: int = 200
) -> dict[str, Any]:
    """Advance the (frozen) clock step by step until the job ends; return the last describe."""
    for _ in range(limit):
        job = describe(batch, job_id)
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        emu.advance(step)
    raise AssertionError(f"job {job_id} did not end: {job['status']}")


def statuses_until_end(
    emu: Any, batch: Any, job_id: str, step: float = 1.0, limit: int = 200
) -> list[str]:
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


OPTIONAL_IN_PRACTICE = {"DescribeServiceJobResponse": {"startedAt"}}


def _check(shape: Any, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected an object"
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{path}: keys not in botocore's {shape.name}: {sorted(unknown)}"
        # botocore marks startedAt required, yet a job that has not started has no start time;
        # like DescribeJobs (whose model says the same), it is left out until the job starts.
        missing = (
            set(shape.required_members) - set(value) - OPTIONAL_IN_PRACTICE.get(shape.name, set())
        )
        assert not missing, f"{path}: required members missing: {sorted(missing)}"
        for key, item in value.items():
            _check(shape.members[key], item, f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected a list"
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected a map"
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected an int"
    elif kind in ("double", "float"):
        assert isinstance(value, int | float), f"{path}: expected a number"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected a bool"


def assert_output_shape(operation: str, response: dict[str, Any]) -> None:
    """Every key is a member of botocore's output shape (recursively), required ones present."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("batch")
    shape = model.operation_model(operation).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if shape is None:
        assert body == {}, f"{operation}: expected an empty answer, got {body}"
        return
    _check(shape, body, operation)


def error_of(excinfo: Any) -> tuple[str, int, str]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def capture_raw(client: Any) -> dict[str, Any]:
    """Record each operation's raw JSON answer (before botocore's parser drops unknown keys)."""
    seen: dict[str, Any] = {}

    def hook(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        body = response_dict.get("body") or b""
        if response_dict.get("status_code") == 200:
            seen[operation_model.name] = json.loads(body) if body.strip() else {}

    client.meta.events.register("before-parse.batch.*", hook)
    return seen


def all_jobs(batch: Any, queue: str) -> list[dict[str, Any]]:
    """Every job in ``queue`` whatever its status (a filter makes jobStatus ignored)."""
    pages = batch.get_paginator("list_service_jobs").paginate(
        jobQueue=queue, filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}]
    )
    return [job for page in pages for job in page["jobSummaryList"]]
