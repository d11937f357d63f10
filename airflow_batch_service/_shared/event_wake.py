"""One deferred wait's side of the event feed: woken by its job's events, polled slowly.

A wait that names an ``event_queue`` polls at ``reconcile_interval`` (minutes) instead of
``poll_interval``, through the queue's shared listing round as before (``coalesce``), and
subscribes to the SQS queue's feed (``event_feed``) for its job. Each event is judged by
``core.event_wait``: a final status wakes the wait to describe the job (the ending always
comes from the service, and until a describe shows it the wait describes every
``poll_interval``); a new state wakes it with the event's detail standing in for a describe
(no Batch call); anything else is ignored. The task log says which event woke it.

While the feed cannot read its queue, the wait sleeps no longer than its ``poll_interval``
and trusts no listing round older than that: it polls as a wait without events does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_batch_service._shared.event_feed import EventFeed, feed_for
from airflow_batch_service.core.event_wait import (
    DESCRIBE,
    IGNORE,
    USE,
    as_describe,
    ended,
    judge,
)
from airflow_batch_service.core.events import JobEvent

if TYPE_CHECKING:
    from airflow_batch_service._shared.coalesce import QueueWatch
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook


class JobEvents:
    """The events of one job, for the one wait on it in this process."""

    def __init__(
        self, hook: BatchServiceJobHook, queue: str, job_id: str, poll_interval: float
    ) -> None:
        self.feed: EventFeed = feed_for(hook, queue)
        self.job_id, self.poll_interval = job_id, poll_interval
        self.last: Mapping[str, Any] | None = None  # what the wait last knew of the job
        self.ignored = 0
        self._pending: dict[str, Any] | None = None
        self._describe = False
        self._note: str | None = None
        self._woken: asyncio.Future[None] | None = None
        self.feed.subscribe(job_id, self._on_event)
        self.feed.on_problem.add(self._wake)

    @property
    def healthy(self) -> bool:
        return self.feed.healthy

    def close(self) -> None:
        self.feed.unsubscribe(self.job_id, self._on_event)
        self.feed.on_problem.discard(self._wake)

    def _wake(self) -> None:
        if self._woken is not None:
            _wake(self._woken)

    def _on_event(self, event: JobEvent) -> None:
        judgement = judge(event, self._pending or self.last)
        if judgement == IGNORE:
            self.ignored += 1
            return
        if judgement == USE:
            self._pending = as_describe(event)
        else:
            self._pending, self._describe = None, True
        what = "describing it" if judgement == DESCRIBE else "no call needed"
        self._note = (
            f"Woken by a state-change event: service job {event.job_id} is {event.status} "
            f"(event {event.event_id or '?'} of {event.time or '?'}; {what})"
        )
        self._wake()

    def take(self) -> tuple[str, dict[str, Any] | None, str] | None:
        """What woke the wait, once: (``use`` and the describe it stands for, or ``describe``
        and None) with the log line saying so ("" when it was said already); None if no
        event did. A describe an event asked for stays owed until one succeeds."""
        note, self._note = self._note, None
        if self._describe:
            self._pending = None
            return DESCRIBE, None, note or ""
        if note is None:
            return None
        reply, self._pending = self._pending, None
        return USE, reply, note

    def saw(self, reply: Any) -> None:
        """The wait's latest knowledge of the job (a describe, or an event it used)."""
        if isinstance(reply, Mapping):
            self.last = reply
            if ended(reply):  # what the event said is confirmed: nothing is owed any more
                self._describe = False

    async def sleep(self, seconds: float, watch: QueueWatch | None) -> None:
        """Until an event for the job, the next listing round, or ``seconds``."""
        if self._note is not None:
            return  # an event came while the wait was busy
        if self._describe:  # an event said the job ended; no describe has shown it yet
            seconds = min(seconds, self.poll_interval)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._woken = woken
        try:
            if watch is not None and watch.active:
                await watch.next_round(seconds, woken=woken)
            else:
                timer = asyncio.get_running_loop().call_later(seconds, _wake, woken)
                try:
                    await woken
                finally:
                    timer.cancel()
        finally:
            self._woken = None


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)
