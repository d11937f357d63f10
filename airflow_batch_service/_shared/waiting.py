"""The wait's two drivers, and how a wait ends a task: the I/O half of ``core.wait``.

``core.wait.wait_flow`` is the whole wait as a generator of requests. :func:`run` steps it with
blocking calls on a hook (a sensor's poke, the operator's own wait); :func:`arun` steps the
same flow with the hook's ``async`` twins (the trigger). They are written side by side and do
the same four things in the same order, like httpx's ``Client`` and ``AsyncClient``; neither
holds a rule. :func:`finish` turns the outcome (or a deferred wait's event) into the task's
result or Airflow exception, the same for every mode; :func:`defer` hands a wait to the
triggerer with its backstop timeout, the same for the operator and the sensor.
"""

from __future__ import annotations

import asyncio
import marshal
import time
from collections.abc import Callable, Generator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_batch_service.core.wait import (
    Call,
    Ending,
    Failed,
    Limit,
    Log,
    Request,
    Seen,
    Sleep,
    WaitOutcome,
    ending,
)

if TYPE_CHECKING:
    from airflow_batch_service.core.verdict import Verdict
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

Flow = Generator[Request, Any, "WaitOutcome | None"]


def now_ms() -> int:
    return int(time.time() * 1000)


def _failed(hook: BatchServiceJobHook, exc: Exception) -> Failed:
    from airflow_batch_service.core.errors import classify_exception

    mapped = classify_exception(exc)
    if mapped is None:
        raise exc  # a bug: fail loudly, never poll around it
    return Failed(*mapped)


def run(
    flow: Flow,
    hook: BatchServiceJobHook,
    log: Any,
    *,
    on_seen: Callable[[Verdict], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome | None:
    """Step ``flow`` with blocking calls until it returns."""
    reply: Any = None
    try:
        while True:
            request = flow.send(reply)
            reply = None
            if isinstance(request, Call):
                try:
                    reply = getattr(hook, request.method)(**request.kwargs)
                except Exception as exc:
                    reply = _failed(hook, exc)
            elif isinstance(request, Sleep):
                sleep(request.seconds)
            elif isinstance(request, Log):
                getattr(log, request.level)("%s", request.message)
            elif isinstance(request, Seen) and on_seen is not None:
                on_seen(request.verdict)
    except StopIteration as stop:
        return stop.value


async def arun(
    flow: Flow,
    hook: BatchServiceJobHook,
    log: Any,
    *,
    on_seen: Callable[[Verdict], None] | None = None,
    share_polls: float | None = None,
) -> WaitOutcome | None:
    """Step ``flow`` with the hook's async twins until it returns.

    ``share_polls`` (the poll interval; the trigger's): share one listing round per queue with
    the process's other waits (``coalesce``): a describe whose job the last round shows
    unchanged is answered with the previous describe, and a sleep ends when a round completes.
    """
    reply: Any = None
    shared = _SharedPolls(hook, share_polls) if share_polls else None
    try:
        while True:
            request = flow.send(reply)
            reply = None
            if isinstance(request, Call):
                reply = shared.cached(request) if shared is not None else None
                if reply is None:
                    try:
                        reply = await getattr(hook, f"a{request.method}")(**request.kwargs)
                    except Exception as exc:
                        reply = _failed(hook, exc)
                    if shared is not None:
                        shared.described(request, reply)
            elif isinstance(request, Sleep):
                if shared is not None and shared.active:
                    await shared.next_round(request.seconds)
                else:
                    await asyncio.sleep(request.seconds)
            elif isinstance(request, Log):
                getattr(log, request.level)("%s", request.message)
            elif isinstance(request, Seen) and on_seen is not None:
                on_seen(request.verdict)
    except StopIteration as stop:
        return stop.value
    finally:
        if shared is not None:
            shared.leave()


_NOT_KEPT = frozenset({"serviceRequestPayload", "tags", "capacityUsage"})


class _SharedPolls:
    """One wait's side of ``coalesce.QueueWatch``: its last describe and its watch."""

    def __init__(self, hook: BatchServiceJobHook, interval: float) -> None:
        self.hook, self.interval = hook, interval
        self.watch: Any = None
        self.job_id: str | None = None
        self.last: bytes | None = None  # the last describe, marshalled (see described())
        self.key: tuple[Any, ...] | None = None

    @property
    def active(self) -> bool:
        return self.watch is not None and self.watch.active

    def cached(self, request: Call) -> dict[str, Any] | None:
        if request.method != "describe_service_job" or self.watch is None or self.last is None:
            return None
        if not self.watch.unchanged(self.job_id, self.key):
            return None
        return marshal.loads(self.last)  # a fresh copy each time, as a describe would be

    def described(self, request: Call, reply: Any) -> None:
        from airflow_batch_service._shared.coalesce import watch_for
        from airflow_batch_service.core.sweep import summary_key

        if request.method != "describe_service_job" or not isinstance(reply, Mapping):
            return
        # Keep only what the flow reads again: not the payload (JobWait kept it already), not the
        # tags; and keep it as one marshalled bytes object (0.37 KiB for a RUNNABLE job's,
        # measured) rather than a tree of dicts and strings (1.38 KiB): at a thousand waits
        # every KiB kept per wait counts, and reading it back costs microseconds once per
        # interval. (A describe holds only JSON types, which marshal takes; anything else and
        # the wait simply describes again.)
        try:
            self.last = marshal.dumps({k: v for k, v in reply.items() if k not in _NOT_KEPT})
        except ValueError:
            self.last = None
        self.key = summary_key(reply)
        if self.watch is None and reply.get("jobQueue"):
            self.job_id = str(request.kwargs.get("job_id"))
            self.watch = watch_for(self.hook, str(reply["jobQueue"]), self.interval)
            self.watch.join(self.job_id)

    async def next_round(self, timeout: float) -> None:
        await self.watch.next_round(timeout)

    def leave(self) -> None:
        if self.watch is not None and self.job_id is not None:
            self.watch.leave(self.job_id)


# -------------------------------------------------------------------------- the task's end


def task_timeout_error(message: str) -> BaseException:
    """``AirflowTaskTimeout`` (what a worker raises at ``execution_timeout``) with ``message``."""
    try:
        from airflow.sdk.exceptions import AirflowTaskTimeout
    except ImportError:  # Airflow 3.0
        from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef]
    return AirflowTaskTimeout(message)


def finish(
    outcome: WaitOutcome | Mapping[str, Any], log: Any, *, resubmit_on_retry: bool = False
) -> dict[str, Any]:
    """The task's result for a wait's outcome (or a trigger's event): the summary on success;
    otherwise the exception ``core.wait.ending`` names, with the explanation logged first."""
    from airflow.providers.common.compat.sdk import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
    )

    if not isinstance(outcome, WaitOutcome):
        outcome = WaitOutcome.from_event(outcome)
    how, message = ending(outcome, resubmit_on_retry=resubmit_on_retry)
    if how is Ending.RETURN:
        return dict(outcome.summary or {})
    log.error(outcome.message)
    if how is Ending.TASK_TIMEOUT:
        raise task_timeout_error(message)
    if how is Ending.FAIL:
        raise AirflowFailException(message)
    if how is Ending.SENSOR_TIMEOUT:
        raise AirflowSensorTimeout(message)
    raise AirflowException(message)


# -------------------------------------------------------------------------- deferring


def connection_args(task: Any) -> dict[str, Any]:
    """A task's connection arguments (the amazon provider's ``AwsHookParams``), for its trigger."""
    from airflow.providers.amazon.aws.utils.mixins import AwsHookParams

    return AwsHookParams(
        task.aws_conn_id, task.region_name, task.verify, task.botocore_config
    )._asdict()


def backstop(limit: Limit | None, poll_interval: float) -> timedelta | None:
    """Airflow's deferral timeout for a wait ending at ``limit``: only a backstop, a little
    after it, should the trigger never report (the trigger ends itself on time)."""
    if limit is None:
        return None
    remaining = max(0.0, (limit.at_ms - now_ms()) / 1000)
    return timedelta(seconds=remaining + max(60.0, 2 * poll_interval))


def defer(
    task: Any, *, job_id: str, limit: Limit | None, owns_job: bool, **trigger_args: Any
) -> None:
    """Hand the wait on ``job_id`` to the triggerer, saying which time limit applies.

    ``owns_job``: the task terminates the job at the limit and on a kill (the operator), or
    leaves it running (the sensor). ``trigger_args`` are ``BatchServiceJobTrigger``'s.
    """
    from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

    fate = (
        "the job is terminated and the task fails"
        if owns_job
        else ("the task fails and the job is left running (this task does not own it)")
    )
    if limit is None:
        task.log.info(
            "Deferring the wait on service job %s to the triggerer: no time limit applies; it "
            "lasts until the job ends",
            job_id,
        )
    else:
        task.log.info(
            "Deferring the wait on service job %s to the triggerer: %s applies, %.0fs from now; "
            "when it passes %s",
            job_id,
            limit.label,
            max(0.0, (limit.at_ms - now_ms()) / 1000),
            fate,
        )
    trigger = BatchServiceJobTrigger(
        job_id=job_id,
        **connection_args(task),
        deadline_ms=limit.at_ms if limit else None,
        timeout_kind=limit.kind if limit else None,
        timeout_what=limit.what if limit else "",
        terminate_on_timeout=owns_job,
        terminate_on_kill=owns_job,
        **trigger_args,
    )
    task.defer(
        trigger=trigger,
        method_name="execute_complete",
        timeout=backstop(limit, float(trigger_args.get("poll_interval", 30))),
    )


def execution_limit(task: Any, context: Mapping[str, Any]) -> Limit | None:
    """What is left of the task's ``execution_timeout``, as a limit from the try's start (the
    task instance's ``start_date``, else when ``execute`` began), or None without one."""
    from airflow_batch_service.core.wait import execution_limit as limit_from

    timeout = getattr(task, "execution_timeout", None)
    if timeout is None:
        return None
    start = getattr(context.get("ti"), "start_date", None)
    if start is not None and hasattr(start, "timestamp"):
        start_ms = int(start.timestamp() * 1000)
    else:
        start_ms = getattr(task, "_started_ms", None) or now_ms()
    return limit_from(start_ms, timeout.total_seconds(), str(timeout))


#: XCom key of the state transitions a task's waits observed (the UI's timeline reads it).
TIMELINE_KEY = "batch_service_timeline"


def push_timeline(context: Mapping[str, Any], task: Any, outcomes: list[WaitOutcome]) -> None:
    """Push what the waits of this try saw of each job: ``[{jobId, jobName, transitions}]``.

    The describe response has no intermediate transition times; this is their only record.
    """
    if not getattr(task, "do_xcom_push", True) or not outcomes:
        return
    value = [
        {"jobId": o.job_id, "jobName": o.job_name, "transitions": list(o.timeline)}
        for o in outcomes
    ]
    try:
        context["ti"].xcom_push(key=TIMELINE_KEY, value=value)
    except Exception:  # a timeline is never worth failing the task for
        task.log.debug("could not push the timeline", exc_info=True)


#: XCom key of what the final attempt's training job produced (``core.training_result``).
TRAINING_JOB_KEY = "training_job"


def record_training_result(
    context: Mapping[str, Any], task: Any, outcome: WaitOutcome
) -> dict[str, Any] | None:
    """Push the outcome's training result (if read) as the ``training_job`` XCom; return it."""
    result = outcome.training_job
    if result is not None and getattr(task, "do_xcom_push", True):
        try:
            context["ti"].xcom_push(key=TRAINING_JOB_KEY, value=result)
        except Exception:
            task.log.debug("could not push the training result", exc_info=True)
    return result
