"""Turn one DescribeServiceJob response into a verdict a person can read.

A verdict says whether the job is still going (which state, since when), succeeded, or failed
for good, and why: an EXIT rule matched, attempts ran out, it was terminated, an attempt timed
out. It also explains every attempt so far: its training job, how it ended, which rule decided
and what Batch did next. The same verdict drives the sensor's return value, the trigger's
event, the operator's exception and the log lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airflow_batch_service.core import reasons
from airflow_batch_service.core.retry import Cause, RetryDecision, RetryStrategy, decide
from airflow_batch_service.core.status import ServiceJobStatus, parse_status


class Outcome(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


def training_job_arn(attempt: Mapping[str, Any] | None) -> str | None:
    """The training-job ARN an attempt (or ``latestAttempt``) points at, if any."""
    if not attempt:
        return None
    resource = attempt.get("serviceResourceId") or {}
    value = resource.get("value")
    return str(value) if value else None


def training_job_name(arn: str | None) -> str | None:
    """``arn:aws:sagemaker:R:A:training-job/NAME`` -> ``NAME``."""
    if not arn:
        return None
    return arn.rsplit("/", 1)[-1]


def format_duration(ms: int | float | None) -> str:
    """``93_000`` -> ``1m33s``, ``2_500`` -> ``2.5s``: short, for log lines."""
    if ms is None:
        return "?"
    if ms < 10_000:
        return f"{max(0.0, ms / 1000):.1f}s"
    seconds = max(0, round(ms / 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass(frozen=True)
class AttemptReport:
    """One attempt: where it ran, how it ended, and what Batch did about it."""

    number: int
    attempts_allowed: int
    training_job_arn: str | None
    started_at: int | None
    stopped_at: int | None
    status_reason: str | None
    succeeded: bool = False
    decision: RetryDecision | None = None  # set for a failed attempt

    @property
    def finished(self) -> bool:
        return self.stopped_at is not None or self.succeeded or self.decision is not None

    @property
    def training_job_name(self) -> str | None:
        return training_job_name(self.training_job_arn)

    def describe(self) -> str:
        """``attempt 1 of 3 failed after 42s: <reason>; rule 1 RETRY (...) matched; Batch
        queued attempt 2``."""
        head = f"attempt {self.number} of {self.attempts_allowed}"
        ran = ""
        if self.started_at is not None and self.stopped_at is not None:
            ran = f" after {format_duration(self.stopped_at - self.started_at)}"
        if self.succeeded:
            return f"{head} succeeded{ran} (training job {self.training_job_name})"
        if self.decision is None:
            return f"{head} is running (training job {self.training_job_name})"
        reason = self.status_reason or "no reason given"
        return f"{head} failed{ran}: {reason}; {self.decision.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "trainingJobArn": self.training_job_arn,
            "startedAt": self.started_at,
            "stoppedAt": self.stopped_at,
            "statusReason": self.status_reason,
            "outcome": (
                "SUCCEEDED"
                if self.succeeded
                else (
                    "RUNNING"
                    if self.decision is None
                    else ("RETRIED" if self.decision.retry else "FAILED")
                )
            ),
            "matchedRule": self.decision.rule.index
            if self.decision and self.decision.rule
            else None,
            "cause": self.decision.cause.value if self.decision else None,
        }


@dataclass(frozen=True)
class Verdict:
    """What a DescribeServiceJob response means."""

    job_id: str
    job_arn: str | None
    job_name: str | None
    status: str
    status_reason: str | None
    outcome: Outcome
    attempts: tuple[AttemptReport, ...] = ()
    attempts_allowed: int = 1
    cause: Cause | None = None  # set when outcome is FAILED and the cause is known
    state_since: int | None = None  # epoch ms the current state began, from the response
    preempted_count: int = 0
    is_terminated: bool = False
    latest_training_job_arn: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not Outcome.IN_PROGRESS

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED

    @property
    def known_status(self) -> ServiceJobStatus | None:
        return parse_status(self.status)

    def headline(self) -> str:
        """One line: what happened to the job as a whole."""
        name = f"{self.job_name} ({self.job_id})" if self.job_name else self.job_id
        if self.outcome is Outcome.SUCCEEDED:
            return (
                f"Service job {name} SUCCEEDED after {len(self.attempts)} attempt(s); "
                f"final training job {training_job_name(self.latest_training_job_arn)}"
            )
        if self.outcome is Outcome.IN_PROGRESS:
            return f"Service job {name} is {self.status}"
        why = (
            {
                Cause.EXIT_RULE: "an EXIT rule matched the failure, so Batch did not retry",
                Cause.ATTEMPTS_EXHAUSTED: f"all {self.attempts_allowed} attempt(s) were used",
                Cause.TERMINATED: "it was terminated",
                Cause.TIMED_OUT: "an attempt ran past timeoutConfig.attemptDurationSeconds",
                Cause.PREEMPTION_LIMIT: "it was preempted more often than preemptionConfiguration allows",
            }.get(self.cause, "Batch gave no attempt-level detail")
            if self.cause
            else ("Batch gave no attempt-level detail")
        )
        reason = f": {self.status_reason}" if self.status_reason else ""
        return f"Service job {name} FAILED for good because {why}{reason}"

    def explain(self) -> str:
        """The headline and one line per attempt: what a person reads at 3 a.m."""
        lines = [self.headline()]
        lines.extend(f"  - {attempt.describe()}" for attempt in self.attempts)
        if self.preempted_count:
            lines.append(
                f"  - preempted {self.preempted_count} time(s); preempted runs do not use attempts"
            )
        return "\n".join(lines)

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary: the sensor's XCom value and the trigger's event payload."""
        return {
            "jobId": self.job_id,
            "jobArn": self.job_arn,
            "jobName": self.job_name,
            "status": self.status,
            "statusReason": self.status_reason,
            "outcome": self.outcome.value,
            "cause": self.cause.value if self.cause else None,
            "isTerminated": self.is_terminated,
            "attempts": [a.to_dict() for a in self.attempts],
            "attemptsAllowed": self.attempts_allowed,
            "preemptedCount": self.preempted_count,
            "trainingJobArn": self.latest_training_job_arn,
            "explanation": self.explain(),
        }


def _state_since(describe: Mapping[str, Any], status: ServiceJobStatus | None) -> int | None:
    """Best estimate, from the response alone, of when the current state began."""
    created = describe.get("createdAt")
    attempts = describe.get("attempts") or []
    last_stop = max((a.get("stoppedAt") or 0 for a in attempts), default=0) or None
    if status in (ServiceJobStatus.SUBMITTED, ServiceJobStatus.PENDING, ServiceJobStatus.RUNNABLE):
        return max(filter(None, (created, last_stop)), default=None)
    if status is ServiceJobStatus.SCHEDULED:
        return describe.get("scheduledAt") or created
    if status in (ServiceJobStatus.STARTING, ServiceJobStatus.RUNNING):
        latest_start = attempts[-1].get("startedAt") if attempts else None
        return latest_start or describe.get("startedAt") or describe.get("scheduledAt")
    return describe.get("stoppedAt")


def interpret(describe: Mapping[str, Any]) -> Verdict:
    """Read a DescribeServiceJob response (boto3's dict, ``ResponseMetadata`` or not)."""
    raw_status = str(describe.get("status") or "UNKNOWN")
    status = parse_status(raw_status)
    strategy = RetryStrategy.from_api(describe.get("retryStrategy"))
    terminated = bool(describe.get("isTerminated"))
    raw_attempts = [a for a in (describe.get("attempts") or []) if isinstance(a, Mapping)]
    last_index = len(raw_attempts)

    reports: list[AttemptReport] = []
    for number, raw in enumerate(raw_attempts, start=1):
        reason = raw.get("statusReason")
        arn = training_job_arn(raw)
        common = dict(
            number=number,
            attempts_allowed=strategy.attempts,
            training_job_arn=arn,
            started_at=raw.get("startedAt"),
            stopped_at=raw.get("stoppedAt"),
            status_reason=reason,
        )
        is_last = number == last_index
        if is_last and status is ServiceJobStatus.SUCCEEDED:
            reports.append(AttemptReport(**common, succeeded=True))  # type: ignore[arg-type]
        elif is_last and status is ServiceJobStatus.FAILED:
            decision = decide(
                strategy, reason or describe.get("statusReason"), number, terminated=terminated
            )
            reports.append(AttemptReport(**common, decision=decision))  # type: ignore[arg-type]
        elif not is_last or raw.get("stoppedAt") is not None:
            # Batch moved on from this attempt, so it was retried: explain by which rule.
            decision = decide(strategy, reason, number)
            if not decision.retry:
                # Observed beats inferred: Batch did retry. Keep the matched rule for the log.
                decision = RetryDecision(
                    True, decision.cause, number, strategy.attempts, decision.rule
                )
            reports.append(AttemptReport(**common, decision=decision))  # type: ignore[arg-type]
        else:
            reports.append(AttemptReport(**common))  # type: ignore[arg-type]

    preemption = describe.get("preemptionSummary") or {}
    preempted = int(preemption.get("preemptedAttemptCount") or 0)

    if status is ServiceJobStatus.SUCCEEDED:
        outcome, cause = Outcome.SUCCEEDED, None
    elif status is ServiceJobStatus.FAILED:
        outcome = Outcome.FAILED
        reason = describe.get("statusReason") or ""
        if reason.startswith(reasons.PREEMPTION_LIMIT):
            cause = Cause.PREEMPTION_LIMIT
        elif reports and reports[-1].decision is not None and not terminated:
            cause = reports[-1].decision.cause
        elif terminated:
            cause = Cause.TERMINATED
        elif reasons.is_timeout(reason):
            cause = Cause.TIMED_OUT
        else:
            cause = None
    else:
        # Unknown statuses are waited on, never failed on.
        outcome, cause = Outcome.IN_PROGRESS, None

    return Verdict(
        job_id=str(describe.get("jobId") or ""),
        job_arn=describe.get("jobArn"),
        job_name=describe.get("jobName"),
        status=raw_status,
        status_reason=describe.get("statusReason"),
        outcome=outcome,
        attempts=tuple(reports),
        attempts_allowed=strategy.attempts,
        cause=cause,
        state_since=_state_since(describe, status),
        preempted_count=preempted,
        is_terminated=terminated,
        latest_training_job_arn=training_job_arn(describe.get("latestAttempt"))
        or (reports[-1].training_job_arn if reports else None),
    )
