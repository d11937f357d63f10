"""The job wait's I/O half: how its calls reach the hook (in the triggerer, through the shared
listing round), and its handover to the triggerer; the rules are ``core.wait``'s.

``core.wait.wait_flow`` is the whole wait as a generator of requests. :func:`run` steps it with
blocking calls on a hook (a sensor's poke, the operator's own wait); :func:`arun` steps the
same flow with the hook's ``async`` twins (the trigger, through :func:`wait_deferred`). Both
are the shared drivers of ``_shared.drivers`` given how a call reaches the hook (and, in the
triggerer, the shared listing round): neither holds a rule. :func:`job_wait` builds the
wait a ``WaitSpec`` describes, for every mode; :func:`defer` hands a wait to the triggerer with
its backstop timeout, the same for the operator and the sensor. How a wait ends its task is
``_shared.task_end``'s (``finish`` and ``task_timeout_error`` are importable from here too).

Imported only when a task runs (by ``_shared.submit_flow`` and ``_shared.sensor_flow``) or a
trigger runs: never at DAG parse time.
"""

from __future__ import annotations

import asyncio
import marshal
import time
from collections.abc import Callable, Generator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import AwsHookParams

from airflow_batch_service._shared import drivers
from airflow_batch_service._shared.coalesce import QueueWatch, watch_for
from airflow_batch_service._shared.event_wake import JobEvents
from airflow_batch_service._shared.task_end import finish as finish  # re-exported
from airflow_batch_service._shared.task_end import task_timeout_error as task_timeout_error
from airflow_batch_service._shared.wait_spec import WaitSpec
from airflow_batch_service.core.errors import classify_exception
from airflow_batch_service.core.limits import EXECUTION_TIMEOUT, Limit, deadline
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.sweep import summary_key
from airflow_batch_service.core.wait import (
    Call,
    Failed,
    JobWait,
    Request,
    WaitOutcome,
    wait_flow,
)

if TYPE_CHECKING:
    from airflow_batch_service.core.verdict import Verdict
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

Flow = Generator[Request, Any, "WaitOutcome | None"]


def now_ms() -> int:
    return int(time.time() * 1000)


# -------------------------------------------------------------------------- the drivers


def job_wait(spec: WaitSpec, *, started_ms: int | None = None, deferred: bool = False) -> JobWait:
    """The wait ``spec`` describes, resuming from its state (a deferral, a reschedule poke).
    Only a ``deferred`` wait (in the triggerer) reads events, so only it polls at the
    reconciliation interval; after an error it still backs off from ``poll_interval`` (the
    throttled first describes of a triggerer that starts a thousand waits must not retry
    minutes later, when the endings that need confirming have come)."""
    return JobWait.create(
        spec.job_id,
        poll_interval=spec.wait_interval if deferred else spec.poll_interval,
        error_interval=spec.poll_interval,
        max_runnable_seconds=spec.max_runnable_seconds,
        state=spec.state,
        started_ms=started_ms,
        not_found_grace=spec.not_found_grace,
        limit=spec.limit,
        terminate_on_timeout=spec.terminate_on_timeout,
        terminate_reason_prefix=spec.terminate_reason_prefix,
        read_training_result=spec.read_training_result,
    )


def _failed(exc: Exception) -> Failed:
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
    """Step ``flow`` with the hook's blocking calls until it returns."""

    def call(request: Call) -> Any:
        try:
            return getattr(hook, request.method)(**request.kwargs)
        except Exception as exc:
            return _failed(exc)

    return drivers.run(flow, call, log, on_seen=on_seen, sleep=sleep)


async def arun(
    flow: Flow,
    hook: BatchServiceJobHook,
    log: Any,
    *,
    on_seen: Callable[[Verdict], None] | None = None,
    share_polls: float | None = None,
    events: JobEvents | None = None,
) -> WaitOutcome | None:
    """Step ``flow`` with the hook's async twins until it returns.

    ``share_polls`` (the poll interval; the trigger's): share one listing round per queue with
    the process's other waits (``coalesce``): a describe whose job the last round shows
    unchanged is answered with the previous describe, and a sleep ends when a round completes.
    ``events``: the job's state-change events (``event_wake``) also end a sleep; one that
    says the job moved on answers the next describe, one that says it ended forces a describe.
    While their queue cannot be read, sleeps last at most ``events.poll_interval`` and only a
    round that recent answers a describe.
    """
    shared = _SharedPolls(hook, share_polls) if share_polls else None

    async def call(request: Call) -> Any:
        reply: Any = None
        woke = events.take() if events is not None and _is_describe(request) else None
        if woke is not None:
            _, reply, note = woke  # an event that ended the job leaves reply None: describe
            if note:
                log.info("%s", note)
        elif shared is not None:
            max_age = None if events is None or events.healthy else 1.5 * events.poll_interval
            reply = shared.cached(request, max_age)
            if reply is not None:
                return reply  # the round shows the job as the wait last saw it
        if reply is None:
            try:
                reply = await getattr(hook, f"a{request.method}")(**request.kwargs)
            except Exception as exc:
                reply = _failed(exc)
        if shared is not None:
            shared.described(request, reply)
        if events is not None and _is_describe(request):
            events.saw(reply)
        return reply

    async def sleep(seconds: float) -> None:
        watch = shared.watch if shared is not None and shared.active else None
        if events is not None:
            if not events.healthy:
                seconds = min(seconds, events.poll_interval)
            await events.sleep(seconds, watch)
        elif watch is not None:
            await watch.next_round(seconds)
        else:
            await asyncio.sleep(seconds)

    try:
        return await drivers.arun(flow, call, log, on_seen=on_seen, sleep=sleep)
    finally:
        if shared is not None:
            shared.leave()
        if events is not None:
            events.close()


def _is_describe(request: Call) -> bool:
    return request.method == "describe_service_job"


async def wait_deferred(spec: WaitSpec, hook: BatchServiceJobHook, log: Any) -> WaitOutcome:
    """The trigger's wait: ``spec``'s wait stepped by :func:`arun`, sharing its polls."""
    tail = LogTail.from_dict(spec.log_state) if spec.stream_logs else None
    flow = wait_flow(job_wait(spec, deferred=True), clock=now_ms, tail=tail)
    events = None
    if spec.event_queue:
        events = JobEvents(hook, spec.event_queue, spec.job_id, spec.poll_interval)
        log.info(
            "Service job %s: woken by its state-change events from %s; reconciliation poll "
            "every %gs",
            spec.job_id,
            spec.event_queue,
            spec.wait_interval,
        )
    outcome = await arun(flow, hook, log, share_polls=spec.wait_interval, events=events)
    assert outcome is not None  # the flow runs until the wait ends
    return outcome


_NOT_KEPT = frozenset({"serviceRequestPayload", "tags", "capacityUsage"})


class _SharedPolls:
    """One wait's side of ``coalesce.QueueWatch``: its last describe and its watch."""

    def __init__(self, hook: BatchServiceJobHook, interval: float) -> None:
        self.hook, self.interval = hook, interval
        self.watch: QueueWatch | None = None
        self.job_id: str | None = None
        self.last: bytes | None = None  # the last describe, marshalled (see described())
        self.key: tuple[Any, ...] | None = None

    @property
    def active(self) -> bool:
        return self.watch is not None and self.watch.active

    def cached(self, request: Call, max_age: float | None = None) -> dict[str, Any] | None:
        if request.method != "describe_service_job" or self.last is None:
            return None
        if self.watch is None or self.job_id is None:
            return None
        if not self.watch.unchanged(self.job_id, self.key, max_age):
            return None
        return marshal.loads(self.last)  # a fresh copy each time, as a describe would be

    def described(self, request: Call, reply: Any) -> None:
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
            self.watch = watch_for(self.hook, str(reply["jobQueue"]))
            self.watch.join(self.job_id, self.interval)

    async def next_round(self, timeout: float) -> None:
        assert self.watch is not None  # only while active
        await self.watch.next_round(timeout)

    def leave(self) -> None:
        if self.watch is not None and self.job_id is not None:
            self.watch.leave(self.job_id)


# -------------------------------------------------------------------------- deferring


def connection_args(task: Any) -> dict[str, Any]:
    """A task's connection arguments (the amazon provider's ``AwsHookParams``), for its trigger."""
    return AwsHookParams(
        task.aws_conn_id, task.region_name, task.verify, task.botocore_config
    )._asdict()


def backstop(limit: Limit | None, poll_interval: float) -> timedelta | None:
    """Airflow's deferral timeout for a wait ending at ``limit``: only a backstop, a little
    after it, should the trigger never report (the trigger ends itself on time)."""
    if limit is None:
        return None
    return timedelta(seconds=limit.remaining(now_ms()) + max(60.0, 2 * poll_interval))


#: The ``aws`` connection's extra naming the SQS queue of the service-job events.
EVENT_QUEUE_EXTRA = "service_job_event_queue"


def task_spec(task: Any, *, limit: Limit | None, owns_job: bool, **wait: Any) -> WaitSpec:
    """``task``'s wait (``WaitSpec.for_task``), with the task's connection arguments and
    where its events come from (:func:`event_queue`)."""
    wait.setdefault("event_queue", event_queue(task))
    wait.setdefault("reconcile_interval", getattr(task, "reconcile_interval", None))
    return WaitSpec.for_task(connection_args(task), limit=limit, owns_job=owns_job, **wait)


def event_queue(task: Any) -> str | None:
    """The SQS queue the task's deferred wait reads events from: the task's ``event_queue``
    (``False`` turns events off), else its connection's extra ``service_job_event_queue``,
    else none (the wait polls)."""
    chosen = getattr(task, "event_queue", None)
    if chosen is False:
        return None
    if chosen:
        return str(chosen)
    try:
        extra = task.hook.conn_config.extra_config
    except Exception:  # no such connection: the hook's own calls say so, not this lookup
        return None
    value = extra.get(EVENT_QUEUE_EXTRA) if isinstance(extra, Mapping) else None
    return str(value) if value else None


def defer(task: Any, spec: WaitSpec) -> None:
    """Hand the wait ``spec`` describes to the triggerer, saying which time limit applies.

    The task builds its trigger (``task._defer_wait``: only a shell may import the trigger)
    and defers with Airflow's backstop timeout. What Airflow stores of it is the trigger's
    kwargs, ``spec.to_kwargs()``: strict JSON (``core.strict_json``).
    """
    limit = spec.limit
    if limit is None:
        task.log.info(
            "Deferring the wait on service job %s to the triggerer: no time limit applies; it "
            "lasts until the job ends",
            spec.job_id,
        )
    else:
        fate = (
            "the job is terminated and the task fails"
            if spec.terminate_on_timeout
            else ("the task fails and the job is left running (this task does not own it)")
        )
        task.log.info(
            "Deferring the wait on service job %s to the triggerer: %s applies, %.0fs from "
            "now; when it passes %s",
            spec.job_id,
            limit.label,
            limit.remaining(now_ms()),
            fate,
        )
    task._defer_wait(spec, backstop(limit, spec.poll_interval))


def execution_limit(task: Any, context: Mapping[str, Any]) -> Limit | None:
    """What is left of the task's ``execution_timeout``, as a limit from the try's start (the
    task instance's ``start_date``, else when ``execute`` began), or None without one."""
    timeout = getattr(task, "execution_timeout", None)
    if timeout is None:
        return None
    start = getattr(context.get("ti"), "start_date", None)
    if start is not None and hasattr(start, "timestamp"):
        start_ms = int(start.timestamp() * 1000)
    else:
        start_ms = getattr(task, "_started_ms", None) or now_ms()
    return deadline(EXECUTION_TIMEOUT, start_ms, timeout.total_seconds(), str(timeout))
