"""What the demo prints about each DAG: the jobs' timelines, the sweep's capacity chart,
and the lines of the DAG's own output worth repeating.

Built from DescribeServiceJob and ``core.verdict`` only (what real AWS returns too), so the
demo shows what a user of the provider would see against a real account. Apart from
``demo`` (which starts and stops things) because this part only reads and prints.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_batch_service.core.verdict import interpret

#: Lines of a DAG's Airflow output worth repeating under its timelines.
_RESULT_LINE = re.compile(r"(?:best )?learning rate [^:\s]+: loss [^\s\[]+")


@dataclass
class Event:
    at: int  # epoch ms
    text: str


def timeline(describe: Mapping[str, Any]) -> list[Event]:
    """A job's history as far as DescribeServiceJob tells it, explained by ``core.verdict``."""
    verdict = interpret(describe)
    events = [Event(int(describe["createdAt"]), "SUBMITTED")]
    if describe.get("scheduledAt") and not verdict.attempts:
        events.append(Event(int(describe["scheduledAt"]), "SCHEDULED: handed to SageMaker"))
    elif describe.get("scheduledAt") and len(verdict.attempts) == 1:
        scheduled = int(describe["scheduledAt"])
        waited = (scheduled - int(describe["createdAt"])) / 1000
        events.append(Event(scheduled, f"SCHEDULED: got capacity after {waited:.1f}s in the queue"))
    for report in verdict.attempts:
        if report.started_at is not None:
            events.append(
                Event(
                    report.started_at,
                    f"attempt {report.number} started: training job {report.training_job_name}",
                )
            )
        if report.stopped_at is not None or report.succeeded:
            text = report.describe()
            events.append(Event(report.stopped_at or report.started_at or events[-1].at, text))
    if verdict.preempted_count:
        events.append(
            Event(events[-1].at, f"preempted {verdict.preempted_count} time(s) along the way")
        )
    if verdict.done:
        stopped = int(describe.get("stoppedAt") or events[-1].at)
        events.append(
            Event(stopped, f"{verdict.status}: {verdict.status_reason or ''}".rstrip(": "))
        )
    else:
        events.append(Event(events[-1].at, f"still {verdict.status}"))
    return sorted(events, key=lambda e: e.at)


#: Task-log lines worth repeating: what DescribeServiceJob keeps no record of.
_LOG_NOTES = ("without using an attempt", "was preempted")
#: ``[info     ] <message> [<logger>] loc=...``: the logger is the sensor's (``airflow.task...``)
#: or, for a deferred wait, the trigger's (``airflow_batch_service.triggers...``).
_LOG_LINE = re.compile(r"\] (?P<message>.*?) \[[A-Za-z_][\w.]*\](?: |$)")


def notes_from_log(log_text: str, job_name: str) -> list[str]:
    """The provider's task-log lines about ``job_name`` that DescribeServiceJob can't show
    (a capacity bounce, a preemption), each once."""
    notes: list[str] = []
    for line in log_text.splitlines():
        match = _LOG_LINE.search(line)
        if match and job_name in line and any(word in line for word in _LOG_NOTES):
            message = match.group("message")
            if message not in notes:
                notes.append(message)
    return notes


def result_lines(log_text: str) -> list[str]:
    """The DAG's own result lines (each run of a sweep, then its pick), each once."""
    found: list[str] = []
    for line in log_text.splitlines():
        match = _RESULT_LINE.search(line)
        if match and match.group(0) not in found:
            found.append(match.group(0))
    return found


def print_timeline(describe: Mapping[str, Any], log_text: str = "", out: Any = sys.stdout) -> None:
    verdict = interpret(describe)
    print(f"  job {verdict.job_name} ({verdict.job_id})", file=out)
    start = int(describe["createdAt"])
    for event in timeline(describe):
        print(f"    +{(event.at - start) / 1000:6.1f}s  {event.text}", file=out)
    for note in notes_from_log(log_text, verdict.job_name or verdict.job_id):
        print(f"    task log: {note}", file=out)
    print(f"    => {verdict.headline()}", file=out)


def capacity_chart(
    describes: list[Mapping[str, Any]], capacity: int, out: Any = sys.stdout, width: int = 60
) -> None:
    """One line per job: ``.`` waiting (submitted, RUNNABLE), ``#`` holding capacity (from
    its latest scheduledAt to stoppedAt), then the most jobs that held capacity at once."""
    if not describes:
        return
    start = min(int(d["createdAt"]) for d in describes)
    end = max(int(d.get("stoppedAt") or d.get("scheduledAt") or d["createdAt"]) for d in describes)
    scale = max(end - start, 1) / width
    edges: list[tuple[int, int]] = []
    print(f"  capacity: {capacity} instance(s); '.' waiting for capacity, '#' holding it", file=out)
    for d in sorted(describes, key=lambda d: (d.get("scheduledAt") or end, d["createdAt"])):
        created, scheduled = int(d["createdAt"]), int(d.get("scheduledAt") or end)
        stopped = int(d.get("stoppedAt") or end)
        cells = []
        for i in range(width):
            at = start + (i + 0.5) * scale
            cells.append(
                "#" if scheduled <= at < stopped else "." if created <= at < scheduled else " "
            )
        name = str(d.get("jobName", ""))[:28]
        print(
            f"    {name:<28} |{''.join(cells)}| waited {(scheduled - created) / 1000:5.1f}s",
            file=out,
        )
        edges += [(scheduled, 1), (stopped, -1)]
    peak = current = 0
    for _, delta in sorted(edges):
        current += delta
        peak = max(peak, current)
    print(f"    at most {peak} job(s) held capacity at once (limit {capacity} instances)", file=out)
