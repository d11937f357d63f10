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
from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.verdict import Verdict, format_duration, interpret


@dataclass
class WatchState:
    """What has been reported already. JSON-able, so reschedule-mode sensors and deferred
    triggers can carry it between pokes and never log the same change twice."""

    status: str | None = None
    since: int | None = None  # epoch ms the current status began (observed or from the response)
    attempts_reported: int = 0
    preemptions_reported: int = 0
    runnable_since: int | None = None
    reason: str | None = None  # the statusReason last seen

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> WatchState:
        if not value:
            return cls()
        known = {k: value[k] for k in cls.__dataclass_fields__ if k in value}
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
            since = (
                verdict.state_since
                if verdict.state_since and verdict.state_since <= now_ms
                else now_ms
            )
            if state.status is None:
                messages.append(f"service job {name} ({verdict.job_id}) is {verdict.status}")
            else:
                spent = format_duration(max(0, now_ms - (state.since or now_ms)))
                line = (
                    f"service job {name} is now {verdict.status} (was {state.status} for {spent})"
                )
                if (
                    verdict.status == ServiceJobStatus.RUNNABLE
                    and state.status in (ServiceJobStatus.SCHEDULED, ServiceJobStatus.STARTING)
                    and reasons.is_capacity(verdict.status_reason)
                ):
                    line += f": {verdict.status_reason}; Batch requeued it without using an attempt"
                    since = now_ms
                messages.append(line)
            if verdict.status == ServiceJobStatus.RUNNABLE and state.runnable_since is None:
                state.runnable_since = since
            elif verdict.status not in (ServiceJobStatus.RUNNABLE, ServiceJobStatus.SCHEDULED):
                state.runnable_since = None
            state.status, state.since = verdict.status, since

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
        state.reason = verdict.status_reason

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


@dataclass(frozen=True)
class PollPolicy:
    """How often to poll, and how to back off. One policy for every wait mode."""

    interval: float = 30.0
    max_backoff: float = 300.0
    jitter: float = 0.1  # +-10% on ordinary polls, so many waits don't poll in lockstep
    not_found_grace: float = 120.0  # a job may be invisible this long after submit

    def next_delay(self, consecutive_errors: int, rng: random.Random) -> float:
        if consecutive_errors <= 0:
            return max(0.0, self.interval * (1 + rng.uniform(-self.jitter, self.jitter)))
        # Exponential backoff with "equal jitter": never below half the capped delay.
        capped = min(self.max_backoff, self.interval * (2 ** min(consecutive_errors, 16)))
        capped = max(capped, min(self.interval, self.max_backoff))
        return capped / 2 + rng.uniform(0, capped / 2)


@dataclass(frozen=True)
class Step:
    """One decision of the wait loop."""

    messages: tuple[str, ...]
    sleep: float
    observation: Observation | None = None
    #: A fatal error message: the wait cannot go on (not a job failure).
    error: str | None = None

    @property
    def verdict(self) -> Verdict | None:
        return self.observation.verdict if self.observation else None

    @property
    def done(self) -> bool:
        return self.error is not None or bool(
            self.observation
            and (self.observation.verdict.done or self.observation.terminate_reason)
        )


@dataclass
class WaitLoop:
    """The sans-I/O wait: feed it responses and errors, do what each :class:`Step` says."""

    job_id: str
    policy: PollPolicy = field(default_factory=PollPolicy)
    watcher: JobWatcher = field(default_factory=JobWatcher)
    started_ms: int | None = None  # when the job was submitted (or the wait began)
    rng: random.Random = field(default_factory=random.Random)
    consecutive_errors: int = 0

    def on_response(self, describe: Mapping[str, Any], now_ms: int) -> Step:
        self.consecutive_errors = 0
        observation = self.watcher.observe(describe, now_ms)
        return Step(observation.messages, self.policy.next_delay(0, self.rng), observation)

    def on_error(self, kind: ErrorKind, message: str, now_ms: int) -> Step:
        self.consecutive_errors += 1
        if self.started_ms is None:
            self.started_ms = now_ms
        delay = self.policy.next_delay(self.consecutive_errors, self.rng)
        if kind is ErrorKind.NOT_FOUND:
            invisible = (now_ms - self.started_ms) / 1000
            if invisible > self.policy.not_found_grace:
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
        if kind is ErrorKind.TRANSIENT:
            return Step(
                (
                    f"transient AWS error while describing {self.job_id} "
                    f"(#{self.consecutive_errors} in a row): {message}; retrying in {delay:.1f}s",
                ),
                delay,
            )
        return Step((), 0.0, error=f"cannot describe service job {self.job_id}: {message}")
