"""The SageMaker side of an attempt: a training job in moto's SageMaker backend whose status
follows the attempt, and a CloudWatch Logs stream with a few lines per attempt.

So log streaming, console links and DescribeTrainingJob can be tested for real against the
emulator. moto creates training jobs "Completed" at once, with a made-up metric and ``{}``
for every unset structure; we set what SageMaker would report instead: the status, the
times, ``SecondaryStatusTransitions``, ``FinalMetricDataList`` (the scenario's ``metrics``)
once the attempt ended, ``TrainingTimeInSeconds``/``BillableTimeInSeconds``, and nothing for
what the payload did not set.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.logs.models import logs_backends
from moto.sagemaker.models import sagemaker_backends

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.emulator.attempts import Attempt, AttemptEnd
from airflow_batch_service.emulator.jobs import ServiceJob

#: TrainingJobStatus / SecondaryStatus while the job is in each Batch state.
_PROGRESS = {
    ServiceJobStatus.SCHEDULED: ("InProgress", "Starting"),
    ServiceJobStatus.STARTING: ("InProgress", "Downloading"),
    ServiceJobStatus.RUNNING: ("InProgress", "Training"),
}


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


#: SageMaker's StatusMessage for each SecondaryStatus (as DescribeTrainingJob words them).
STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopped": "Training job stopped",
}

#: moto attributes that hold ``{}`` / ``[]`` when the request did not set them; SageMaker
#: leaves such members out of DescribeTrainingJob (the SDK's shapes choke on empty ones).
_OPTIONAL_ATTRIBUTES = (
    "hyper_parameters",
    "input_data_config",
    "vpc_config",
    "checkpoint_config",
    "debug_hook_config",
    "debug_rule_configurations",
    "tensor_board_output_config",
    "experiment_config",
)

DEFAULT_OUTPUT_PATH = "s3://airflow-batch-service-emulator/output"


def log_stream_name(attempt: Attempt) -> str:
    return f"{attempt.training_job_name}/algo-1-{int(attempt.created)}"


def model_artifacts_uri(output_path: str, training_job_name: str) -> str:
    """Where SageMaker puts the model: ``<S3OutputPath>/<training job name>/output/model.tar.gz``."""
    return f"{output_path.rstrip('/')}/{training_job_name}/output/model.tar.gz"


@dataclass
class _Progress:
    """What the bridge remembers of one training job between lifecycle calls."""

    metrics: tuple[tuple[str, float], ...] = ()
    transitions: list[dict[str, Any]] = field(default_factory=list)

    def enter(self, status: str, at: float, message: str | None = None) -> None:
        if self.transitions and "EndTime" not in self.transitions[-1]:
            self.transitions[-1]["EndTime"] = _dt(at)
        self.transitions.append(
            {
                "Status": status,
                "StartTime": _dt(at),
                "StatusMessage": message or STATUS_MESSAGES.get(status, status),
            }
        )


class SageMakerBridge:
    """The ``attempts.AttemptSink`` the backend hands to every job it advances."""

    def __init__(self) -> None:
        self._progress: dict[str, _Progress] = {}  # by training job name

    def _sagemaker(self, job: ServiceJob) -> Any:
        return sagemaker_backends[job.account_id][job.region]

    def _logs(self, job: ServiceJob) -> Any:
        return logs_backends[job.account_id][job.region]

    def _training_job(self, job: ServiceJob, attempt: Attempt) -> Any:
        return self._sagemaker(job).training_jobs.get(attempt.training_job_name)

    def _log(self, job: ServiceJob, attempt: Attempt, *lines: str) -> None:
        # Real wall time: CloudWatch (and moto) refuse events more than 2 h ahead or 14 d old,
        # and a test's advanced emulator clock can be either.
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines]
        with contextlib.suppress(Exception):
            self._logs(job).put_log_events(LOG_GROUP, log_stream_name(attempt), events)

    def attempt_created(self, job: ServiceJob, attempt: Attempt) -> None:
        try:
            self._create_training_job(job, attempt)
        except Exception:
            return
        logs = self._logs(job)
        if LOG_GROUP not in logs.groups:
            logs.create_log_group(LOG_GROUP, {})
        logs.ensure_log_stream(LOG_GROUP, log_stream_name(attempt))
        self._log(
            job,
            attempt,
            f"[emulator] training job {attempt.training_job_name} created for service job "
            f"{job.job_name} ({job.job_id})",
            "[emulator] Starting - Preparing the instances for training",
        )

    def _create_training_job(self, job: ServiceJob, attempt: Attempt) -> None:
        payload = job.payload
        output = {"S3OutputPath": DEFAULT_OUTPUT_PATH, **(payload.get("OutputDataConfig") or {})}
        created = self._sagemaker(job).create_training_job(
            training_job_name=attempt.training_job_name,
            hyper_parameters=payload.get("HyperParameters") or {},
            algorithm_specification=dict(payload.get("AlgorithmSpecification") or {}),
            role_arn=payload.get("RoleArn") or f"arn:aws:iam::{job.account_id}:role/emulator",
            input_data_config=payload.get("InputDataConfig") or [],
            output_data_config=output,
            resource_config=payload.get("ResourceConfig") or {},
            vpc_config=payload.get("VpcConfig") or {},
            stopping_condition=payload.get("StoppingCondition") or {},
            tags=payload.get("Tags") or [],
            enable_network_isolation=bool(payload.get("EnableNetworkIsolation", False)),
            enable_inter_container_traffic_encryption=bool(
                payload.get("EnableInterContainerTrafficEncryption", False)
            ),
            enable_managed_spot_training=bool(payload.get("EnableManagedSpotTraining", False)),
            checkpoint_config=payload.get("CheckpointConfig") or {},
            debug_hook_config=payload.get("DebugHookConfig") or {},
            debug_rule_configurations=payload.get("DebugRuleConfigurations") or [],
            tensor_board_output_config=payload.get("TensorBoardOutputConfig") or {},
            experiment_config=payload.get("ExperimentConfig") or {},
        )
        attempt.training_job_arn = created.arn
        created.creation_time = created.last_modified_time = _dt(attempt.created)
        created.training_start_time = created.training_end_time = None
        # moto adds a metric definition and a final metric of its own; report the payload's.
        created.algorithm_specification = (
            copy.deepcopy(payload.get("AlgorithmSpecification")) or None
        )
        created.final_metric_data_list = None
        created.model_artifacts = {
            "S3ModelArtifacts": model_artifacts_uri(
                str(output["S3OutputPath"]), attempt.training_job_name
            )
        }
        for name in _OPTIONAL_ATTRIBUTES:
            if not getattr(created, name, None):
                setattr(created, name, None)
        progress = self._progress[attempt.training_job_name] = _Progress(
            metrics=tuple(job.step.metrics)
        )
        progress.enter("Starting", attempt.created)
        created.secondary_status_transitions = progress.transitions
        self._set_status(created, "InProgress", "Starting")

    def attempt_progressed(
        self, job: ServiceJob, attempt: Attempt, status: ServiceJobStatus
    ) -> None:
        tj = self._training_job(job, attempt)
        if tj is not None and status in _PROGRESS:
            self._set_status(tj, *_PROGRESS[status])
            at = job.entered
            if status is ServiceJobStatus.RUNNING and attempt.run_started is not None:
                tj.training_start_time = _dt(attempt.run_started)
                at = attempt.run_started
            tj.last_modified_time = _dt(at)
            progress = self._progress.get(attempt.training_job_name)
            if progress is not None:
                progress.enter(_PROGRESS[status][1], at)
        lines = {
            ServiceJobStatus.STARTING: "[emulator] Downloading - Downloading input data",
            ServiceJobStatus.RUNNING: "[emulator] Training - Training image download completed. Training in progress.",
        }
        if status in lines:
            self._log(job, attempt, lines[status])

    def attempt_ended(
        self, job: ServiceJob, attempt: Attempt, end: AttemptEnd, reason: str
    ) -> None:
        tj = self._training_job(job, attempt)
        if tj is not None:
            self._set_status(tj, end.value, end.value)
            ended = attempt.stopped_at / 1000 if attempt.stopped_at is not None else job.entered
            tj.training_end_time = tj.last_modified_time = _dt(ended)
            if end is AttemptEnd.FAILED:
                tj.failure_reason = reason
            # Billed from the start of training (an attempt stopped before it has 0 s).
            trained = (
                max(0, round(ended - attempt.run_started)) if attempt.run_started is not None else 0
            )
            tj.training_time_in_seconds = tj.billable_time_in_seconds = trained
            progress = self._progress.get(attempt.training_job_name)
            if progress is not None:
                if end is AttemptEnd.COMPLETED:
                    progress.enter("Uploading", ended)
                message = (
                    f"Training job failed. Reason: {reason}" if end is AttemptEnd.FAILED else None
                )
                progress.enter(end.value, ended, message)
                progress.transitions[-1]["EndTime"] = _dt(ended)
                if progress.metrics:
                    tj.final_metric_data_list = [
                        {"MetricName": name, "Value": value, "Timestamp": _dt(ended)}
                        for name, value in progress.metrics
                    ]
        self._log(job, attempt, f"[emulator] {end.value} - {reason}")

    @staticmethod
    def _set_status(training_job: Any, status: str, secondary: str) -> None:
        training_job.training_job_status = status
        training_job.secondary_status = secondary
