"""The wait on one service job: its rules, and the one flow every wait mode runs. No I/O.

Rules first (the h11 way: state and decisions, no sockets). :class:`JobWait` adds to
``core.watch.WaitLoop`` what ending a wait takes: the deadline (the one timeout concept),
what a finished step means (:class:`WaitOutcome`), whether the job must be terminated first, the
words of a timeout, and the event a deferred wait hands back (:meth:`WaitOutcome.to_event` /
:meth:`WaitOutcome.from_event`). Everything takes ``now`` as an argument and returns messages
instead of logging them.

Then the flow (the httpx ``Auth.auth_flow`` way: one generator, stepped by two drivers).
:func:`wait_flow` yields what it needs done: :class:`Call` a hook method, :class:`Sleep`,
:class:`Log` a line, :class:`Seen` a fresh verdict (the shell persists links); the driver does
it and sends back the answer, or :class:`Failed` when the call raised an AWS error. The sync
driver (a sensor's poke, the operator's own wait) and the async driver (the trigger) live side
by side in ``airflow_batch_service._shared.waiting``; neither holds a rule.

Timeouts: a wait has one deadline, a :class:`Limit` at an absolute epoch-ms instant (a deferral
carries it unchanged). Several limits may apply (``wait_timeout``, the sensor's ``timeout``,
``execution_timeout``); :func:`nearest` picks the one that ends the wait. What happens to the
job then depends only on who owns it: the operator terminates it, the sensor leaves it running.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.standing import READ_INTERVAL_SECONDS, standing
from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.core.training_result import training_result
from airflow_batch_service.core.verdict import Verdict, format_duration, training_job_name
from airflow_batch_service.core.watch import JobWatcher, PollPolicy, Step, WaitLoop, WatchState

#: Event statuses (``WaitOutcome.status``).
SUCCESS, FAILED, ERROR, TIMEOUT = "success", "failed", "error", "timeout"
#: ``WaitOutcome.timeout`` values: which limit ended the wait.
EXECUTION_TIMEOUT, WAIT_TIMEOUT, SENSOR_TIMEOUT = "execution_timeout", "wait_timeout", "timeout"
#: Seconds a job may be "not found" right after its submit before it "does not exist".
NOT_FOUND_GRACE = 120.0
#: GetLogEvents pages read per stream per read: a chatty job catches up over a few reads.
MAX_LOG_PAGES = 10

#: Failures a fresh submission may get past: Batch gave up without the user's say-so.
RESUBMITTABLE_CAUSES = frozenset(
    {Cause.ATTEMPTS_EXHAUSTED.value, Cause.TIMED_OUT.value, Cause.PREEMPTION_LIMIT.value, "unknown"}
)


# ------------------------------------------------------------------------------ outcome


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
        """The JSON-able event (a trigger's payload); no pending termination in it."""
        event = asdict(self)
        event.pop("terminate_reason")
        event["timeline"] = list(self.timeline)
        return event

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> WaitOutcome:
        known = {f.name for f in fields(cls)} - {"terminate_reason"}
        values = {k: v for k, v in event.items() if k in known}
        values["timeline"] = tuple(values.get("timeline") or ())
        values.setdefault("status", ERROR)
        values.setdefault("job_id", "")
        values.setdefault("message", f"unexpected wait event {dict(event)!r}")
        return cls(**values)


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


def timeout_message(
    job_id: str,
    verdict: Verdict | None,
    *,
    terminates: bool,
    what: str,
    not_found: bool = False,
) -> str:
    """The one wording of a wait timeout, for every mode.

    ``not_found``: every describe said the job does not exist, so nothing is "still running".
    """
    if verdict is None and not_found:
        return (
            f"{what} Service job {job_id} was never found: every DescribeServiceJob answered "
            "that it does not exist (check the job id and the connection's region)."
        )
    where = (
        verdict.explain()
        if verdict is not None
        else f"service job {job_id} was never seen (no successful describe)"
    )
    # The owner's shell terminates the job and appends how that went to the first line.
    fate = "" if terminates else " The service job was NOT terminated and keeps running in Batch."
    return f"{what}{fate}\nIts state at the last poll:\n{where}"


# ------------------------------------------------------------------------------ limits


@dataclass(frozen=True)
class Limit:
    """One time limit of a wait: the instant it passes, which one it is, and its words."""

    at_ms: int
    kind: str
    what: str  # the timeout message's first sentence
    label: str = ""  # how the user set it: "execution_timeout=0:00:08", "wait_timeout=5s"


def nearest(limits: Iterable[Limit | None]) -> Limit | None:
    """The limit that passes first (ties: the first given), or None without any."""
    given = [limit for limit in limits if limit is not None]
    return min(given, key=lambda limit: limit.at_ms) if given else None


def execution_limit(start_ms: int, timeout_seconds: float, text: str) -> Limit:
    """``execution_timeout`` as a limit: from the try's start. ``text`` is how the user wrote it."""
    return Limit(
        start_ms + int(timeout_seconds * 1000),
        EXECUTION_TIMEOUT,
        f"The task exceeded execution_timeout={text}.",
        f"execution_timeout={text}",
    )


# ------------------------------------------------------------------------------ rules


@dataclass(slots=True)
class JobWait:
    """Everything about waiting on one job except the I/O (module doc).

    ``limit`` is the wait's deadline (or None); ``terminate_on_timeout`` says whether its owner
    terminates the job when it passes (the operator) or leaves it (the sensor).
    """

    loop: WaitLoop
    limit: Limit | None = None
    terminate_on_timeout: bool = False
    terminate_reason_prefix: str = ""
    last_verdict: Verdict | None = None
    last_step: Step | None = None
    #: Read the final attempt's training job when the wait ends (DescribeTrainingJob, once).
    read_training_result: bool = False
    payload: str | None = None

    @classmethod
    def create(
        cls,
        job_id: str,
        *,
        poll_interval: float,
        max_runnable_seconds: float | None = None,
        state: Mapping[str, Any] | None = None,
        started_ms: int | None = None,
        not_found_grace: float | None = None,
        limit: Limit | None = None,
        terminate_on_timeout: bool = False,
        terminate_reason_prefix: str = "",
        read_training_result: bool = False,
    ) -> JobWait:
        """A wait, resuming from :meth:`state` (a reschedule poke, a deferral)."""
        state = state or {}
        watcher = JobWatcher(
            max_runnable_seconds=max_runnable_seconds,
            state=WatchState.from_dict(state.get("watch")),
        )
        policy = PollPolicy(
            interval=poll_interval,
            max_backoff=max(poll_interval, 300.0),
            not_found_grace=NOT_FOUND_GRACE if not_found_grace is None else not_found_grace,
        )
        loop = WaitLoop(
            job_id,
            policy=policy,
            watcher=watcher,
            started_ms=state.get("started_ms", started_ms),
            consecutive_errors=int(state.get("errors", 0)),
        )
        return cls(
            loop,
            limit,
            terminate_on_timeout,
            terminate_reason_prefix,
            read_training_result=read_training_result,
        )

    @property
    def job_id(self) -> str:
        return self.loop.job_id

    def state(self) -> dict[str, Any]:
        """JSON-able wait state: what was logged already, when the wait began, error streak."""
        return {
            "watch": self.loop.watcher.state.to_dict(),
            "started_ms": self.loop.started_ms,
            "errors": self.loop.consecutive_errors,
        }

    @property
    def timeline(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.loop.watcher.state.transitions)

    def begin(self, now_ms: int) -> None:
        if self.loop.started_ms is None:
            self.loop.started_ms = now_ms

    def on_response(self, describe: Mapping[str, Any], now_ms: int) -> Step:
        payload = describe.get("serviceRequestPayload")
        self.payload = payload if isinstance(payload, str) else self.payload
        step = self.last_step = self.loop.on_response(describe, now_ms)
        if step.verdict is not None:
            self.last_verdict = step.verdict
        return step

    def on_error(self, kind: ErrorKind, message: str, now_ms: int) -> Step:
        step = self.last_step = self.loop.on_error(kind, message, now_ms)
        return step

    def remaining(self, now_ms: int) -> float | None:
        """Seconds left before the deadline (never negative), or None without one."""
        if self.limit is None:
            return None
        return max(0.0, (self.limit.at_ms - now_ms) / 1000)

    def sleep_for(self, step: Step, now_ms: int) -> float:
        """The step's sleep, never past the deadline (so the timeout is honoured on time)."""
        remaining = self.remaining(now_ms)
        return step.sleep if remaining is None else min(step.sleep, remaining)

    def outcome(self, step: Step, now_ms: int) -> WaitOutcome | None:
        """None while the wait goes on; otherwise how it ended (termination still to do)."""
        outcome = self._outcome(step, now_ms)
        if outcome is None:
            return outcome
        values = asdict(outcome)
        values.update(timeline=outcome.timeline, payload=self.payload)
        if self.last_verdict is not None:
            values.update(job_name=self.last_verdict.job_name)
        return WaitOutcome(**values)

    def with_training_result(self, outcome: WaitOutcome, result: dict[str, Any]) -> WaitOutcome:
        """``outcome`` carrying what the training job produced (in the summary too)."""
        values = asdict(outcome)
        values.update(timeline=outcome.timeline, training_job=result)
        if outcome.summary is not None:
            values["summary"] = {**outcome.summary, "trainingJob": result}
        return WaitOutcome(**values)

    def _outcome(self, step: Step, now_ms: int) -> WaitOutcome | None:
        job_id = self.job_id
        arn = self.last_verdict.latest_training_job_arn if self.last_verdict else None
        timeline = self.timeline
        if step.error is not None:
            if step.not_found:  # final: a retry would look for the same missing job
                return WaitOutcome(FAILED, job_id, step.error, cause="not_found")
            return WaitOutcome(ERROR, job_id, step.error, training_job_arn=arn, timeline=timeline)
        observation = step.observation
        if observation is not None:
            verdict = observation.verdict
            if observation.terminate_reason and not verdict.done:
                where = self.loop.watcher.state.standing_text
                seen = f" At the last look: {where}." if where else ""
                return WaitOutcome(
                    FAILED,
                    job_id,
                    f"{observation.terminate_reason}.{seen}\n{verdict.explain()}",
                    training_job_arn=arn,
                    terminate_reason=observation.terminate_reason,
                    timeline=timeline,
                )
            if verdict.done and verdict.succeeded:
                state = self.loop.watcher.state
                summary = verdict.summary()
                # Where it last stood while RUNNABLE (None: never seen waiting, or beyond 100).
                summary["queuePosition"] = state.position
                summary["queuePlace"] = state.place
                return WaitOutcome(
                    SUCCESS,
                    job_id,
                    verdict.headline(),
                    summary=summary,
                    training_job_arn=arn,
                    timeline=timeline,
                )
            if verdict.done:
                return WaitOutcome(
                    FAILED,
                    job_id,
                    verdict.explain(),
                    training_job_arn=arn,
                    cause=verdict.cause.value if verdict.cause else "unknown",
                    status_reason=verdict.status_reason,
                    timeline=timeline,
                )
        if self.limit is not None and now_ms >= self.limit.at_ms:
            return self.timed_out()
        return None

    def timed_out(self) -> WaitOutcome:
        limit = self.limit or Limit(0, SENSOR_TIMEOUT, "The wait timed out.")
        never_found = self.last_verdict is None and self.loop.last_error is ErrorKind.NOT_FOUND
        message = timeout_message(
            self.job_id,
            self.last_verdict,
            terminates=self.terminate_on_timeout,
            what=limit.what,
            not_found=never_found,
        )
        arn = self.last_verdict.latest_training_job_arn if self.last_verdict else None
        common: dict[str, Any] = {
            "training_job_arn": arn,
            "timeout": limit.kind,
            "timeline": self.timeline,
        }
        if never_found:  # nothing to terminate, nothing keeps running
            return WaitOutcome(FAILED, self.job_id, message, cause="not_found", timeout=limit.kind)
        if self.terminate_on_timeout:
            return WaitOutcome(FAILED, self.job_id, message, terminate_reason=limit.what, **common)
        return WaitOutcome(TIMEOUT, self.job_id, message, **common)

    def terminate_reason(self, outcome: WaitOutcome) -> str:
        """The TerminateServiceJob reason: who ends the job, and why."""
        return f"{self.terminate_reason_prefix}{outcome.terminate_reason}"

    def terminated(self, outcome: WaitOutcome, error: str | None) -> WaitOutcome:
        """The outcome once the driver tried to terminate the job (``error`` if that failed)."""
        if error is None:
            done = "The job was terminated."
        else:
            done = f"Terminating the job FAILED ({error}); it may still be queued: terminate it."
        head, _, rest = outcome.message.partition("\n")
        message = f"{head} {done}\n{rest}" if rest else f"{head} {done}"
        values = asdict(outcome)
        values.update(message=message, terminated=done, terminate_reason=None)
        values["timeline"] = outcome.timeline
        return WaitOutcome(**values)


# ------------------------------------------------------------------------------ the flow


@dataclass(frozen=True)
class Call:
    """Call the hook's ``method`` (the async driver awaits its ``a``-prefixed twin)."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """What a driver sends back when a :class:`Call` raised an AWS error."""

    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Log:
    level: str  # "debug", "info", "warning", "error"
    message: str


@dataclass(frozen=True)
class Seen:
    """A fresh verdict: the shell persists its links (a trigger has nothing to do)."""

    verdict: Verdict


Request = Call | Sleep | Log | Seen


def read_logs(tail: LogTail, now_ms: int) -> Generator[Request, Any, list[str]]:
    """One round of training-log reads (call when ``tail.due``): the new lines, in order.

    Log trouble (no log group yet, throttling, a lost connection) never touches the wait: the
    round stops, one debug line says why, and the next round tries again.
    """
    lines: list[str] = []
    if tail.idle:
        return lines
    tail.read_done(now_ms)
    for name in tail.to_discover():
        reply = yield Call("describe_log_streams", {"log_group": LOG_GROUP, "prefix": f"{name}/"})
        if isinstance(reply, Failed):
            yield Log("debug", f"could not list training log streams: {reply.message}")
            return lines
        tail.on_streams(name, reply)
    for name, stream, token in tail.to_read():
        for _ in range(MAX_LOG_PAGES):
            reply = yield Call(
                "get_log_events",
                {"log_group": LOG_GROUP, "stream": stream, "token": token},
            )
            if isinstance(reply, Failed):
                yield Log("debug", f"could not read training logs: {reply.message}")
                return lines
            events, next_token = reply
            lines.extend(tail.on_events(name, stream, events, next_token))
            if not next_token or next_token == token:
                break
            token = next_token
    tail.settle()
    return lines


def _look_at_queue(
    wait: JobWait, describe: Mapping[str, Any], verdict: Verdict, now_ms: int
) -> Generator[Request, Any, None]:
    """While the job is RUNNABLE, read where it stands (at most every
    ``core.standing.READ_INTERVAL_SECONDS``; the snapshot itself is shared per queue by the
    hook) and log it when its place or the capacity in use changed."""
    state = wait.loop.watcher.state
    queue = describe.get("jobQueue")
    if verdict.status != ServiceJobStatus.RUNNABLE or not queue or not verdict.job_arn:
        return
    if (
        state.standing_read is not None
        and now_ms - state.standing_read < READ_INTERVAL_SECONDS * 1000
    ):
        return
    state.standing_read = now_ms
    reply = yield Call(
        "queue_picture",
        {"job_queue": str(queue), "quota_share_name": describe.get("quotaShareName")},
    )
    if isinstance(reply, Failed):
        yield Log("debug", f"could not read the queue snapshot: {reply.message}")
        return
    if not isinstance(reply, Mapping):
        return
    where = standing(
        reply.get("snapshot") or {},
        job_arn=verdict.job_arn,
        queue=str(reply.get("queue") or queue),
        quota_share=describe.get("quotaShareName"),
        share_identifier=describe.get("shareIdentifier"),
        limits=reply.get("limits") or {},
    )
    since = state.runnable_since or state.since or now_ms
    text = where.describe(format_duration(max(0, now_ms - since)))
    state.position, state.place, state.standing_text = where.position, where.place, text
    if where.key() != state.standing_key:
        state.standing_key = where.key()
        yield Log("info", text)


def wait_flow(
    wait: JobWait,
    *,
    clock: Any,
    tail: LogTail | None = None,
    once: bool = False,
) -> Generator[Request, Any, WaitOutcome | None]:
    """Describe, explain, follow the logs, back off, end: the whole wait as requests.

    ``clock()`` is epoch ms. ``once``: one poll only (a sensor's poke), returning None while
    the job goes on; the caller reads ``wait.last_step`` for the backoff.
    """
    wait.begin(clock())
    while True:
        reply = yield Call("describe_service_job", {"job_id": wait.job_id})
        if isinstance(reply, Failed):
            step = wait.on_error(reply.kind, reply.message, clock())
            level = "warning"
        else:
            step = wait.on_response(reply, clock())
            level = "info"
        for message in step.messages:
            yield Log(level, message)
        if step.verdict is not None:
            yield Seen(step.verdict)
            if isinstance(reply, Mapping):
                yield from _look_at_queue(wait, reply, step.verdict, clock())
            if tail is not None:
                follow = step.verdict
                tail.follow(
                    training_job_name(follow.latest_training_job_arn),
                    len(follow.attempts),
                    clock(),
                )
                if tail.due(clock(), final=step.done):
                    for line in (yield from read_logs(tail, clock())):
                        yield Log("info", line)
        outcome = wait.outcome(step, clock())
        if outcome is not None:
            if outcome.terminate_reason is not None:
                yield Log(
                    "error", f"{outcome.terminate_reason}; terminating service job {wait.job_id}"
                )
                reply = yield Call(
                    "terminate_service_job",
                    {"job_id": wait.job_id, "reason": wait.terminate_reason(outcome)},
                )
                error = reply.message if isinstance(reply, Failed) else None
                if error is not None:
                    yield Log("error", f"could not terminate service job {wait.job_id}: {error}")
                outcome = wait.terminated(outcome, error)
            if wait.read_training_result and outcome.training_job_arn:
                reply = yield Call("describe_training_job", {"name": outcome.training_job_arn})
                if isinstance(reply, Failed):
                    yield Log(
                        "warning",
                        f"could not read training job {outcome.training_job_arn} "
                        f"(sagemaker:DescribeTrainingJob): {reply.message}; its result is left "
                        "out (set read_training_result=False to skip the call)",
                    )
                elif isinstance(reply, Mapping):
                    outcome = wait.with_training_result(outcome, training_result(reply))
            return outcome
        if once:
            return None
        yield Sleep(wait.sleep_for(step, clock()))
