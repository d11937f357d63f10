"""``BatchServiceJobSensor``: wait for a service job and explain how it ended.

Each poke describes the job once and feeds ``core.watch.WaitLoop`` (through
``airflow_batch_service.waiting``): each state change is logged once, with the time spent in
the previous state; each finished attempt once, with its reason, the evaluateOnExit rule that
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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowSensorTimeout
from airflow.sdk import PokeReturnValue

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import (
    BatchServiceJobDetailsLink,
    SageMakerTrainingJobLink,
    TrainingJobLogsLink,
    persist_training_job_links,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.core.verdict import Verdict
    from airflow_batch_service.waiting import SyncJobWait

STATE_KEY_PREFIX = "airflow_batch_service.wait"


class BatchServiceJobSensor(AwsBaseSensor[BatchServiceJobHook]):
    """Wait for an AWS Batch service job to finish, and explain the outcome.

    :param job_id: the jobId (or ARN) to watch, usually ``submit.output`` (templated).
    :param max_runnable_seconds: terminate and fail the job when it waits in RUNNABLE (no
        capacity in the queue's service environment) longer than this. Default: wait.
    :param poke_interval: seconds between describes; transient errors back off beyond it.
    :param timeout: seconds before the sensor gives up (the job keeps running in Batch).
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.

    Works in ``poke`` and ``reschedule`` mode. Killing or timing out the sensor never
    terminates the job: the submitting task owns it (its ``on_kill`` terminates it), and a
    sensor retry simply watches the same job again. Use ``max_runnable_seconds`` to end a job
    that cannot get capacity.
    """

    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    template_fields: Sequence[str] = aws_template_fields("job_id")
    operator_extra_links = (
        BatchServiceJobDetailsLink(),
        SageMakerTrainingJobLink(),
        TrainingJobLogsLink(),
    )

    def __init__(
        self,
        *,
        job_id: str,
        max_runnable_seconds: float | None = None,
        poke_interval: float = 30,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.max_runnable_seconds = max_runnable_seconds
        self._wait: SyncJobWait | None = None
        self._backoff: float = 0.0
        self._links: dict[str, Any] = {}
        self._last_verdict: Verdict | None = None

    # -- state carried between pokes ----------------------------------------------------

    def _state_key(self, context: Context) -> str:
        try_number = getattr(context.get("ti"), "try_number", None)
        return f"{STATE_KEY_PREFIX}:{self.job_id}:{try_number}"

    def _store(self, context: Context) -> Any:
        return context.get("task_state_store") if self.reschedule else None

    def _load_state(self, context: Context) -> dict[str, Any] | None:
        store = self._store(context)
        if store is None:
            return None
        try:
            value = store.get(self._state_key(context))
        except Exception:
            self.log.debug("task_state_store unavailable", exc_info=True)
            return None
        return value if isinstance(value, dict) else None

    def _save_state(self, context: Context, wait: SyncJobWait) -> None:
        store = self._store(context)
        if store is None:
            return
        try:
            store.set(self._state_key(context), wait.state())
        except Exception:
            self.log.debug("could not save the wait state", exc_info=True)

    def _get_wait(self, context: Context) -> SyncJobWait:
        from airflow_batch_service.waiting import SyncJobWait

        if self._wait is None or self._wait.loop.job_id != self.job_id:
            self._wait = SyncJobWait.create(
                self.hook,
                self.job_id,
                log=self.log,
                poll_interval=self.poke_interval,
                max_runnable_seconds=self.max_runnable_seconds,
                state=self._load_state(context),
                on_verdict=lambda verdict: self._on_verdict(context, verdict),
            )
        return self._wait

    def _on_verdict(self, context: Context, verdict: Verdict) -> None:
        """Persist links as soon as they are known (and again after a reschedule cleared
        them), so the UI has them even while the job is still queued."""
        self._last_verdict = verdict
        region, partition = self.hook.conn_region_name, self.hook.conn_partition
        if self._links.get("job") != verdict.job_id:
            self._links["job"] = verdict.job_id
            BatchServiceJobDetailsLink.persist(
                context=context, operator=self, region_name=region, aws_partition=partition,
                job_id=verdict.job_id,
            )
        arn = verdict.latest_training_job_arn
        if arn and self._links.get("training") != arn:
            self._links["training"] = arn
            persist_training_job_links(
                context, self, region_name=region, aws_partition=partition, training_job_arn=arn
            )

    # -- the sensor ---------------------------------------------------------------------

    def poke(self, context: Context) -> bool | PokeReturnValue:
        if not self.job_id or not isinstance(self.job_id, str):
            from airflow.providers.common.compat.sdk import AirflowFailException

            raise AirflowFailException(
                f"job_id is {self.job_id!r}: expected a service jobId or ARN (with "
                "job_id=submit.output, did the submit task return one?)"
            )
        wait = self._get_wait(context)
        step = wait.poll()
        self._backoff = step.sleep if wait.loop.consecutive_errors else 0.0
        self._save_state(context, wait)
        summary = wait.conclude(
            step, terminate_reason_prefix=f"Airflow sensor {self.dag_id}.{self.task_id}: "
        )
        if summary is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=summary)

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        """The base interval, stretched by the wait loop's backoff after transient errors
        (never past ``timeout``)."""
        interval = super()._get_next_poke_interval(started_at, run_duration, poke_count)
        if self._backoff > interval:
            remaining = max(0.0, self.timeout - run_duration())
            interval = min(self._backoff, max(interval, remaining))
        return interval

    def execute(self, context: Context) -> Any:
        try:
            return super().execute(context)
        except AirflowSensorTimeout as err:
            verdict = self._last_verdict
            where = (
                verdict.explain()
                if verdict is not None
                else f"service job {self.job_id} was never seen (no successful describe)"
            )
            message = (
                f"{err} The service job was NOT terminated and keeps running in Batch; "
                f"its state at the last poke:\n{where}"
            )
            self.log.error(message)
            raise AirflowSensorTimeout(message) from err
