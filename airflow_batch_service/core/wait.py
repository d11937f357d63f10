"""The wait on one service job: its rules, and the one flow every wait mode runs. No I/O.

Rules first (the h11 way: state and decisions, no sockets). :class:`JobWait` adds to
``core.watch.WaitLoop`` what ending a wait takes: the deadline (a ``core.limits.Limit``, the
one timeout concept), what a finished step means (a ``core.outcome.WaitOutcome``), whether the
job must be terminated first, and the words of a timeout. Everything takes ``now`` as an
argument and returns messages instead of logging them.

Then the flow (the httpx ``Auth.auth_flow`` way: one generator, stepped by two drivers).
:func:`wait_flow` yields what it needs done (the requests of ``core.flow``) and follows the
training logs and the queue on the way (``core.wait_reads``); the sync driver (a sensor's
poke, the operator's own wait) and the async driver (the trigger) live side by side in
``airflow_batch_service._shared.waiting``; neither holds a rule.

Timeouts: a wait has one deadline, a ``Limit`` at an absolute epoch-ms instant (a deferral
carries it unchanged). Several limits may apply (``wait_timeout``, the sensor's ``timeout``,
``execution_timeout``); ``core.limits.nearest`` picks the one that ends the wait. What happens
to the job then depends only on who owns it: the operator terminates it, the sensor leaves it
running.

The names of ``core.limits``, ``core.outcome``, ``core.flow`` and ``core.wait_reads`` are
importable from here too: this module is the wait's front door.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.flow import Call, Failed, Log, Request, Seen, Sleep
from airflow_batch_service.core.limits import (
    EXECUTION_TIMEOUT,
    SENSOR_TIMEOUT,
    WAIT_TIMEOUT,
    Limit,
    deadline,
    execution_limit,
    nearest,
    timeout_message,
)
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.outcome import (
    ERROR,
    FAILED,
    RESUBMIT_NOTE,
    RESUBMITTABLE_CAUSES,
    SUCCESS,
    TIMEOUT,
    Ending,
    WaitOutcome,
    ending,
)
from airflow_batch_service.core.training_result import training_result
from airflow_batch_service.core.verdict import Verdict, training_job_name
from airflow_batch_service.core.wait_reads import MAX_LOG_PAGES, look_at_queue, read_logs
from airflow_batch_service.core.watch import JobWatcher, PollPolicy, Step, WaitLoop, WatchState

__all__ = [
    "ERROR",
    "EXECUTION_TIMEOUT",
    "FAILED",
    "MAX_LOG_PAGES",
    "NOT_FOUND_GRACE",
    "RESUBMITTABLE_CAUSES",
    "RESUBMIT_NOTE",
    "SENSOR_TIMEOUT",
    "SUCCESS",
    "TIMEOUT",
    "WAIT_TIMEOUT",
    "Call",
    "Ending",
    "Failed",
    "JobWait",
    "Limit",
    "Log",
    "Request",
    "Seen",
    "Sleep",
    "WaitOutcome",
    "deadline",
    "ending",
    "execution_limit",
    "nearest",
    "read_logs",
    "timeout_message",
    "wait_flow",
]

#: Seconds a job may be "not found" right after its submit before it "does not exist".
NOT_FOUND_GRACE = 120.0


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
        error_interval: float | None = None,
    ) -> JobWait:
        """A wait, resuming from :meth:`state` (a reschedule poke, a deferral).
        ``error_interval``: where the backoff after an error starts, if not ``poll_interval``."""
        state = state or {}
        watcher = JobWatcher(
            max_runnable_seconds=max_runnable_seconds,
            state=WatchState.from_dict(state.get("watch")),
        )
        policy = PollPolicy(
            interval=poll_interval,
            max_backoff=max(poll_interval, 300.0),
            not_found_grace=NOT_FOUND_GRACE if not_found_grace is None else not_found_grace,
            error_interval=error_interval,
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
        return None if self.limit is None else self.limit.remaining(now_ms)

    def sleep_for(self, step: Step, now_ms: int) -> float:
        """The step's sleep, never past the deadline (so the timeout is honoured on time)."""
        remaining = self.remaining(now_ms)
        return step.sleep if remaining is None else min(step.sleep, remaining)

    def outcome(self, step: Step, now_ms: int) -> WaitOutcome | None:
        """None while the wait goes on; otherwise how it ended (termination still to do)."""
        outcome = self._outcome(step, now_ms)
        if outcome is None:
            return outcome
        if self.last_verdict is not None:
            return outcome.replaced(payload=self.payload, job_name=self.last_verdict.job_name)
        return outcome.replaced(payload=self.payload)

    def with_training_result(self, outcome: WaitOutcome, result: dict[str, Any]) -> WaitOutcome:
        """``outcome`` carrying what the training job produced (in the summary too)."""
        if outcome.summary is not None:
            summary = {**outcome.summary, "trainingJob": result}
            return outcome.replaced(training_job=result, summary=summary)
        return outcome.replaced(training_job=result)

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
        if self.limit is not None and self.limit.passed(now_ms):
            return self.timed_out()
        return None

    @property
    def never_found(self) -> bool:
        """Every describe so far said the job does not exist (none ever described it)."""
        return self.last_verdict is None and self.loop.last_error is ErrorKind.NOT_FOUND

    def timeout_explanation(self, what: str) -> str:
        """Why this wait timed out and what became of the job, in ``core.limits``'s one
        wording; ``what``: the limit's first sentence (or Airflow's, for a sensor's poke)."""
        return timeout_message(
            self.job_id,
            self.last_verdict,
            terminates=self.terminate_on_timeout,
            what=what,
            not_found=self.never_found,
        )

    def timed_out(self) -> WaitOutcome:
        limit = self.limit or Limit(0, SENSOR_TIMEOUT, "The wait timed out.")
        never_found = self.never_found
        message = self.timeout_explanation(limit.what)
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
        return outcome.replaced(message=message, terminated=done, terminate_reason=None)


# ------------------------------------------------------------------------------ the flow


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
                state = wait.loop.watcher.state
                yield from look_at_queue(state, reply, step.verdict, clock())
            if tail is not None:
                follow = step.verdict
                tail.follow(
                    training_job_name(follow.latest_training_job_arn),
                    len(follow.attempts),
                    clock(),
                    earlier=[(a.training_job_name, a.number) for a in follow.attempts[:-1]],
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
