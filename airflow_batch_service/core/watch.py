"""The logic of waiting on a service job, without the waiting.

:class:`JobWatcher` turns successive DescribeServiceJob responses into log lines (each state
change once, each finished attempt once) and a verdict. :class:`WaitLoop` adds what a poll loop
decides: how long to sleep (with jitter, backing off on transient errors), when a job invisible
after submit has been invisible too long, and when a job stuck in RUNNABLE should be ended.

The sensor (poke and reschedule), the operator's own wait and the async trigger all drive one
``WaitLoop``: they only do the I/O (describe, sleep, log). That is how sync and async waits
share one behaviour, the way httpx's two clients share one protocol core.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_batch_service.core import reasons
from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.status import LIFECYCLE, ServiceJobStatus, parse_status
from airflow_batch_service.core.verdict import Verdict, format_duration, interpret


@dataclass(slots=True)
class WatchState:
    """What has been reported already. JSON-able, so reschedule-mode sensors and deferred
    triggers can carry it between pokes and never log the same change twice."""

    status: str | None = None
    since: int | None = None  # epoch ms the current status began (observed or from the response)
    attempts_reported: int = 0
    preemptions_reported: int = 0
    runnable_since: int | None = None
    reason: str | None = None  # the statusReason last seen
    since_exact: bool = False  # ``since`` is a timestamp from the response, not an observation
    seen: int | None = None  # epoch ms of the last poll that saw ``status``
    #: Every state change seen, in order: ``{"status", "atMs", "exact", "reason"}`` (``exact``:
    #: the time is a timestamp from the response, not the poll that saw it). The describe has
    #: no intermediate transition times, so this is the only record of them.
    transitions: list[dict[str, Any]] = field(default_factory=list)
    #: Where the job last stood while RUNNABLE (``core.standing``): what was logged, when the
    #: snapshot was read, the position (1-based, None beyond the front) and its words.
    standing_key: str | None = None
    standing_read: int | None = None
    standing_text: str | None = None
    position: int | None = None
    place: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> WatchState:
        if not value:
            return cls()
        known = {k: value[k] for k in cls.__dataclass_fields__ if k in value}
        known["transitions"] = [dict(t) for t in known.get("transitions") or ()]
        return cls(**known)


@dataclass(frozen=True)
class Observation:
    verdict: Verdict
    messages: tuple[str, ...] = ()
    #: Set when the caller should terminate the job and fail with this explanation
    #: (``max_runnable_seconds`` exceeded).
    terminate_reason: str | None = None


class JobWatcher:
    """Explains a job's progress across polls."""

    __slots__ = ("max_runnable_seconds", "state")

    def __init__(
        self, *, max_runnable_seconds: float | None = None, state: WatchState | None = None
    ) -> None:
        self.max_runnable_seconds = max_runnable_seconds
        self.state = state or WatchState()

    def observe(self, describe: Mapping[str, Any], now_ms: int) -> Observation:
        verdict = interpret(describe)
        state = self.state
        messages: list[str] = []
        name = verdict.job_name or verdict.job_id

        finished = [a for a in verdict.attempts if a.finished]
        messages.extend(a.describe() for a in finished[state.attempts_reported :])
        state.attempts_reported = max(state.attempts_reported, len(finished))

        if verdict.preempted_count > state.preemptions_reported:
            requeued = (
                "" if verdict.done else "; Batch requeued the job (preemption uses no attempt)"
            )
            messages.append(
                f"job {name} was preempted ({verdict.preempted_count} time(s) so far){requeued}"
            )
            state.preemptions_reported = verdict.preempted_count

        if verdict.status != state.status:
            exact = _exact_start(describe, verdict)
            since = exact if exact is not None and exact <= now_ms else now_ms
            # The RUNNABLE guard counts from the response's best estimate (a wait that starts
            # late still sees how long the job has queued), or from a requeue when seen.
            queued_since = (
                verdict.state_since
                if verdict.state_since and verdict.state_since <= now_ms
                else now_ms
            )
            if state.status is None:
                messages.append(f"service job {name} ({verdict.job_id}) is {verdict.status}")
            else:
                line = f"service job {name} is now {verdict.status} ({self._was(verdict, exact, now_ms)})"
                if (
                    verdict.status == ServiceJobStatus.RUNNABLE
                    and state.status in (ServiceJobStatus.SCHEDULED, ServiceJobStatus.STARTING)
                    and reasons.is_capacity(verdict.status_reason)
                ):
                    line += f": {verdict.status_reason}; Batch requeued it without using an attempt"
                    since = queued_since = now_ms
                    exact = None
                messages.append(line)
            if verdict.status == ServiceJobStatus.RUNNABLE and state.runnable_since is None:
                state.runnable_since = queued_since
            elif verdict.status not in (ServiceJobStatus.RUNNABLE, ServiceJobStatus.SCHEDULED):
                state.runnable_since = None
            state.status, state.since = verdict.status, since
            state.since_exact = exact is not None
            state.transitions.append(
                {
                    "status": verdict.status,
                    "atMs": since,
                    "exact": exact is not None,
                    "reason": verdict.status_reason,
                }
            )

        elif (
            verdict.status == ServiceJobStatus.RUNNABLE
            and verdict.status_reason != state.reason
            and reasons.is_capacity(verdict.status_reason)
        ):
            # The bounce SCHEDULED -> RUNNABLE fell between two polls: say so all the same.
            messages.append(
                f"service job {name} went back to RUNNABLE: {verdict.status_reason}; "
                "Batch requeued it without using an attempt"
            )
            state.transitions.append(
                {
                    "status": verdict.status,
                    "atMs": now_ms,
                    "exact": False,
                    "reason": verdict.status_reason,
                }
            )
        state.reason = verdict.status_reason
        state.seen = now_ms

        if verdict.done:
            messages.append(verdict.headline())

        terminate = None
        if (
            self.max_runnable_seconds is not None
            and verdict.status == ServiceJobStatus.RUNNABLE
            and state.runnable_since is not None
            and now_ms - state.runnable_since > self.max_runnable_seconds * 1000
        ):
            waited = format_duration(now_ms - state.runnable_since)
            terminate = (
                f"service job {name} waited in RUNNABLE for {waited}, longer than "
                f"max_runnable_seconds={self.max_runnable_seconds:g}: the queue's service "
                "environment had no capacity for it (check its capacityLimits, the instance "
                "type in ResourceConfig, and jobs ahead of it in the queue)"
            )
        return Observation(verdict, tuple(messages), terminate)

    def _was(self, verdict: Verdict, end: int | None, now_ms: int) -> str:
        """What is known of the previous state, and no more than that: its duration when both
        ends are timestamps in the response, otherwise when a poll last saw it; and the states
        the job passed through between two polls."""
        state = self.state
        previous = parse_status(state.status or "")
        skipped = _between(previous, parse_status(verdict.status))
        if state.since_exact and end is not None and not skipped and state.since is not None:
            return f"was {state.status} for {format_duration(max(0, end - state.since))}"
        seen = state.seen if state.seen is not None else state.since
        text = f"was {state.status} at the previous poll"
        if seen is not None:
            text += f", {format_duration(max(0, now_ms - seen))} ago"
        if skipped:
            text += f"; passed through {', '.join(s.value for s in skipped)} in between"
        return text


#: Statuses whose start the response stamps: (status, field).
_STAMPED = {
    ServiceJobStatus.SUBMITTED: "createdAt",
    ServiceJobStatus.SCHEDULED: "scheduledAt",
    ServiceJobStatus.SUCCEEDED: "stoppedAt",
    ServiceJobStatus.FAILED: "stoppedAt",
}


def _exact_start(describe: Mapping[str, Any], verdict: Verdict) -> int | None:
    """When the current state began, if the response says so exactly (else None: the wait
    only knows when it first saw it)."""
    status = parse_status(verdict.status)
    value: Any = None
    if status in _STAMPED:
        value = describe.get(_STAMPED[status])
    elif status is ServiceJobStatus.RUNNING:
        attempts = describe.get("attempts") or []
        value = (attempts[-1].get("startedAt") if attempts else None) or describe.get("startedAt")
    elif status is ServiceJobStatus.RUNNABLE and verdict.attempts:
        value = verdict.attempts[-1].stopped_at  # back in the queue after a failed attempt
    return int(value) if isinstance(value, int | float) and value > 0 else None


def _between(
    previous: ServiceJobStatus | None, current: ServiceJobStatus | None
) -> tuple[ServiceJobStatus, ...]:
    """Lifecycle states a job must have passed through going from ``previous`` to
    ``current`` (forward moves only; SUCCEEDED needs RUNNING)."""
    if previous not in LIFECYCLE or current is None:
        return ()
    start = LIFECYCLE.index(previous) + 1
    if current in LIFECYCLE:
        end = LIFECYCLE.index(current)
        return LIFECYCLE[start:end] if end > start else ()
    if current is ServiceJobStatus.SUCCEEDED:
        return LIFECYCLE[start:]
    return ()


@dataclass(frozen=True)
class PollPolicy:
    """How often to poll, and how to back off. One policy for every wait mode."""

    interval: float = 30.0
    max_backoff: float = 300.0
    jitter: float = 0.1  # +-10% on ordinary polls, so many waits don't poll in lockstep
    not_found_grace: float = 120.0  # a job may be invisible this long after submit
    #: What the backoff after an error starts from (None: ``interval``). A wait woken by events
    #: polls at its reconciliation interval (minutes) but retries a throttled describe on its
    #: ``poll_interval``: the events tell it nothing about a call that failed.
    error_interval: float | None = None

    def next_delay(self, consecutive_errors: int, rng: random.Random) -> float:
        if consecutive_errors <= 0:
            return max(0.0, self.interval * (1 + rng.uniform(-self.jitter, self.jitter)))
        base = self.interval if self.error_interval is None else self.error_interval
        # Exponential backoff with "equal jitter": never below half the capped delay.
        capped = min(self.max_backoff, base * (2 ** min(consecutive_errors, 16)))
        capped = max(capped, min(base, self.max_backoff))
        return capped / 2 + rng.uniform(0, capped / 2)


@dataclass(frozen=True)
class Step:
    """One decision of the wait loop."""

    messages: tuple[str, ...]
    sleep: float
    observation: Observation | None = None
    #: A fatal error message: the wait cannot go on (not a job failure).
    error: str | None = None
    #: The error is that the job does not exist (never seen, not found past the grace).
    not_found: bool = False

    @property
    def verdict(self) -> Verdict | None:
        return self.observation.verdict if self.observation else None

    @property
    def done(self) -> bool:
        return self.error is not None or bool(
            self.observation
            and (self.observation.verdict.done or self.observation.terminate_reason)
        )


#: The process's shared source of jitter (see :attr:`WaitLoop.rng`).
JITTER = random.Random()


@dataclass(slots=True)
class WaitLoop:
    """The sans-I/O wait: feed it responses and errors, do what each :class:`Step` says."""

    job_id: str
    policy: PollPolicy = field(default_factory=PollPolicy)
    watcher: JobWatcher = field(default_factory=JobWatcher)
    started_ms: int | None = None  # when the job was submitted (or the wait began)
    #: The jitter's source. One per process by default: a ``random.Random`` holds 2.5 KiB of
    #: state, which a thousand waits in a triggerer would each carry for nothing (tests pass
    #: their own, seeded).
    rng: random.Random = field(default_factory=lambda: JITTER)
    consecutive_errors: int = 0

    #: The kind of the latest error of the current streak (None: the last call answered).
    last_error: ErrorKind | None = None

    def on_response(self, describe: Mapping[str, Any], now_ms: int) -> Step:
        recovered: tuple[str, ...] = ()
        if self.consecutive_errors:
            what = (
                "not-found answer(s) right after submit"
                if self.last_error is ErrorKind.NOT_FOUND
                else "transient AWS error(s) in a row"
            )
            recovered = (
                f"describing service job {self.job_id} works again after "
                f"{self.consecutive_errors} {what}; the wait goes on",
            )
        self.consecutive_errors = 0
        self.last_error = None
        observation = self.watcher.observe(describe, now_ms)
        return Step(
            recovered + observation.messages, self.policy.next_delay(0, self.rng), observation
        )

    @property
    def never_seen(self) -> bool:
        """No describe of this job has succeeded in this wait (nor before a deferral)."""
        return self.watcher.state.status is None

    def on_error(self, kind: ErrorKind, message: str, now_ms: int) -> Step:
        self.consecutive_errors += 1
        self.last_error = kind
        if self.started_ms is None:
            self.started_ms = now_ms
        delay = self.policy.next_delay(self.consecutive_errors, self.rng)
        if kind is ErrorKind.NOT_FOUND:
            invisible = (now_ms - self.started_ms) / 1000
            if invisible > self.policy.not_found_grace:
                if self.never_seen:
                    return Step(
                        (),
                        0.0,
                        error=(
                            f"service job {self.job_id} does not exist: DescribeServiceJob has "
                            f"not found it for {invisible:.0f}s, longer than not_found_grace="
                            f"{self.policy.not_found_grace:g}s allows right after a submit "
                            f"({message}). Check the job id and the connection's region."
                        ),
                        not_found=True,
                    )
                return Step(
                    (),
                    0.0,
                    error=(
                        f"service job {self.job_id} not found for {invisible:.0f}s "
                        f"(longer than the {self.policy.not_found_grace:g}s allowed after "
                        f"submit): {message}"
                    ),
                )
            return Step(
                (
                    f"service job {self.job_id} not visible yet ({message}); retrying in {delay:.1f}s",
                ),
                delay,
            )
        if kind.retryable:
            return Step(
                (
                    f"transient AWS error while describing {self.job_id} "
                    f"(#{self.consecutive_errors} in a row): {message}; retrying in {delay:.1f}s",
                ),
                delay,
            )
        return Step((), 0.0, error=f"cannot describe service job {self.job_id}: {message}")
