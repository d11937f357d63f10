"""One lane per service job: what the tab draws for it, and how it is built.

Pure: no Airflow, no boto3. The time segments, capacity requeues and the observed transitions
come from ``segments`` (whose module doc says where each time comes from, and how sure it
is); the attempts, the rule that decided each failed one, the preempted runs and the final
explanation come from :func:`airflow_batch_service.core.verdict.interpret`, the same reading
the sensor logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_batch_service.core import reasons
from airflow_batch_service.core.verdict import (
    Outcome,
    Verdict,
    format_duration,
    interpret,
    training_job_name,
)
from airflow_batch_service.plugins.segments import (
    SEGMENT_KINDS,
    TERMINAL,
    Marker,
    Segment,
    capacity_requeues,
    clean_transitions,
    segments_from_describe,
    segments_from_observed,
)
from airflow_batch_service.plugins.values import int_or_none

LinksFor = Callable[[str, str | None], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class AttemptRow:
    """One run on SageMaker (an attempt, or a preempted run that used none)."""

    label: str  # "attempt 1 of 2" or "preempted run"
    outcome: str  # SUCCEEDED | RETRIED | FAILED | RUNNING | PREEMPTED
    started_ms: int | None
    stopped_ms: int | None
    training_job_name: str | None
    reason: str | None
    rule: str | None  # the evaluateOnExit rule that matched, e.g. 'rule 1 RETRY ("...")'
    decision: str | None  # what Batch did next, in words

    @property
    def duration(self) -> str | None:
        if self.started_ms is None or self.stopped_ms is None:
            return None
        return format_duration(self.stopped_ms - self.started_ms)


@dataclass(frozen=True)
class JobLane:
    """Everything the tab draws for one service job."""

    job_id: str
    job_name: str | None
    status: str
    outcome: str  # IN_PROGRESS | SUCCEEDED | FAILED | UNKNOWN
    headline: str
    explanation: str
    start_ms: int
    end_ms: int
    segments: tuple[Segment, ...] = ()
    markers: tuple[Marker, ...] = ()
    attempts: tuple[AttemptRow, ...] = ()
    capacity_requeues: int = 0
    capacity_requeues_known: bool = True  # False: only what the describe shows (a lower bound)
    preemptions: int = 0
    source: str = "describe"  # observed | describe
    links: tuple[tuple[str, str], ...] = ()
    try_number: int | None = None
    map_index: int = -1
    role: str = ""  # "submitted" | "watched"
    error: str | None = None

    @property
    def span_ms(self) -> int:
        return max(1, self.end_ms - self.start_ms)

    def share(self, at_ms: int) -> float:
        """``at_ms`` as a fraction of the lane (0..1)."""
        return min(1.0, max(0.0, (at_ms - self.start_ms) / self.span_ms))

    def time_in(self) -> dict[str, int]:
        """Total milliseconds per segment kind, lifecycle order."""
        totals: dict[str, int] = {}
        for seg in self.segments:
            totals[seg.status] = totals.get(seg.status, 0) + seg.duration_ms
        order = {kind: i for i, kind in enumerate(SEGMENT_KINDS)}
        return dict(sorted(totals.items(), key=lambda kv: order.get(kv[0], 99)))


@dataclass(frozen=True)
class LaneInput:
    """What is known about one job before drawing it."""

    job_id: str
    describe: Mapping[str, Any] | None = None
    transitions: Sequence[Mapping[str, Any]] = ()
    try_number: int | None = None
    map_index: int = -1
    role: str = "submitted"
    error: str | None = None
    job_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _attempt_rows(verdict: Verdict) -> tuple[list[AttemptRow], list[Marker]]:
    """A row per attempt, and a pin where each ended (none for one still running)."""
    rows: list[AttemptRow] = []
    markers: list[Marker] = []
    reports = {a.number: a for a in verdict.attempts}
    for report in reports.values():
        if report.succeeded:
            outcome, kind = "SUCCEEDED", "attempt_succeeded"
        elif report.decision is None:
            outcome, kind = "RUNNING", ""
        elif report.decision.retry:
            outcome, kind = "RETRIED", "attempt_retried"
        else:
            outcome, kind = "FAILED", "attempt_failed"
        rule = report.decision.rule.describe() if report.decision and report.decision.rule else None
        rows.append(
            AttemptRow(
                label=f"attempt {report.number} of {report.attempts_allowed}",
                outcome=outcome,
                started_ms=report.started_at,
                stopped_ms=report.stopped_at,
                training_job_name=report.training_job_name,
                reason=report.status_reason,
                rule=rule,
                decision=report.decision.describe() if report.decision else None,
            )
        )
        if kind and report.stopped_at is not None:
            markers.append(
                Marker(
                    kind,
                    report.stopped_at,
                    f"attempt {report.number} {outcome.lower()}",
                    report.describe(),
                )
            )
    return rows, markers


def _preempted_runs(describe: Mapping[str, Any]) -> tuple[list[AttemptRow], list[Marker], int]:
    """A row and a pin per preempted run the describe keeps, and how many there were."""
    rows: list[AttemptRow] = []
    markers: list[Marker] = []
    summary = describe.get("preemptionSummary") or {}
    for run in summary.get("recentPreemptedAttempts") or []:
        if not isinstance(run, Mapping):
            continue
        arn = (run.get("serviceResourceId") or {}).get("value")
        stop = int_or_none(run.get("stoppedAt"))
        rows.append(
            AttemptRow(
                label="preempted run",
                outcome="PREEMPTED",
                started_ms=int_or_none(run.get("startedAt")),
                stopped_ms=stop,
                training_job_name=training_job_name(arn),
                reason=run.get("statusReason"),
                rule=None,
                decision="preempted runs use no attempt; Batch requeued the job",
            )
        )
        if stop is not None:
            markers.append(Marker("preempted", stop, "preempted", run.get("statusReason")))
    return rows, markers, int(summary.get("preemptedAttemptCount") or 0)


def build_lane(item: LaneInput, *, now_ms: int, links_for: LinksFor | None = None) -> JobLane:
    """The lane of one job (``segments``' module doc says where each time comes from)."""
    describe = item.describe
    transitions = clean_transitions(item.transitions)
    if describe is None and not transitions:
        return JobLane(
            job_id=item.job_id,
            job_name=item.job_name,
            status="UNKNOWN",
            outcome="UNKNOWN",
            headline=f"Service job {item.job_id}: no description",
            explanation=item.error or "The job could not be described.",
            start_ms=now_ms,
            end_ms=now_ms,
            try_number=item.try_number,
            map_index=item.map_index,
            role=item.role,
            error=item.error or "not described",
        )
    verdict = interpret(describe) if describe is not None else None
    status = verdict.status if verdict else transitions[-1]["status"]

    if transitions:
        segments = segments_from_observed(transitions, describe, now_ms)
        source = "observed"
    else:
        segments = segments_from_describe(describe or {}, now_ms)
        source = "describe"

    markers: list[Marker] = []
    rows: list[AttemptRow] = []
    preempted_total = 0
    if verdict is not None and describe is not None:
        rows, markers = _attempt_rows(verdict)
        preempted_rows, preempted_markers, preempted_total = _preempted_runs(describe)
        rows.extend(preempted_rows)
        markers.extend(preempted_markers)
        rows.sort(key=lambda r: r.started_ms or r.stopped_ms or 0)

    capacity = capacity_requeues(transitions, describe)
    markers.extend(capacity)
    requeues_known = bool(transitions)
    requeues = len(capacity)
    if (
        not transitions
        and verdict is not None
        and verdict.status == "RUNNABLE"
        and reasons.is_capacity(verdict.status_reason)
    ):
        requeues = 1  # at least one: the job is back in RUNNABLE for capacity right now

    starts = [s.start_ms for s in segments] + [m.at_ms for m in markers]
    created = int_or_none((describe or {}).get("createdAt"))
    if created is not None:
        starts.append(created)
    start = min(starts) if starts else now_ms
    ends = [s.end_ms for s in segments] + [m.at_ms for m in markers]
    end = max(ends) if ends else now_ms
    if verdict is not None and verdict.done:
        stopped = int_or_none((describe or {}).get("stoppedAt"))
        if stopped is not None:
            end = max(end, stopped)
            markers.append(
                Marker(
                    "end",
                    stopped,
                    verdict.outcome.value.lower(),
                    verdict.status_reason,
                    outcome=verdict.outcome.value,
                )
            )
    markers.sort(key=lambda m: m.at_ms)

    if verdict is not None:
        outcome = verdict.outcome.value
        headline = verdict.headline()
        explanation = verdict.explain()
        latest_training = training_job_name(verdict.latest_training_job_arn)
        job_name = verdict.job_name or item.job_name
    else:
        outcome = "IN_PROGRESS" if status not in TERMINAL else status
        headline = f"Service job {item.job_id} was last seen {status}"
        explanation = item.error or "Only the wait's observations are available."
        latest_training = None
        job_name = item.job_name
    if verdict is not None and verdict.outcome is Outcome.IN_PROGRESS and verdict.state_since:
        headline += f" (for {format_duration(now_ms - verdict.state_since)})"

    links = tuple(links_for(item.job_id, latest_training)) if links_for else ()
    return JobLane(
        job_id=item.job_id,
        job_name=job_name,
        status=status,
        outcome=outcome,
        headline=headline,
        explanation=explanation,
        start_ms=start,
        end_ms=max(end, start + 1),
        segments=tuple(segments),
        markers=tuple(markers),
        attempts=tuple(rows),
        capacity_requeues=requeues,
        capacity_requeues_known=requeues_known,
        preemptions=preempted_total,
        source=source,
        links=links,
        try_number=item.try_number,
        map_index=item.map_index,
        role=item.role,
        error=item.error,
    )
