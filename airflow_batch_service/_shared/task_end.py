"""How a wait ends its task, the same in every mode: what the waits saw goes to XCom, and the
outcome (or a deferred wait's event) becomes the task's result or Airflow exception.

Everything this hands to Airflow's database (the timeline and training-result XComs, the
summary a task returns or pushes) is strict JSON (``core.strict_json``): PostgreSQL refuses
NaN, infinities and NUL characters, which a diverged metric or an AWS reason can carry.

:func:`finish` raises the exception ``core.outcome.ending`` names; :func:`end_task` records the
timeline and the training result first. The operator's and the sensor's flows
(``_shared.submit_flow``, ``_shared.sensor_flow``) end through :func:`end_task`, a poke, their
own wait and a deferred wait's ``execute_complete`` alike. A task with ``model_asset`` also
gets its asset event's extra there, once the outcome is known to end the task successfully
(``_shared.model_asset``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
)

from airflow_batch_service._shared.model_asset import record_asset_event
from airflow_batch_service.core.outcome import Ending, WaitOutcome, ending
from airflow_batch_service.core.strict_json import strict_json

try:
    from airflow.sdk.exceptions import AirflowTaskTimeout
except ImportError:  # Airflow 3.0
    from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef]


def task_timeout_error(message: str) -> BaseException:
    """``AirflowTaskTimeout`` (what a worker raises at ``execution_timeout``) with ``message``."""
    return AirflowTaskTimeout(message)


def finish(
    outcome: WaitOutcome | Mapping[str, Any], log: Any, *, resubmit_on_retry: bool = False
) -> dict[str, Any]:
    """The task's result for a wait's outcome (or a trigger's event): the summary (strict
    JSON) on success; otherwise the exception ``core.wait.ending`` names, with the
    explanation logged first."""
    if not isinstance(outcome, WaitOutcome):
        outcome = WaitOutcome.from_event(outcome)
    how, message = ending(outcome, resubmit_on_retry=resubmit_on_retry)
    if how is Ending.RETURN:
        return dict(strict_json(outcome.summary or {}))
    log.error(outcome.message)
    if how is Ending.TASK_TIMEOUT:
        raise task_timeout_error(message)
    if how is Ending.FAIL:
        raise AirflowFailException(message)
    if how is Ending.SENSOR_TIMEOUT:
        raise AirflowSensorTimeout(message)
    raise AirflowException(message)


#: XCom key of the state transitions a task's waits observed (the UI's timeline reads it).
TIMELINE_KEY = "batch_service_timeline"


def push_timeline(context: Mapping[str, Any], task: Any, outcomes: list[WaitOutcome]) -> None:
    """Push what the waits of this try saw of each job: ``[{jobId, jobName, transitions}]``.

    The describe response has no intermediate transition times; this is their only record.
    """
    if not getattr(task, "do_xcom_push", True) or not outcomes:
        return
    value = strict_json(
        [
            {"jobId": o.job_id, "jobName": o.job_name, "transitions": list(o.timeline)}
            for o in outcomes
        ]
    )
    try:
        context["ti"].xcom_push(key=TIMELINE_KEY, value=value)
    except Exception:  # a timeline is never worth failing the task for
        task.log.debug("could not push the timeline", exc_info=True)


def end_task(
    context: Mapping[str, Any],
    task: Any,
    outcomes: list[WaitOutcome],
    *,
    resubmit_on_retry: bool = False,
) -> dict[str, Any]:
    """End a task's waits: push the timeline and the last outcome's training result (also to
    ``task.training_job_result``, which lineage reads), then :func:`finish` with it; on
    success, the model asset event's extra (``_shared.model_asset``)."""
    push_timeline(context, task, outcomes)
    task.training_job_result = record_training_result(context, task, outcomes[-1])
    summary = finish(outcomes[-1], task.log, resubmit_on_retry=resubmit_on_retry)
    record_asset_event(context, task, outcomes[-1])  # only reached when the task succeeds
    return summary


#: XCom key of what the final attempt's training job produced (``core.training_result``).
TRAINING_JOB_KEY = "training_job"


def record_training_result(
    context: Mapping[str, Any], task: Any, outcome: WaitOutcome
) -> dict[str, Any] | None:
    """Push the outcome's training result (if read, as strict JSON) as the ``training_job``
    XCom; return it."""
    result = strict_json(outcome.training_job)
    if result is not None and getattr(task, "do_xcom_push", True):
        try:
            context["ti"].xcom_push(key=TRAINING_JOB_KEY, value=result)
        except Exception:
            task.log.debug("could not push the training result", exc_info=True)
    return result
