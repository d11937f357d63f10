"""How a wait ended, and how the task ends for it: data in, one decision out. No I/O.

:class:`WaitOutcome` is what every wait mode produces (a poke, the operator's own wait, the
trigger) and what a deferred wait hands back as its event (:meth:`WaitOutcome.to_event` /
:meth:`WaitOutcome.from_event`); :func:`ending` is the one rule that maps it to the task's end,
which the shell turns into Airflow's exception. Kept apart from the wait's rules
(``core.wait``) because a task's ``execute_complete`` needs only this half.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from airflow_batch_service.core.limits import EXECUTION_TIMEOUT
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.strict_json import strict_json

#: Event statuses (``WaitOutcome.status``).
SUCCESS, FAILED, ERROR, TIMEOUT = "success", "failed", "error", "timeout"

#: Failures a fresh submission may get past: Batch gave up without the user's say-so.
RESUBMITTABLE_CAUSES = frozenset(
    {Cause.ATTEMPTS_EXHAUSTED.value, Cause.TIMED_OUT.value, Cause.PREEMPTION_LIMIT.value, "unknown"}
)


@dataclass(frozen=True)
class WaitOutcome:
    """How a wait ended, as data: what a trigger yields and what a task's end acts on.

    ``terminate_reason`` is set while the job still has to be terminated (stuck in RUNNABLE,
    the owner's deadline); ``terminated`` records how that went.
    """

    status: str
    job_id: str
    message: str
    summary: dict[str, Any] | None = None
    training_job_arn: str | None = None
    terminate_reason: str | None = None
    terminated: str | None = None
    #: For a job Batch failed: ``Verdict.cause`` (``core.retry.Cause`` value) or "unknown";
    #: ``"not_found"`` for a job that does not exist.
    cause: str | None = None
    #: The job's statusReason at the end (who terminated it, which attempt failed how).
    status_reason: str | None = None
    #: Which limit ended the wait (``EXECUTION_TIMEOUT``, ``WAIT_TIMEOUT``, ``SENSOR_TIMEOUT``).
    timeout: str | None = None
    #: The state transitions the wait observed (``WatchState.transitions``).
    timeline: tuple[dict[str, Any], ...] = ()
    job_name: str | None = None
    #: What the final attempt's training job produced (``core.training_result``), or None.
    training_job: dict[str, Any] | None = None
    #: The job's ``serviceRequestPayload`` as last described (lineage reads its S3 inputs).
    payload: str | None = None

    def to_event(self) -> dict[str, Any]:
        """The JSON-able event (a trigger's payload); no pending termination in it. Strict
        JSON (``core.strict_json``): Airflow stores it as the task's ``next_kwargs``, and
        PostgreSQL refuses NaN, infinities and NUL characters there."""
        event = asdict(self)
        event.pop("terminate_reason")
        event["timeline"] = list(self.timeline)
        return strict_json(event)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> WaitOutcome:
        known = {f.name for f in fields(cls)} - {"terminate_reason"}
        values = {k: v for k, v in event.items() if k in known}
        values["timeline"] = tuple(values.get("timeline") or ())
        values.setdefault("status", ERROR)
        values.setdefault("job_id", "")
        values.setdefault("message", f"unexpected wait event {dict(event)!r}")
        return cls(**values)

    def replaced(self, **changes: Any) -> WaitOutcome:
        """This outcome with ``changes`` (the timeline kept as a tuple)."""
        values = asdict(self)
        values.update(timeline=self.timeline)
        values.update(changes)
        return WaitOutcome(**values)


class Ending(StrEnum):
    """What the task does with an outcome (the shell maps each to Airflow's exception)."""

    RETURN = "return"  # succeeded: return the summary
    FAIL = "fail"  # final: AirflowFailException, no Airflow retry
    RETRY = "retry"  # AirflowException: Airflow may retry (an operator's retry resubmits)
    SENSOR_TIMEOUT = "sensor_timeout"  # AirflowSensorTimeout: the job keeps running
    TASK_TIMEOUT = "task_timeout"  # AirflowTaskTimeout: execution_timeout, as on a worker


RESUBMIT_NOTE = (
    "Batch gave up on this job without an EXIT rule: if the task has retries left, Airflow "
    "retries it and the retry submits a new job."
)


def ending(outcome: WaitOutcome, *, resubmit_on_retry: bool = False) -> tuple[Ending, str]:
    """How the task ends for ``outcome``, and the message to end it with.

    - success: return the summary;
    - ``execution_timeout`` passed: a task timeout (retryable, as Airflow's own);
    - failed: final, since a sensor's retry would re-watch a job Batch gave up on, an EXIT rule
      is the user saying the failure is final, a terminated job was stopped on purpose and a
      job that does not exist will not appear. Except with ``resubmit_on_retry`` (the
      operator, whose retry submits a new job): attempts exhausted, an attempt timeout or the
      preemption limit are retryable, so the task's own ``retries`` get a fresh job;
    - the sensor's timeout: the job keeps running;
    - an error (a fatal AWS error while waiting): retryable.
    """
    message = outcome.message
    if outcome.status == SUCCESS and outcome.summary is not None:
        return Ending.RETURN, message
    if outcome.timeout == EXECUTION_TIMEOUT:
        return Ending.TASK_TIMEOUT, message
    if outcome.status == FAILED:
        if resubmit_on_retry and not outcome.terminated and outcome.cause in RESUBMITTABLE_CAUSES:
            return Ending.RETRY, f"{message}\n{RESUBMIT_NOTE}"
        return Ending.FAIL, message
    if outcome.status == TIMEOUT:
        return Ending.SENSOR_TIMEOUT, message
    return Ending.RETRY, message or f"unexpected wait outcome {outcome!r}"
