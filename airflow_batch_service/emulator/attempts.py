"""One run of a service job on SageMaker (an attempt), and what a job reads from its payload.

Apart from ``jobs`` so the lifecycle there reads as a lifecycle: the record of a run, the
protocol through which its outside effects go (``sagemaker_bridge`` implements it), and the
payload-derived values (capacity usage, training-job name) live here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.training_job import PAYLOAD_NAME_MAX

if TYPE_CHECKING:
    from airflow_batch_service.emulator.jobs import ServiceJob


class FunctionProcess(Protocol):
    """What an attempt's lifecycle reads of a real function run (``function_runs``): the
    attempt may leave RUNNING only once the run has exited, and ends as it ended."""

    #: When the run exited (emulator clock); None while it runs, or once it was killed.
    exited_at: float | None
    #: SageMaker's FailureReason of a failed run ("AlgorithmError: ..."); None if it returned.
    failure: str | None


class AttemptEnd(StrEnum):
    """How the training job behind an attempt ended (SageMaker's TrainingJobStatus)."""

    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


def ms(seconds: float) -> int:
    """Epoch seconds -> the epoch milliseconds Batch's timestamps use."""
    return round(seconds * 1000)


@dataclass
class Attempt:
    """One run on SageMaker: a training job. ``started_at``/``stopped_at`` in epoch ms."""

    training_job_name: str
    training_job_arn: str
    created: float  # seconds; when the training job was created (job SCHEDULED)
    started_at: int | None = None
    stopped_at: int | None = None
    status_reason: str | None = None
    run_started: float | None = None  # seconds; when the job entered RUNNING
    #: The real run of a ``@task.batch_service`` function behind this attempt, if any.
    function: FunctionProcess | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceResourceId": {"name": "TrainingJobArn", "value": self.training_job_arn}
        }
        for key, value in (
            ("startedAt", self.started_at),
            ("stoppedAt", self.stopped_at),
            ("statusReason", self.status_reason),
        ):
            if value is not None:
                out[key] = value
        return out


class AttemptSink(Protocol):
    """Where an attempt's outside effects go (SageMaker training job, CloudWatch logs)."""

    def attempt_created(self, job: ServiceJob, attempt: Attempt) -> None: ...
    def attempt_progressed(
        self, job: ServiceJob, attempt: Attempt, status: ServiceJobStatus
    ) -> None: ...
    def attempt_ended(
        self, job: ServiceJob, attempt: Attempt, end: AttemptEnd, reason: str
    ) -> None: ...


class QueueView(Protocol):
    """What a job needs to know about its queue, read live at each transition."""

    def runnable_time_limits(self) -> Sequence[Mapping[str, Any]]: ...


def capacity_usage(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``ResourceConfig`` (InstanceType x InstanceCount, or InstanceGroups) -> capacityUsage."""
    config = payload.get("ResourceConfig")
    if not isinstance(config, Mapping):
        return []
    groups = config.get("InstanceGroups")
    items = groups if isinstance(groups, list) and groups else [config]
    out = []
    for item in items:
        if not isinstance(item, Mapping) or not item.get("InstanceType"):
            continue
        try:
            count = float(item.get("InstanceCount", 1))
        except (TypeError, ValueError):
            count = 1.0
        out.append({"capacityUnit": str(item["InstanceType"]), "quantity": count})
    return out


def training_job_base_name(payload: Mapping[str, Any], job_name: str) -> str:
    """The payload's TrainingJobName (the job name when absent), cut to what fits in 63."""
    base = payload.get("TrainingJobName")
    if not isinstance(base, str) or not base:
        base = job_name
    base = "".join(c for c in base if c.isalnum() or c == "-").strip("-") or "job"
    return base[:PAYLOAD_NAME_MAX].rstrip("-")
