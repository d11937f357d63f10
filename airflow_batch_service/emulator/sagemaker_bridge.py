"""The SageMaker side of an attempt: a training job in moto's SageMaker backend whose status
follows the attempt, and a CloudWatch Logs stream with a few lines per attempt.

So log streaming, console links and DescribeTrainingJob can be tested for real against the
emulator. moto creates training jobs "Completed" at once, with a made-up metric and ``{}``
for every unset structure; we set what SageMaker would report instead: the status, the
times, ``SecondaryStatusTransitions``, ``FinalMetricDataList`` (the scenario's ``metrics``)
once the attempt ended, ``TrainingTimeInSeconds``/``BillableTimeInSeconds``, and nothing for
what the payload did not set.

An attempt whose payload runs a Python script from an input channel (``container``: how a
``@task.batch_service`` function travels) also starts it for real when it enters RUNNING
(``function_runs``, unless the setting ``run_functions`` is off): its lines go to the attempt's
log stream, its archives to S3 (``function_s3``), and its exit re-times the job
(``on_function_exit``). Whatever ends the attempt first (terminate, preemption, time-out)
kills it.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.logs.models import logs_backends
from moto.sagemaker.models import sagemaker_backends

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.emulator import container, function_s3
from airflow_batch_service.emulator.attempts import Attempt, AttemptEnd
from airflow_batch_service.emulator.function_runs import RUNS, FunctionRun, RunHooks
from airflow_batch_service.emulator.jobs import ServiceJob
from airflow_batch_service.emulator.settings import STATE_LOCK, settings

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


def output_data_config(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's ``OutputDataConfig``, with the emulator's default ``S3OutputPath``."""
    return {"S3OutputPath": DEFAULT_OUTPUT_PATH, **(payload.get("OutputDataConfig") or {})}


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

    def __init__(self, on_function_exit: Callable[[ServiceJob], None] | None = None) -> None:
        self._progress: dict[str, _Progress] = {}  # by training job name
        #: Re-times a job whose function exited (called holding the state lock).
        self._on_function_exit = on_function_exit

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
        output = output_data_config(payload)
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
        if status is ServiceJobStatus.RUNNING:
            self._start_function(job, attempt)

    # ---------------------------------------------------------- function runs
    def _start_function(self, job: ServiceJob, attempt: Attempt) -> None:
        """Run the job's ``@task.batch_service`` function (its script) for real, if any."""
        script = container.script_job(job.payload)
        if script is None or not settings().run_functions:
            return
        self._log(
            job,
            attempt,
            f"[emulator] running {' '.join(script.argv)} locally, from {script.uri}, with "
            "this Python and its packages (not the training image)",
        )
        run = RUNS.register(job.job_id, attempt.training_job_name)
        attempt.function = run
        RUNS.launch(run, script, job.payload, self._function_hooks(job, attempt))

    def _function_hooks(self, job: ServiceJob, attempt: Attempt) -> RunHooks:
        output_path = str(output_data_config(job.payload)["S3OutputPath"])
        base = model_artifacts_uri(output_path, attempt.training_job_name).rpartition("/")[0]

        def upload(archives: Mapping[str, bytes]) -> None:
            objects = {f"{base}/{name}": data for name, data in archives.items()}
            function_s3.write_objects(job.account_id, objects)

        def exited(run: FunctionRun) -> None:
            with STATE_LOCK:
                if job.current is not attempt or attempt.function is not run:
                    return  # the attempt ended another way meanwhile
                run.exited_at = settings().clock.now()
                if self._on_function_exit is not None:
                    self._on_function_exit(job)

        return RunHooks(
            fetch=lambda uri: function_s3.read_prefix(job.account_id, uri),
            log=lambda line: self._log(job, attempt, line),
            upload=upload,
            exited=exited,
        )

    def attempt_ended(
        self, job: ServiceJob, attempt: Attempt, end: AttemptEnd, reason: str
    ) -> None:
        if isinstance(attempt.function, FunctionRun):
            RUNS.kill(attempt.function)  # a no-op once it exited by itself
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
