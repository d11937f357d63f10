"""What a deferred wait makes of a state-change event for its job. No I/O.

Events are hints; DescribeServiceJob stays the source of truth. EventBridge delivers an
event at least once, late, out of order, or never, so:

* An event saying the job **ended** (SUCCEEDED, FAILED) wakes the wait to **describe** the
  job: the ending, its attempts and its explanation always come from the service. The
  event cannot end a wait by itself. Until a describe shows the end (one failed, or the
  service does not show it yet), the wait describes again every ``poll_interval``.
* An event saying the job **moved on** (a new status, or a new attempt) wakes the wait and
  is **used** as what a describe would have said at that moment (its ``detail`` is the
  describe response without tags and payload): the wait logs the change, follows the
  training logs and the queue, at no Batch call. It ends nothing.
* An event that is **not news** (a duplicate, the status the wait already saw, an older
  state delivered late, anything after the wait saw the end) is **ignored**.

Whatever is dropped is caught by the reconciliation poll (the queue's shared listing round
at ``reconcile_interval``), exactly as a wait without events polls.

"Moved on" compares :func:`progress`: (number of attempts, place in the lifecycle). A retry
adds an attempt, so RUNNING -> RUNNABLE of a retry is progress; a RUNNABLE event delivered
after RUNNING of the same attempt is not. If AWS counts attempts differently than assumed
here the worst case is an ignored hint, never a wrong ending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from airflow_batch_service.core.events import JobEvent
from airflow_batch_service.core.status import LIFECYCLE, TERMINAL_STATUSES, ServiceJobStatus

#: Seconds between a wait's own polls when events wake it (``reconcile_interval``).
RECONCILE_INTERVAL = 300.0

DESCRIBE: Literal["describe"] = "describe"
USE: Literal["use"] = "use"
IGNORE: Literal["ignore"] = "ignore"
Judgement = Literal["describe", "use", "ignore"]

_RANK = {status.value: rank for rank, status in enumerate(LIFECYCLE)}
_RANK[ServiceJobStatus.PENDING.value] = _RANK[ServiceJobStatus.SUBMITTED.value]
_FINAL = {status.value for status in TERMINAL_STATUSES}


def progress(detail: Mapping[str, Any]) -> tuple[int, int]:
    """How far a job had got in a describe response or an event's detail."""
    status = str(detail.get("status") or "")
    rank = len(LIFECYCLE) if status in _FINAL else _RANK.get(status, -1)
    return len(detail.get("attempts") or ()), rank


def ended(detail: Mapping[str, Any]) -> bool:
    """Whether a describe response (or an event's detail) shows the job ended."""
    return str(detail.get("status") or "") in _FINAL


def judge(event: JobEvent, last: Mapping[str, Any] | None) -> Judgement:
    """What the wait whose last describe (or used event) was ``last`` does with ``event``."""
    if last is not None and ended(last):
        return IGNORE  # the wait has its ending already
    if event.final:
        return DESCRIBE
    if last is None:
        return USE
    if progress(event.detail) <= progress(last):
        return IGNORE
    return USE


def as_describe(event: JobEvent) -> dict[str, Any]:
    """The event's detail as the describe reply it stands in for."""
    return {**event.detail, "jobId": event.job_id, "status": event.status}


def check_event_settings(event_queue: object, reconcile_interval: object) -> None:
    """Refuse, naming the argument, what a task cannot wait on: an ``event_queue`` that is not
    a queue's URL, name or ARN (or ``False``/None), a ``reconcile_interval`` that is not a
    positive number of seconds."""
    if event_queue not in (None, False) and (not isinstance(event_queue, str) or not event_queue):
        raise ValueError(
            f"event_queue: must be an SQS queue's URL, name or ARN, or False to read no events "
            f"(got {event_queue!r})"
        )
    if reconcile_interval is not None and (
        isinstance(reconcile_interval, bool)
        or not isinstance(reconcile_interval, int | float)
        or not reconcile_interval > 0
    ):
        raise ValueError(
            f"reconcile_interval: must be a positive number of seconds (got {reconcile_interval!r})"
        )
