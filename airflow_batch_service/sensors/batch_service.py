"""``BatchServiceJobSensor``: wait for a service job and explain how it ended.

Each poke describes the job once and feeds ``core.watch.WaitLoop`` (through
``airflow_batch_service._shared.waiting``): each state change is logged once, with the time spent
in the previous state; each finished attempt once, with its reason, the evaluateOnExit rule that
matched and what Batch does next. Success returns ``Verdict.summary()`` as the XCom value; a
final failure raises ``AirflowFailException`` carrying ``Verdict.explain()``.

Throttling, 5xx, connection errors and a job not yet visible after submit never fail the
task: the poke logs them and returns False, and the next poke comes after a backoff. Only
``timeout`` ends a wait on a job that is still going.

Reschedule mode: each poke runs in a fresh process, so what has been logged already (the
``WatchState``) is carried in ``context["task_state_store"]`` (Airflow 3.3+). XCom cannot
carry it: Airflow clears a task's XComs whenever a rescheduled task starts again. Without a
task state store (Airflow < 3.3) each reschedule poke starts afresh and repeats the current
state once.

Deferrable mode (``deferrable=True``, default ``[operators] default_deferrable``): the first
poke runs on the worker (a finished job ends the task at once, and the links are persisted
before anything is deferred); then the wait moves to ``BatchServiceJobTrigger`` in the
triggerer, carrying the watch state and the deadline, and ``execute_complete`` turns its event
into the same XCom value or exception as a poke.

One timeout: ``timeout`` is wall time since the first poke, in every mode (a deferral carries
it as an absolute deadline). When it passes the sensor fails with ``AirflowSensorTimeout`` (a
skip with ``soft_fail``) and the job is left running: the sensor does not own it.

Training logs (``stream_logs=True``): each poke also copies the new CloudWatch lines of the
latest attempt's training job into the task log, labelled ``[attempt N algo-1]``.

A shell: what it does when it runs lives in ``airflow_batch_service._shared.sensor_flow``, which
each entry point imports when the task runs: every DAG file imports this module, and parsing a
DAG must not load the wait (``tests/provider/test_packaging.py`` checks it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk import PokeReturnValue

from airflow_batch_service._shared.lineage import ServiceJobLineageMixin
from airflow_batch_service._shared.model_asset import model_asset_outlet, with_outlet
from airflow_batch_service.core.event_wait import check_event_settings
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import (
    SERVICE_JOB_LINKS,
    ServiceJobLinks,
    persist_link_placeholders,
)

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from airflow_batch_service._shared.wait_spec import WaitSpec
    from airflow_batch_service.core.logtail import LogTail
    from airflow_batch_service.core.wait import JobWait


class BatchServiceJobSensor(ServiceJobLineageMixin, AwsBaseSensor[BatchServiceJobHook]):
    """Wait for an AWS Batch service job to finish, and explain the outcome.

    :param job_id: the jobId (or ARN) to watch, usually ``submit.output`` (templated).
    :param max_runnable_seconds: terminate and fail the job when it waits in RUNNABLE (no
        capacity in the queue's service environment) longer than this. Default: wait.
    :param poke_interval: seconds between describes; transient errors back off beyond it.
    :param timeout: seconds since the first poke before the sensor gives up, in every mode
        (the job keeps running in Batch).
    :param deferrable: wait in the triggerer (``BatchServiceJobTrigger``) instead of holding a
        worker slot or rescheduling. Default: ``[operators] default_deferrable``.
    :param event_queue: the SQS queue (URL, name or ARN) an EventBridge rule fills with this
        job queue's "Batch Service Job State Change" events: the deferred wait then ends when
        AWS says the job ended, not up to ``poll_interval`` later, and polls only every
        ``reconcile_interval`` (see the events how-to). Default: the ``aws`` connection's
        extra ``service_job_event_queue``, else none; ``False`` reads no events even if the
        connection names a queue. Only deferred waits read events.
    :param reconcile_interval: with events, seconds between the deferred wait's own polls,
        which catch an event that never came (default 300).
    :param stream_logs: copy the latest attempt's training-job log lines into the task log
        (default True).
    :param not_found_grace: seconds a job may be "not found" from the first poke (a job just
        submitted may not be visible yet) before the sensor fails with "service job X does not
        exist", without Airflow retries (default 120).
    :param read_training_result: when the job ends, read its final attempt's training job (one
        ``sagemaker:DescribeTrainingJob``) into the summary's ``trainingJob`` (model artifact,
        final metrics, training and billable seconds) and the ``training_job`` XCom, also when
        it failed. Default True; turn off without that permission (not with ``model_asset``,
        which needs it).
    :param model_asset: the trained model as an Airflow asset, added to the task's ``outlets``
        (beside any given) so that DAGs can be scheduled on it: an ``airflow.sdk.Asset`` or a
        literal URI string (the sensor has no payload: no ``{output_path}``, no ``True``; a
        DAG that uses them fails to parse, naming ``model_asset``). Not templated. When the
        job succeeded and the sensor ends successfully, the asset event's ``extra`` has
        ``job_id``, ``job_arn``, ``job_name``, ``job_queue``, ``status``,
        ``training_job_name``, ``model_uri``, ``final_metrics`` (a non-finite value as None,
        spelled in ``final_metrics_non_finite``), ``billable_seconds`` and ``attempts`` (see
        ``core.model_asset``). Turns ``read_training_result`` on. Default: no asset.
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.

    ``soft_fail=True`` turns a failure or a timeout into a skip whose reason is the same
    explanation (the job's last state, and that it was NOT terminated). ``execution_timeout``
    also bounds a deferred wait (Airflow does not apply it to deferred tasks; the trigger
    does), as ``AirflowTaskTimeout``.

    Works in ``poke``, ``reschedule`` and deferrable mode. Killing or timing out the sensor never
    terminates the job: the submitting task owns it (its ``on_kill`` terminates it), and a
    sensor retry simply watches the same job again. Use ``max_runnable_seconds`` to end a job
    that cannot get capacity.
    """

    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    template_fields: Sequence[str] = aws_template_fields("job_id")
    operator_extra_links = SERVICE_JOB_LINKS

    def __init__(
        self,
        *,
        job_id: str,
        max_runnable_seconds: float | None = None,
        poke_interval: float = 30,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        stream_logs: bool = True,
        not_found_grace: float = 120.0,
        read_training_result: bool = True,
        model_asset: Asset | str | None = None,
        event_queue: str | bool | None = None,
        reconcile_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_event_settings(event_queue, reconcile_interval)
        asset = model_asset_outlet(model_asset, None)  # no payload: no output path
        if asset is not None:
            kwargs["outlets"] = with_outlet(kwargs.get("outlets"), asset)
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.max_runnable_seconds = max_runnable_seconds
        self.deferrable = deferrable
        self.stream_logs = stream_logs
        self.not_found_grace = not_found_grace
        self.model_asset = asset
        self.event_queue = event_queue
        self.reconcile_interval = reconcile_interval
        # The asset event's extra comes from the training result: the asset needs it read.
        self.read_training_result = read_training_result or asset is not None
        self.training_job_result: dict[str, Any] | None = None
        self.service_request_payload_seen: dict[str, Any] | None = None
        self._tail: LogTail | None = None
        self._wait: JobWait | None = None
        self._links: ServiceJobLinks | None = None
        self._backoff: float = 0.0
        self._started_ms: int | None = None

    # -- the sensor (what it does lives in _shared.sensor_flow) ----------------------------

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_batch_service._shared import sensor_flow  # lazy: keeps DAG parsing cheap

        self._links = self._links or ServiceJobLinks(context, self)
        return sensor_flow.poke(self, context)

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        """The base interval, stretched by the wait loop's backoff after transient errors
        (never past ``timeout``)."""
        interval = super()._get_next_poke_interval(started_at, run_duration, poke_count)
        if self._backoff > interval:
            remaining = max(0.0, self.timeout - run_duration())
            interval = min(self._backoff, max(interval, remaining))
        return interval

    def execute(self, context: Context) -> Any:
        self._started_ms = int(time.time() * 1000)  # execution_timeout without a start_date
        from airflow_batch_service._shared import sensor_flow  # lazy: keeps DAG parsing cheap

        # Every execute is a fresh start for the links: a reschedule (in any process model,
        # ``airflow dags test`` reuses this object) cleared the XComs persisted before.
        self._links = None
        persist_link_placeholders(context, self)
        return sensor_flow.execute(self, context, super().execute)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """The trigger's event -> the poke's result: the summary, or the same exception."""
        from airflow_batch_service._shared import sensor_flow  # lazy: keeps DAG parsing cheap

        return sensor_flow.execute_complete(self, context, event, ServiceJobLinks(context, self))

    def _defer_wait(self, spec: WaitSpec, timeout: timedelta | None) -> None:
        """Hand the wait ``spec`` describes to the triggerer (``sensor_flow`` decides when; a
        private module may not import the trigger, the shell may)."""
        from airflow_batch_service.triggers.batch_service import (  # lazy: keeps DAG parsing cheap
            BatchServiceJobTrigger,
        )

        self.defer(
            trigger=BatchServiceJobTrigger.from_spec(spec),
            method_name="execute_complete",
            timeout=timeout,
        )
