"""One lane per service job: the time spent in each state, attempts, requeues, preemptions.

Pure: builds view models from a DescribeServiceJob response and, when the wait recorded them,
the transitions it observed (the ``batch_service_timeline`` XCom: ``{"jobId", "jobName",
"transitions": [{"status", "atMs", "exact", "reason"}]}``). No Airflow, no boto3.

Where the times come from, and how sure they are:

- **Observed** (the XCom): every state change a poll saw, with the time from the response
  when it had one (``exact``) or the time of the poll that saw it. Capacity requeues
  (SCHEDULED back to RUNNABLE) are only ever known this way: the describe keeps no trace of
  them once the job moved on.
- **Describe only** (an earlier try, whose XComs Airflow cleared, or a task that submitted
  without waiting): ``createdAt``, each attempt's and each preempted run's ``startedAt`` /
  ``stoppedAt``, the job's ``scheduledAt`` (its latest move from RUNNABLE to SCHEDULED) and its
  ``stoppedAt``. Attempts carry no ``scheduledAt``, so a stretch between two runs was RUNNABLE,
  SCHEDULED or STARTING in some order the response does not tell: one ``WAITING`` segment. The
  stretch that holds ``scheduledAt`` is split there: RUNNABLE before it (capacity bounces, which
  leave no trace, included), SCHEDULED/STARTING after it. Every segment time is exact (response
  timestamps).

Attempts, the rule that decided each failed one, and the final explanation come from
:func:`airflow_batch_service.core.verdict.interpret`, the same reading the sensor logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from airflow_batch_service.core import reasons
from airflow_batch_service.core.verdict import (
    Outcome,
    format_duration,
    interpret,
    training_job_name,
)

#: Segment kinds, in lifecycle order. ``WAITING``: RUNNABLE/SCHEDULED/STARTING, split unknown.
SEGMENT_KINDS = ("SUBMITTED", "PENDING", "RUNNABLE", "WAITING", "SCHEDULED", "STARTING", "RUNNING")
_ACTIVE = frozenset({"SCHEDULED", "STARTING", "RUNNING"})
_TERMINAL = frozenset({"SUCCEEDED", "FAILED"})

LinksFor = Callable[[str, str | None], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class Segment:
    """``status`` from ``start_ms`` to ``end_ms``; ``ongoing`` when ``end_ms`` is "now"."""

    status: str
    start_ms: int
    end_ms: int
    exact: bool = True
    ongoing: bool = False
    note: str | None = None

    @property
    def duration_ms(self) -> int:
        return max(0, self.end_ms - self.start_ms)

    def label(self) -> str:
        text = f"{self.status} {format_duration(self.duration_ms)}"
        if self.ongoing:
            text += " so far"
        if not self.exact:
            text += " (as polled)"
        if self.note:
            text += f": {self.note}"
        return text


@dataclass(frozen=True)
class Marker:
    """A point on the lane: an attempt's end, a capacity requeue, a preemption, the end."""

    kind: str  # attempt_failed | attempt_retried | attempt_succeeded | capacity | preempted | end
    at_ms: int
    label: str
    detail: str | None = None
    outcome: str | None = None  # the end pin: the job's final outcome (SUCCEEDED | FAILED)

    @property
    def tone(self) -> str:
        """The pin's colour in words (``ok`` | ``bad`` | ``capacity`` | ``neutral``): an end pin
        follows the job's final outcome, so a FAILED job does not end on a success pin."""
        if self.kind == "end":
            return {"SUCCEEDED": "ok", "FAILED": "bad"}.get(self.outcome or "", "neutral")
        if self.kind == "attempt_succeeded":
            return "ok"
        if self.kind == "capacity":
            return "capacity"
        return "bad"  # attempt_failed, attempt_retried, preempted


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


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _clean_transitions(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in raw or ():
        if not isinstance(t, Mapping):
            continue
        at = _int(t.get("atMs"))
        status = t.get("status")
        if at is None or not status:
            continue
        out.append(
            {
                "status": str(status),
                "atMs": at,
                "exact": bool(t.get("exact")),
                "reason": t.get("reason"),
            }
        )
    # Order by time, keeping the recorded order for equal times.
    return sorted(out, key=lambda t: t["atMs"])


def _runs(describe: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Attempts and preempted runs, by start: ``{"startedAt", "stoppedAt", "reason", "preempted"}``."""
    runs: list[dict[str, Any]] = []
    for a in describe.get("attempts") or []:
        if isinstance(a, Mapping):
            runs.append({**a, "preempted": False})
    summary = describe.get("preemptionSummary") or {}
    for a in summary.get("recentPreemptedAttempts") or []:
        if isinstance(a, Mapping):
            runs.append({**a, "preempted": True})
    return sorted(runs, key=lambda r: _int(r.get("startedAt")) or _int(r.get("stoppedAt")) or 0)


def _before_run(start: int, started: int, scheduled: int | None) -> list[Segment]:
    """The wait from ``start`` (submit, or the previous run's end) to a run's ``started``: split
    at ``scheduledAt`` when it falls in it (RUNNABLE up to it; SCHEDULED then STARTING from it,
    their split unknown), else one ``WAITING`` segment."""
    if scheduled is None or not start <= scheduled <= started:
        return [Segment("WAITING", start, started, note="RUNNABLE, SCHEDULED, STARTING")]
    segments: list[Segment] = []
    if scheduled > start:
        segments.append(Segment("RUNNABLE", start, scheduled))
    if started > scheduled:
        segments.append(Segment("STARTING", scheduled, started, note="SCHEDULED, then STARTING"))
    return segments


def _segments_from_describe(describe: Mapping[str, Any], now_ms: int) -> list[Segment]:
    created = _int(describe.get("createdAt"))
    if created is None:
        return []
    status = str(describe.get("status") or "")
    stopped = _int(describe.get("stoppedAt"))
    scheduled = _int(describe.get("scheduledAt"))
    end = stopped if (status in _TERMINAL and stopped is not None) else now_ms
    segments: list[Segment] = []
    cursor = created
    ran = False
    for run in _runs(describe):
        started = _int(run.get("startedAt"))
        run_stop = _int(run.get("stoppedAt"))
        if started is None:
            continue  # stopped before it ran (terminated while SCHEDULED or STARTING)
        ran = True
        if started > cursor:
            segments.extend(_before_run(cursor, started, scheduled))
        stop = run_stop if run_stop is not None else end
        segments.append(
            Segment(
                "RUNNING",
                started,
                max(started, stop),
                ongoing=run_stop is None and status not in _TERMINAL,
                note="preempted" if run.get("preempted") else None,
            )
        )
        cursor = max(cursor, stop)
    # The latest try, when it has not run (yet), or was scheduled again after the last run and
    # ended before it ran: scheduledAt splits RUNNABLE from SCHEDULED.
    if status not in _TERMINAL or not ran or (scheduled is not None and scheduled > cursor):
        if status in ("SUBMITTED", "PENDING", "RUNNABLE"):
            if end > cursor:
                segments.append(Segment(status, cursor, end, ongoing=True))
        elif status in ("SCHEDULED", "STARTING"):
            if scheduled is not None and scheduled >= cursor:
                if scheduled > cursor:
                    segments.append(Segment("RUNNABLE", cursor, scheduled))
                segments.append(
                    Segment(
                        status if status == "SCHEDULED" else "STARTING",
                        scheduled,
                        end,
                        ongoing=True,
                        note=None if status == "SCHEDULED" else "SCHEDULED, then STARTING",
                    )
                )
            elif end > cursor:
                segments.append(Segment("WAITING", cursor, end, ongoing=True))
        elif status in _TERMINAL and end > cursor:
            if scheduled is not None and cursor <= scheduled < end:
                if scheduled > cursor:
                    segments.append(Segment("RUNNABLE", cursor, scheduled))
                segments.append(
                    Segment(
                        "SCHEDULED",
                        scheduled,
                        end,
                        note="SCHEDULED, maybe STARTING: ended before it ran",
                    )
                )
            else:
                segments.append(Segment("WAITING", cursor, end, note="ended before it ran"))
    return segments


def _segments_from_observed(
    transitions: list[dict[str, Any]], describe: Mapping[str, Any] | None, now_ms: int
) -> list[Segment]:
    status = str(
        (describe or {}).get("status") or (transitions[-1]["status"] if transitions else "")
    )
    stopped = _int((describe or {}).get("stoppedAt"))
    created = _int((describe or {}).get("createdAt"))
    segments: list[Segment] = []
    first_at = transitions[0]["atMs"]
    if created is not None and first_at > created:
        segments.append(Segment("WAITING", created, first_at, note="before the wait's first look"))
    for i, t in enumerate(transitions):
        if t["status"] in _TERMINAL:
            continue
        if i + 1 < len(transitions):
            nxt = transitions[i + 1]
            end, exact, ongoing = nxt["atMs"], t["exact"] and nxt["exact"], False
        elif status in _TERMINAL and stopped is not None:
            end, exact, ongoing = stopped, t["exact"], False
        else:
            end, exact, ongoing = now_ms, t["exact"], status not in _TERMINAL
        if end < t["atMs"]:
            continue
        segments.append(Segment(t["status"], t["atMs"], end, exact=exact, ongoing=ongoing))
    return segments


def _capacity_requeues(
    transitions: list[dict[str, Any]], describe: Mapping[str, Any] | None
) -> list[Marker]:
    """RUNNABLE again after SCHEDULED/STARTING with no attempt ending in between (or with a
    capacity reason): Batch requeued the job without using an attempt."""
    stops = sorted(
        _int(r.get("stoppedAt")) or 0
        for r in _runs(describe or {})
        if r.get("stoppedAt") is not None
    )
    markers: list[Marker] = []
    for prev, cur in pairwise(transitions):
        reason = cur.get("reason")
        if cur["status"] != "RUNNABLE":
            continue
        # Back from SCHEDULED/STARTING; or, when the polls missed the short SCHEDULED, a
        # RUNNABLE that now carries a capacity reason it did not have.
        missed = (
            prev["status"] == "RUNNABLE"
            and reasons.is_capacity(reason)
            and reason != prev.get("reason")
        )
        if prev["status"] not in _ACTIVE and not missed:
            continue
        if reasons.is_preemption(reason):
            continue  # counted from preemptionSummary
        # An attempt that ended between the two looks (a second of slack: times from polls
        # and from the response may round differently).
        ran = any(prev["atMs"] - 1000 <= s <= cur["atMs"] + 1000 for s in stops)
        if ran and not reasons.is_capacity(reason):
            continue  # an attempt failed and was retried: an attempt marker says so
        markers.append(
            Marker(
                "capacity",
                cur["atMs"],
                "requeued for capacity",
                f"{prev['status']} back to RUNNABLE without using an attempt"
                + (f": {reason}" if reason else ""),
            )
        )
    return markers


def build_lane(item: LaneInput, *, now_ms: int, links_for: LinksFor | None = None) -> JobLane:
    """The lane of one job (see the module doc for where each time comes from)."""
    describe = item.describe
    transitions = _clean_transitions(item.transitions)
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
        segments = _segments_from_observed(transitions, describe, now_ms)
        source = "observed"
    else:
        segments = _segments_from_describe(describe or {}, now_ms)
        source = "describe"

    markers: list[Marker] = []
    rows: list[AttemptRow] = []
    preempted_total = 0
    if verdict is not None and describe is not None:
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
            rule = (
                report.decision.rule.describe()
                if report.decision and report.decision.rule
                else None
            )
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
        summary = describe.get("preemptionSummary") or {}
        preempted_total = int(summary.get("preemptedAttemptCount") or 0)
        for run in summary.get("recentPreemptedAttempts") or []:
            if not isinstance(run, Mapping):
                continue
            arn = (run.get("serviceResourceId") or {}).get("value")
            stop = _int(run.get("stoppedAt"))
            rows.append(
                AttemptRow(
                    label="preempted run",
                    outcome="PREEMPTED",
                    started_ms=_int(run.get("startedAt")),
                    stopped_ms=stop,
                    training_job_name=training_job_name(arn),
                    reason=run.get("statusReason"),
                    rule=None,
                    decision="preempted runs use no attempt; Batch requeued the job",
                )
            )
            if stop is not None:
                markers.append(Marker("preempted", stop, "preempted", run.get("statusReason")))
        rows.sort(key=lambda r: r.started_ms or r.stopped_ms or 0)

    capacity = _capacity_requeues(transitions, describe)
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
    created = _int((describe or {}).get("createdAt"))
    if created is not None:
        starts.append(created)
    start = min(starts) if starts else now_ms
    ends = [s.end_ms for s in segments] + [m.at_ms for m in markers]
    end = max(ends) if ends else now_ms
    if verdict is not None and verdict.done:
        stopped = _int((describe or {}).get("stoppedAt"))
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
        outcome = "IN_PROGRESS" if status not in _TERMINAL else status
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


def timeline_entries(value: Any) -> dict[str, list[dict[str, Any]]]:
    """``batch_service_timeline`` XCom value -> ``{jobId: transitions}`` (lenient: a value
    this version does not understand gives nothing, never an error)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return out
    for entry in value:
        if not isinstance(entry, Mapping) or not entry.get("jobId"):
            continue
        transitions = entry.get("transitions")
        if isinstance(transitions, list):
            out.setdefault(str(entry["jobId"]), []).extend(
                dict(t) for t in transitions if isinstance(t, Mapping)
            )
    return out
