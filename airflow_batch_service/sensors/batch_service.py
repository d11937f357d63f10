"""``BatchServiceJobSensor``: wait for a service job and explain how it ended.

Each poke describes the job once and feeds ``core.watch.WaitLoop`` (through
``airflow_batch_service._shared.waiting``): each state change is logged once, with the time spent in
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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    conf,
)
from airflow.sdk import PokeReturnValue

from airflow_batch_service._shared.lineage import ServiceJobLineageMixin
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import (
    SERVICE_JOB_LINKS,
    ServiceJobLinks,
    persist_link_placeholders,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.core.logtail import LogTail
    from airflow_batch_service.core.wait import JobWait, Limit, WaitOutcome

STATE_KEY_PREFIX = "airflow_batch_service.wait"


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
    :param stream_logs: copy the latest attempt's training-job log lines into the task log
        (default True).
    :param not_found_grace: seconds a job may be "not found" from the first poke (a job just
        submitted may not be visible yet) before the sensor fails with "service job X does not
        exist", without Airflow retries (default 120).
    :param read_training_result: when the job ends, read its final attempt's training job (one
        ``sagemaker:DescribeTrainingJob``) into the summary's ``trainingJob`` (model artifact,
        final metrics, training and billable seconds) and the ``training_job`` XCom, also when
        it failed. Default True; turn off without that permission.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.max_runnable_seconds = max_runnable_seconds
        self.deferrable = deferrable
        self.stream_logs = stream_logs
        self.not_found_grace = not_found_grace
        self.read_training_result = read_training_result
        self.training_job_result: dict[str, Any] | None = None
        self.service_request_payload_seen: dict[str, Any] | None = None
        self._tail: LogTail | None = None
        self._wait: JobWait | None = None
        self._links: ServiceJobLinks | None = None
        self._backoff: float = 0.0
        self._started_ms: int | None = None

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

    def _save_state(self, context: Context, wait: JobWait) -> None:
        store = self._store(context)
        if store is None:
            return
        state = wait.state()
        if self._tail is not None:
            state["logs"] = self._tail.to_dict()
        try:
            store.set(self._state_key(context), state)
        except Exception:
            self.log.debug("could not save the wait state", exc_info=True)

    def _get_wait(self, context: Context) -> JobWait:
        from airflow_batch_service.core.logtail import LogTail
        from airflow_batch_service.core.wait import JobWait

        if self._wait is None or self._wait.job_id != self.job_id:
            state = self._load_state(context)
            self._tail = LogTail.from_dict((state or {}).get("logs")) if self.stream_logs else None
            self._wait = JobWait.create(
                self.job_id,
                poll_interval=self.poke_interval,
                max_runnable_seconds=self.max_runnable_seconds,
                state=state,
                not_found_grace=self.not_found_grace,
                terminate_reason_prefix=f"Airflow sensor {self.dag_id}.{self.task_id}: ",
                read_training_result=self.read_training_result,
            )
        return self._wait

    # -- the sensor ---------------------------------------------------------------------

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_batch_service._shared.waiting import now_ms, run
        from airflow_batch_service.core.wait import wait_flow

        if not self.job_id or not isinstance(self.job_id, str):
            raise AirflowFailException(
                f"job_id is {self.job_id!r}: expected a service jobId or ARN (with "
                "job_id=submit.output, did the submit task return one?)"
            )
        wait = self._get_wait(context)
        links = self._links or ServiceJobLinks(context, self)
        self._links = links
        flow = wait_flow(wait, clock=now_ms, tail=self._tail, once=True)
        outcome = run(flow, self.hook, self.log, on_seen=links.seen)
        step = wait.last_step
        self._backoff = step.sleep if step is not None and wait.loop.consecutive_errors else 0.0
        self._save_state(context, wait)
        if outcome is None:
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._end(context, outcome))

    def _end(self, context: Context, outcome: WaitOutcome) -> Any:
        """Record what the wait found (timeline, training result, payload), then end."""
        import json

        from airflow_batch_service._shared.waiting import (
            finish,
            push_timeline,
            record_training_result,
        )

        push_timeline(context, self, [outcome])
        self.training_job_result = record_training_result(context, self, outcome)
        if outcome.payload:
            try:
                self.service_request_payload_seen = json.loads(outcome.payload)
            except ValueError:
                self.service_request_payload_seen = None
        return finish(outcome, self.log)

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        """The base interval, stretched by the wait loop's backoff after transient errors
        (never past ``timeout``)."""
        interval = super()._get_next_poke_interval(started_at, run_duration, poke_count)
        if self._backoff > interval:
            remaining = max(0.0, self.timeout - run_duration())
            interval = min(self._backoff, max(interval, remaining))
        return interval

    def execute(self, context: Context) -> Any:
        from airflow_batch_service._shared.waiting import now_ms

        self._started_ms = now_ms()  # execution_timeout counts from here without a start_date
        # Every execute is a fresh start for the links: a reschedule (in any process model,
        # ``airflow dags test`` reuses this object) cleared the XComs persisted before.
        self._links = None
        persist_link_placeholders(context, self)
        try:
            if self.deferrable:
                return self._execute_deferrable(context)
            return super().execute(context)
        except AirflowFailException as err:
            if not (self.soft_fail or getattr(self, "never_fail", False)):
                raise
            self.log.warning("Skipping (soft_fail): %s", err)
            raise AirflowSkipException(str(err)) from err
        except AirflowSensorTimeout as err:
            message = self._timeout_explanation(str(err))
            self.log.error(message)
            raise AirflowSensorTimeout(message) from err
        except AirflowSkipException as err:
            if not (self.soft_fail or getattr(self, "never_fail", False)):
                raise
            # BaseSensorOperator's skip carries "Sensor has timed out" or "Skipping due to
            # soft_fail": give it the explanation the failure would have had.
            cause = err.__cause__
            message = (
                str(cause)
                if cause is not None and str(cause)
                else (self._timeout_explanation(str(err)))
            )
            self.log.warning("Skipping (soft_fail): %s", message)
            raise AirflowSkipException(message) from err

    def _timeout_explanation(self, what: str) -> str:
        from airflow_batch_service.core.errors import ErrorKind
        from airflow_batch_service.core.wait import timeout_message

        wait = self._wait
        verdict = wait.last_verdict if wait is not None else None
        never_found = (
            verdict is None and wait is not None and wait.loop.last_error is ErrorKind.NOT_FOUND
        )
        return timeout_message(
            str(self.job_id), verdict, terminates=False, what=what, not_found=never_found
        )

    # -- deferrable -----------------------------------------------------------------------

    def _execute_deferrable(self, context: Context) -> Any:
        """One poke here (links persisted, a finished job ends at once), then defer."""
        from airflow_batch_service._shared.waiting import defer

        result = self.poke(context)
        if isinstance(result, PokeReturnValue) and result.is_done:
            return result.xcom_value
        wait = self._get_wait(context)
        defer(
            self,
            job_id=self.job_id,
            limit=self._limit(context, wait.loop.started_ms or 0),
            owns_job=False,
            poll_interval=self.poke_interval,
            max_runnable_seconds=self.max_runnable_seconds,
            state=wait.state(),
            terminate_reason_prefix=wait.terminate_reason_prefix,
            stream_logs=self.stream_logs,
            log_state=self._tail.to_dict() if self._tail is not None else None,
            not_found_grace=self.not_found_grace,
            read_training_result=self.read_training_result,
        )

    def _limit(self, context: Context, started_ms: int) -> Limit | None:
        """The nearer of ``timeout`` (from the first poke) and what is left of
        ``execution_timeout`` (Airflow does not apply it to a deferred task)."""
        from airflow_batch_service._shared.waiting import execution_limit
        from airflow_batch_service.core.wait import SENSOR_TIMEOUT, Limit, nearest

        timeout = Limit(
            started_ms + int(self.timeout * 1000),
            SENSOR_TIMEOUT,
            f"Sensor has timed out: the job did not finish within timeout={self.timeout:g}s.",
            f"timeout={self.timeout:g}s",
        )
        return nearest([timeout, execution_limit(self, context)])

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """The trigger's event -> the poke's result: the summary, or the same exception."""
        from airflow_batch_service.core.wait import SUCCESS, WaitOutcome

        outcome = WaitOutcome.from_event(event or {})
        ServiceJobLinks(context, self).training(outcome.training_job_arn)
        if outcome.status != SUCCESS and self.soft_fail:
            # The same explanation as the failure, as the skip's reason (not Airflow's bare
            # "Skipping due to soft_fail").
            self.log.warning("Skipping (soft_fail): %s", outcome.message)
            raise AirflowSkipException(outcome.message)
        return self._end(context, outcome)
