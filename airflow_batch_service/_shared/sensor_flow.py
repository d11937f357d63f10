"""What ``BatchServiceJobSensor`` does when it runs: poke (one describe through the one wait),
carry the wait state between reschedule pokes, defer, and end with the same explanation in
every mode, ``soft_fail`` and timeouts included.

The sensor's entry points (``execute``, ``poke``, ``execute_complete``) import this module
when a task runs, one lazy import each: every DAG file imports the sensor, and parsing a DAG
must not load the wait that this module imports (``tests/provider/test_packaging.py`` checks
it). Private glue may not import the shells, so the sensor hands in what only a shell has: its
links (``task._links``, a ``ServiceJobLinks``), ``BaseSensorOperator.execute`` and its trigger
(``task._defer_wait``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)
from airflow.sdk import PokeReturnValue

from airflow_batch_service._shared import waiting
from airflow_batch_service._shared.task_end import end_task
from airflow_batch_service._shared.wait_spec import WaitSpec
from airflow_batch_service.core.limits import SENSOR_TIMEOUT, Limit, deadline, nearest
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.strict_json import strict_json
from airflow_batch_service.core.wait import SUCCESS, JobWait, WaitOutcome, wait_flow

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.links.batch_service import ServiceJobLinks
    from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor as Sensor

#: Where a reschedule-mode sensor keeps its wait state in the task state store.
STATE_KEY_PREFIX = "airflow_batch_service.wait"


def execute(task: Sensor, context: Context, run_sensor: Callable[[Context], Any]) -> Any:
    """Poke (``run_sensor``: ``BaseSensorOperator.execute``) or, deferrable, poke once and
    defer; a failure or a timeout explained, and a skip with ``soft_fail`` carrying the same
    explanation. The link placeholders are persisted already (the sensor does it)."""
    try:
        if task.deferrable:
            return _execute_deferrable(task, context)
        return run_sensor(context)
    except AirflowFailException as err:
        if not (task.soft_fail or getattr(task, "never_fail", False)):
            raise
        task.log.warning("Skipping (soft_fail): %s", err)
        raise AirflowSkipException(str(err)) from err
    except AirflowSensorTimeout as err:
        message = timeout_explanation(task, context, str(err))
        task.log.error(message)
        raise AirflowSensorTimeout(message) from err
    except AirflowSkipException as err:
        if not (task.soft_fail or getattr(task, "never_fail", False)):
            raise
        # BaseSensorOperator's skip carries "Sensor has timed out" or "Skipping due to
        # soft_fail": give it the explanation the failure would have had.
        cause = err.__cause__
        message = (
            str(cause)
            if cause is not None and str(cause)
            else timeout_explanation(task, context, str(err))
        )
        task.log.warning("Skipping (soft_fail): %s", message)
        raise AirflowSkipException(message) from err


def poke(task: Sensor, context: Context) -> bool | PokeReturnValue:
    """One describe (and what follows it: logs, queue standing, the end) through the wait."""
    if not task.job_id or not isinstance(task.job_id, str):
        raise AirflowFailException(
            f"job_id is {task.job_id!r}: expected a service jobId or ARN (with "
            "job_id=submit.output, did the submit task return one?)"
        )
    wait = get_wait(task, context)
    links = task._links
    flow = wait_flow(wait, clock=waiting.now_ms, tail=task._tail, once=True)
    outcome = waiting.run(flow, task.hook, task.log, on_seen=links.seen if links else None)
    step = wait.last_step
    task._backoff = step.sleep if step is not None and wait.loop.consecutive_errors else 0.0
    _save_state(task, context, wait)
    if outcome is None:
        return False
    return PokeReturnValue(is_done=True, xcom_value=_end(task, context, outcome))


def execute_complete(
    task: Sensor, context: Context, event: Mapping[str, Any] | None, links: ServiceJobLinks
) -> Any:
    """The trigger's event -> the poke's result: the summary, or the same exception."""
    outcome = WaitOutcome.from_event(event or {})
    links.training(outcome.training_job_arn)
    if outcome.status != SUCCESS and task.soft_fail:
        # The same explanation as the failure, as the skip's reason (not Airflow's bare
        # "Skipping due to soft_fail").
        task.log.warning("Skipping (soft_fail): %s", outcome.message)
        raise AirflowSkipException(outcome.message)
    return _end(task, context, outcome)


def _end(task: Sensor, context: Context, outcome: WaitOutcome) -> Any:
    """Record what the wait found (payload, timeline, training result), then end."""
    if outcome.payload:
        try:
            task.service_request_payload_seen = json.loads(outcome.payload)
        except ValueError:
            task.service_request_payload_seen = None
    return end_task(context, task, [outcome])


def timeout_explanation(task: Sensor, context: Context, what: str) -> str:
    """Airflow's timeout of a poking sensor (``what``: its message), explained as every
    timeout is: ``JobWait.timeout_explanation``."""
    return get_wait(task, context).timeout_explanation(what)


# -- the wait, and its state carried between pokes ----------------------------------------


def wait_spec(
    task: Sensor,
    *,
    state: Mapping[str, Any] | None,
    limit: Limit | None = None,
    log_state: Mapping[str, Any] | None = None,
) -> WaitSpec:
    """The sensor's wait on the job, poked or in the triggerer: it does not own the job."""
    return waiting.task_spec(
        task,
        limit=limit,
        owns_job=False,
        job_id=task.job_id,
        poll_interval=task.poke_interval,
        max_runnable_seconds=task.max_runnable_seconds,
        state=state,
        terminate_reason_prefix=f"Airflow sensor {task.dag_id}.{task.task_id}: ",
        stream_logs=task.stream_logs,
        log_state=log_state,
        not_found_grace=task.not_found_grace,
        read_training_result=task.read_training_result,
    )


def get_wait(task: Sensor, context: Context) -> JobWait:
    """The sensor's wait: kept across pokes in one process, resumed from the task state store
    in a fresh one (reschedule mode)."""
    if task._wait is None or task._wait.job_id != task.job_id:
        state = _load_state(task, context)
        logs = (state or {}).get("logs")
        task._tail = LogTail.from_dict(logs) if task.stream_logs else None
        task._wait = waiting.job_wait(wait_spec(task, state=state))
    return task._wait


def _state_key(task: Sensor, context: Context) -> str:
    try_number = getattr(context.get("ti"), "try_number", None)
    return f"{STATE_KEY_PREFIX}:{task.job_id}:{try_number}"


def _store(task: Sensor, context: Context) -> Any:
    return context.get("task_state_store") if task.reschedule else None


def _load_state(task: Sensor, context: Context) -> dict[str, Any] | None:
    store = _store(task, context)
    if store is None:
        return None
    try:
        value = store.get(_state_key(task, context))
    except Exception:
        task.log.debug("task_state_store unavailable", exc_info=True)
        return None
    return value if isinstance(value, dict) else None


def _save_state(task: Sensor, context: Context, wait: JobWait) -> None:
    store = _store(task, context)
    if store is None:
        return
    state = wait.state()
    if task._tail is not None:
        state["logs"] = task._tail.to_dict()
    try:  # strict JSON: the store is a database column, and the state holds AWS's reasons
        store.set(_state_key(task, context), strict_json(state))
    except Exception:
        task.log.debug("could not save the wait state", exc_info=True)


# -- deferrable ---------------------------------------------------------------------------


def _execute_deferrable(task: Sensor, context: Context) -> Any:
    """One poke here (links persisted, a finished job ends at once), then defer."""
    result = task.poke(context)
    if isinstance(result, PokeReturnValue) and result.is_done:
        return result.xcom_value
    wait = get_wait(task, context)
    spec = wait_spec(
        task,
        state=wait.state(),
        limit=wait_limit(task, context, wait.loop.started_ms or 0),
        log_state=task._tail.to_dict() if task._tail is not None else None,
    )
    waiting.defer(task, spec)


def wait_limit(task: Sensor, context: Context, started_ms: int) -> Limit | None:
    """The nearer of ``timeout`` (from the first poke) and what is left of
    ``execution_timeout`` (Airflow does not apply it to a deferred task)."""
    timeout = deadline(SENSOR_TIMEOUT, started_ms, task.timeout)
    return nearest([timeout, waiting.execution_limit(task, context)])
