"""Which training-log lines are new: the sans-I/O half of log streaming.

SageMaker writes each training job's output to CloudWatch Logs group
``/aws/sagemaker/TrainingJobs``, one stream per host named
``<training job name>/algo-<n>-<epoch>``. Each Batch attempt is a new training job, named in
``latestAttempt.serviceResourceId.value`` (never the payload's name). :class:`LogTail` follows
the latest attempt's training job, remembers each stream's ``nextForwardToken`` (so a line is
printed once), drains the previous attempt's streams one last time when a new attempt starts,
reads once the attempts that ended before the wait first looked, and labels every line
``[attempt N algo-1] ...``.

It also says when to read (:meth:`LogTail.due`): at most every :data:`READ_INTERVAL_SECONDS`
per wait, at once when a new attempt starts (the previous one's last lines) and when the job
ends. CloudWatch Logs allows GetLogEvents about 25 times a second per account and region; a
thousand waits reading on every 30-second poll would already pass that, and a wait that polls
every second must not spend its time reading logs.

It does no I/O: ``core.wait.read_logs`` asks it what to read (:meth:`LogTail.to_discover`,
:meth:`LogTail.to_read`) and feeds it the answers the hook gave. The sync wait and the trigger
step that same flow, so "what is new" has one implementation. The state is
JSON-able (:meth:`LogTail.to_dict`): a reschedule or a deferral carries it on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Least seconds between two reads of one wait's logs (except at an attempt change and the end).
READ_INTERVAL_SECONDS = 30.0
_HOST = re.compile(r"^(?P<host>.+?)(?:-\d+)?$")


def host_of(stream_name: str) -> str:
    """``AWSBatchx.../algo-1-1700000000`` -> ``algo-1``."""
    tail = stream_name.rsplit("/", 1)[-1]
    match = _HOST.match(tail)
    return match.group("host") if match else tail


@dataclass
class FollowedJob:
    attempt: int
    streams: dict[str, str | None] = field(default_factory=dict)  # stream -> next token
    closing: bool = False  # a newer attempt started: read once more, then forget


@dataclass
class LogTail:
    """Progress through the training logs of one service job's attempts."""

    jobs: dict[str, FollowedJob] = field(default_factory=dict)  # training job name -> progress
    current: str | None = None
    next_read_ms: int | None = None  # epoch ms of the next read (None: nothing followed yet)
    interval_seconds: float = READ_INTERVAL_SECONDS
    #: The highest attempt this tail has taken up (stored only when ``jobs`` no longer shows it).
    seen_attempt: int = 0

    def follow(
        self,
        training_job_name: str | None,
        attempt: int,
        now_ms: int,
        earlier: Iterable[tuple[str | None, int]] = (),
    ) -> None:
        """The latest attempt's training job (from the latest verdict). ``earlier``: the
        training job and number of each attempt before it. Those this tail has never taken up
        (they ended before the wait first looked: a fast failure, a late deferral) are read
        once, now: the failed attempt's log is the one that says why."""
        seen = max([self.seen_attempt, *(job.attempt for job in self.jobs.values())])
        for name, number in earlier:
            if number > seen and name and name != training_job_name and name not in self.jobs:
                self.jobs[name] = FollowedJob(attempt=number, closing=True)
                self.next_read_ms = now_ms
            self.seen_attempt = max(self.seen_attempt, number)
        if not training_job_name or training_job_name == self.current:
            return
        if self.current in self.jobs:
            self.jobs[self.current].closing = True
            self.next_read_ms = now_ms  # drain the previous attempt now
        elif self.next_read_ms is None:
            # A new training job has no log stream for a while: first read after an interval.
            self.next_read_ms = now_ms + int(self.interval_seconds * 1000)
        self.jobs.setdefault(training_job_name, FollowedJob(attempt=max(1, attempt)))
        self.current = training_job_name

    def due(self, now_ms: int, *, final: bool = False) -> bool:
        """Whether to read now. ``final``: the job has ended (read its last lines)."""
        if self.idle:
            return False
        return final or self.next_read_ms is None or now_ms >= self.next_read_ms

    def read_done(self, now_ms: int) -> None:
        self.next_read_ms = now_ms + int(self.interval_seconds * 1000)

    @property
    def idle(self) -> bool:
        """Nothing to read yet (no attempt has a training job): callers skip all I/O."""
        return not self.jobs

    def to_discover(self) -> list[str]:
        """Training jobs whose streams are not known yet (or closing: a host may have come late)."""
        return [name for name, job in self.jobs.items() if not job.streams or job.closing]

    def on_streams(self, training_job_name: str, stream_names: Iterable[str]) -> None:
        job = self.jobs.get(training_job_name)
        if job is None:
            return
        for stream in stream_names:
            job.streams.setdefault(stream, None)

    def to_read(self) -> list[tuple[str, str, str | None]]:
        """``(training job, stream, token)`` for every stream to read now."""
        return [
            (name, stream, token)
            for name, job in self.jobs.items()
            for stream, token in job.streams.items()
        ]

    def on_events(
        self,
        training_job_name: str,
        stream: str,
        events: Iterable[Mapping[str, Any]],
        next_token: str | None,
    ) -> list[str]:
        """Record a GetLogEvents page; return its lines, labelled by attempt and host."""
        job = self.jobs.get(training_job_name)
        if job is None:
            return []
        if next_token:
            job.streams[stream] = next_token
        label = f"[attempt {job.attempt} {host_of(stream)}]"
        return [f"{label} {str(e.get('message', '')).rstrip()}" for e in events]

    def settle(self) -> None:
        """After a round of reads: forget the attempts that were drained one last time."""
        for name in [n for n, job in self.jobs.items() if job.closing]:
            del self.jobs[name]

    def to_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "current": self.current,
            "next_read_ms": self.next_read_ms,
            "interval_seconds": self.interval_seconds,
            "jobs": {
                name: {"attempt": job.attempt, "streams": dict(job.streams), "closing": job.closing}
                for name, job in self.jobs.items()
            },
        }
        if self.seen_attempt > max((job.attempt for job in self.jobs.values()), default=0):
            state["seen_attempt"] = self.seen_attempt  # else ``jobs`` says it (older rows too)
        return state

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> LogTail:
        if not value:
            return cls()
        jobs = {
            name: FollowedJob(
                attempt=int(job.get("attempt", 1)),
                streams=dict(job.get("streams") or {}),
                closing=bool(job.get("closing")),
            )
            for name, job in (value.get("jobs") or {}).items()
        }
        return cls(
            jobs=jobs,
            current=value.get("current"),
            next_read_ms=value.get("next_read_ms"),
            interval_seconds=float(value.get("interval_seconds", READ_INTERVAL_SECONDS)),
            seen_attempt=int(value.get("seen_attempt") or 0),
        )
