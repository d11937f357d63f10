"""AWS Batch's state-change events: one per status change of a service job, into EventBridge.

AWS publishes ``Batch Service Job State Change`` on every status change of an existing
service job (none for the submission itself), with the job's DescribeServiceJob view minus
``tags`` and ``serviceRequestPayload`` as ``detail``; and ``Batch Service Job Preemption
Started`` / ``... Completed`` around a preemption. The world tells the backend of each change
as it applies it (``World.sync``), in time order, whoever reads or not; the backend hands it
to the :class:`EventPublisher` kept in the emulator's settings, which builds the envelope,
lets the fault knobs (``event_knobs``) drop, duplicate, delay or hold it back, and hands what
is due to EventBridge (``event_delivery``).

An event is built only while the job's account and region has an ENABLED pattern rule on its
default bus: otherwise it could reach nobody, and building none keeps a run without rules
exactly as it was (no counters, no random draws).
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_batch_service.emulator import event_delivery, job_views
from airflow_batch_service.emulator.event_knobs import EventKnobs

if TYPE_CHECKING:
    from airflow_batch_service.core.status import ServiceJobStatus
    from airflow_batch_service.emulator.jobs import ServiceJob

SOURCE = "aws.batch"
STATE_CHANGE = "Batch Service Job State Change"
PREEMPTION_STARTED = "Batch Service Job Preemption Started"
PREEMPTION_COMPLETED = "Batch Service Job Preemption Completed"
#: DescribeServiceJob members AWS leaves out of an event's detail (documented).
NOT_IN_DETAIL = ("tags", "serviceRequestPayload")
#: The counters ``stats()["events"]`` reports.
COUNTERS = ("published", "delivered", "dropped", "duplicated", "delayed", "reordered")

Event = dict[str, Any]


def event_time(seconds: float) -> str:
    """EventBridge's ``time``: ISO 8601 UTC to the second (``2026-12-07T05:40:00Z``)."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(job: ServiceJob, at: float, detail_type: str, detail: dict[str, Any]) -> Event:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": job.account_id,
        "time": event_time(at),
        "region": job.region,
        "resources": [job.job_arn],
        "detail": detail,
    }


def state_change_detail(job: ServiceJob) -> dict[str, Any]:
    """The job as DescribeServiceJob shows it now, without what AWS leaves out. Built from the
    view itself, not ``ServiceJob.describe``: an event is no client's sighting
    (``holdUntilSeen``)."""
    detail = job_views.describe(job)
    for key in NOT_IN_DETAIL:
        detail.pop(key, None)
    return detail


def job_events(
    job: ServiceJob, at: float, before: ServiceJobStatus, preempted: bool
) -> list[Event]:
    """The events of one change of ``job`` (made at ``at``, from status ``before``): its state
    change, between the two preemption events when the change was a preemption."""
    change = envelope(job, at, STATE_CHANGE, state_change_detail(job))
    if not preempted:
        return [change]
    reason = job.preempted[-1].status_reason if job.preempted else job.status_reason
    started = {"statusReason": reason, "preemptedJobArn": job.job_arn, "status": before.value}
    summary = state_change_detail(job).get("preemptionSummary", {})
    completed = {"preemptedJobArn": job.job_arn, "preemptionSummary": summary}
    return [
        envelope(job, at, PREEMPTION_STARTED, started),
        change,
        envelope(job, at, PREEMPTION_COMPLETED, completed),
    ]


class EventPublisher:
    """The events on their way: the fault draws, the delayed ones, the held-back ones.

    Every event takes three draws (drop, duplicate, reorder) whatever the knobs, so a seed
    gives the same faults for the same sequence of events. An event is due ``delay_seconds``
    after it happened; :meth:`flush` delivers what is due by then, in due order. A held-back
    event goes out right after the job's next event (even if that one is dropped); a job's
    last event is never held back, since nothing would follow it.
    """

    def __init__(self, knobs: EventKnobs, now: Callable[[], float]) -> None:
        self.knobs = knobs
        self._now = now
        self._rng = random.Random(knobs.seed)
        self._order = itertools.count()
        self._pending: list[tuple[float, int, Event]] = []
        self._held: dict[str, list[tuple[int, Event]]] = {}  # job ARN -> (copies, event)
        self.counts: Counter[str] = Counter()

    def configure(self, knobs: EventKnobs, reseed: bool = False) -> None:
        """New knobs; ``reseed`` (a seed was given, even the same one) restarts the random
        source from ``knobs.seed``."""
        if reseed:
            self._rng = random.Random(knobs.seed)
        self.knobs = knobs

    def job_changed(
        self, job: ServiceJob, at: float, before: ServiceJobStatus, preempted: bool
    ) -> None:
        """``job`` changed status at ``at`` (``World.sync``): publish what AWS would."""
        if not self.knobs.enabled or not event_delivery.has_rules(job.account_id, job.region):
            return
        events = job_events(job, at, before, preempted)
        for i, event in enumerate(events):
            self._publish(job.job_arn, event, at, last=job.terminal and i == len(events) - 1)
        self.flush(self._now())

    def _publish(self, key: str, event: Event, at: float, last: bool) -> None:
        knobs, counts = self.knobs, self.counts
        drop, duplicate, reorder = (self._rng.random() for _ in range(3))
        counts["published"] += 1
        copies = 0 if drop < knobs.drop else 2 if duplicate < knobs.duplicate else 1
        if copies == 0:
            counts["dropped"] += 1
        elif copies == 2:
            counts["duplicated"] += 1
        if copies and knobs.delay_seconds:
            counts["delayed"] += 1
        held = self._held.pop(key, [])
        if copies and reorder < knobs.reorder and not last:
            counts["reordered"] += 1
            self._held[key] = [*held, (copies, event)]
            return
        due = at + knobs.delay_seconds
        for n, item in [(copies, event), *held]:
            for _ in range(n):
                heapq.heappush(self._pending, (due, next(self._order), item))

    def flush(self, now: float) -> int:
        """Deliver every event due by ``now``; returns how many."""
        delivered = 0
        while self._pending and self._pending[0][0] <= now:
            _, _, event = heapq.heappop(self._pending)
            event_delivery.deliver(event)
            delivered += 1
        self.counts["delivered"] += delivered
        return delivered

    def pending(self) -> int:
        """Deliveries still to come: delayed ones, and held-back ones with their copies."""
        return len(self._pending) + sum(n for held in self._held.values() for n, _ in held)

    def stats(self) -> dict[str, int] | None:
        """The counters since the last reset, None while nothing was published."""
        if not self.counts["published"]:
            return None
        return {**{key: self.counts[key] for key in COUNTERS}, "pending": self.pending()}

    def reset_stats(self) -> None:
        self.counts.clear()
