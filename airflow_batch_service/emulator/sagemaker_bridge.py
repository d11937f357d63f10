"""The SageMaker side of an attempt: a training job in moto's SageMaker backend whose status
follows the attempt, and a CloudWatch Logs stream with a few lines per attempt.

So log streaming, console links and DescribeTrainingJob can be tested for real against the
emulator. moto creates training jobs "Completed" at once; we set the status it reports.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from moto.logs.models import logs_backends
from moto.sagemaker.models import sagemaker_backends

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.emulator.jobs import Attempt, AttemptEnd, ServiceJob

#: TrainingJobStatus / SecondaryStatus while the job is in each Batch state.
_PROGRESS = {
    ServiceJobStatus.SCHEDULED: ("InProgress", "Starting"),
    ServiceJobStatus.STARTING: ("InProgress", "Downloading"),
    ServiceJobStatus.RUNNING: ("InProgress", "Training"),
}


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def log_stream_name(attempt: Attempt) -> str:
    return f"{attempt.training_job_name}/algo-1-{int(attempt.created)}"


class SageMakerBridge:
    """The ``jobs.AttemptSink`` the backend hands to every job it advances."""

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
        output = {
            "S3OutputPath": "s3://airflow-batch-service-emulator/output",
            **(payload.get("OutputDataConfig") or {}),
        }
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
        self._set_status(created, "InProgress", "Starting")

    def attempt_progressed(
        self, job: ServiceJob, attempt: Attempt, status: ServiceJobStatus
    ) -> None:
        tj = self._training_job(job, attempt)
        if tj is not None and status in _PROGRESS:
            self._set_status(tj, *_PROGRESS[status])
            if status is ServiceJobStatus.RUNNING and attempt.run_started is not None:
                tj.training_start_time = _dt(attempt.run_started)
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
            if attempt.stopped_at is not None:
                tj.training_end_time = tj.last_modified_time = _dt(attempt.stopped_at / 1000)
            if end is AttemptEnd.FAILED:
                tj.failure_reason = reason
        self._log(job, attempt, f"[emulator] {end.value} - {reason}")

    @staticmethod
    def _set_status(training_job: Any, status: str, secondary: str) -> None:
        training_job.training_job_status = status
        training_job.secondary_status = secondary
