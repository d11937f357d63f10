"""A lane's time segments and markers: how long a service job spent in each state.

Pure: from a DescribeServiceJob response and, when the wait recorded them, the transitions it
observed (the ``batch_service_timeline`` XCom: ``{"jobId", "jobName", "transitions":
[{"status", "atMs", "exact", "reason"}]}``). No Airflow, no boto3. ``timeline.build_lane``
draws a lane from them.

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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from airflow_batch_service.core import reasons
from airflow_batch_service.core.verdict import format_duration
from airflow_batch_service.plugins.values import int_or_none

#: Segment kinds, in lifecycle order. ``WAITING``: RUNNABLE/SCHEDULED/STARTING, split unknown.
SEGMENT_KINDS = ("SUBMITTED", "PENDING", "RUNNABLE", "WAITING", "SCHEDULED", "STARTING", "RUNNING")
_ACTIVE = frozenset({"SCHEDULED", "STARTING", "RUNNING"})
TERMINAL = frozenset({"SUCCEEDED", "FAILED"})


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


def clean_transitions(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in raw or ():
        if not isinstance(t, Mapping):
            continue
        at = int_or_none(t.get("atMs"))
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


def runs_of(describe: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Attempts and preempted runs, by start: ``{"startedAt", "stoppedAt", "reason", "preempted"}``."""
    runs: list[dict[str, Any]] = []
    for a in describe.get("attempts") or []:
        if isinstance(a, Mapping):
            runs.append({**a, "preempted": False})
    summary = describe.get("preemptionSummary") or {}
    for a in summary.get("recentPreemptedAttempts") or []:
        if isinstance(a, Mapping):
            runs.append({**a, "preempted": True})
    return sorted(
        runs, key=lambda r: int_or_none(r.get("startedAt")) or int_or_none(r.get("stoppedAt")) or 0
    )


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


def segments_from_describe(describe: Mapping[str, Any], now_ms: int) -> list[Segment]:
    created = int_or_none(describe.get("createdAt"))
    if created is None:
        return []
    status = str(describe.get("status") or "")
    stopped = int_or_none(describe.get("stoppedAt"))
    scheduled = int_or_none(describe.get("scheduledAt"))
    end = stopped if (status in TERMINAL and stopped is not None) else now_ms
    segments: list[Segment] = []
    cursor = created
    ran = False
    for run in runs_of(describe):
        started = int_or_none(run.get("startedAt"))
        run_stop = int_or_none(run.get("stoppedAt"))
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
                ongoing=run_stop is None and status not in TERMINAL,
                note="preempted" if run.get("preempted") else None,
            )
        )
        cursor = max(cursor, stop)
    # The latest try, when it has not run (yet), or was scheduled again after the last run and
    # ended before it ran: scheduledAt splits RUNNABLE from SCHEDULED.
    if status not in TERMINAL or not ran or (scheduled is not None and scheduled > cursor):
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
        elif status in TERMINAL and end > cursor:
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


def segments_from_observed(
    transitions: list[dict[str, Any]], describe: Mapping[str, Any] | None, now_ms: int
) -> list[Segment]:
    status = str(
        (describe or {}).get("status") or (transitions[-1]["status"] if transitions else "")
    )
    stopped = int_or_none((describe or {}).get("stoppedAt"))
    created = int_or_none((describe or {}).get("createdAt"))
    segments: list[Segment] = []
    first_at = transitions[0]["atMs"]
    if created is not None and first_at > created:
        segments.append(Segment("WAITING", created, first_at, note="before the wait's first look"))
    for i, t in enumerate(transitions):
        if t["status"] in TERMINAL:
            continue
        if i + 1 < len(transitions):
            nxt = transitions[i + 1]
            end, exact, ongoing = nxt["atMs"], t["exact"] and nxt["exact"], False
        elif status in TERMINAL and stopped is not None:
            end, exact, ongoing = stopped, t["exact"], False
        else:
            end, exact, ongoing = now_ms, t["exact"], status not in TERMINAL
        if end < t["atMs"]:
            continue
        segments.append(Segment(t["status"], t["atMs"], end, exact=exact, ongoing=ongoing))
    return segments


def capacity_requeues(
    transitions: list[dict[str, Any]], describe: Mapping[str, Any] | None
) -> list[Marker]:
    """RUNNABLE again after SCHEDULED/STARTING with no attempt ending in between (or with a
    capacity reason): Batch requeued the job without using an attempt."""
    stops = sorted(
        int_or_none(r.get("stoppedAt")) or 0
        for r in runs_of(describe or {})
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
