"""One poll per queue in the triggerer: many deferred waits, one listing round per interval.

Every ``BatchServiceJobTrigger`` of a triggerer process waiting on a job of the same
(connection, region, queue) registers with one :class:`QueueWatch`. While at least
``core.sweep.MIN_WAITS`` waits are registered, the watch lists the queue's active jobs once per
the shortest poll interval among the waits registered now (a wait woken by events polls at its
reconciliation interval) (``BatchServiceJobHook.aiter_active_service_jobs``: one
ListServiceJobs per active status, 100 per page) and remembers each job's ``core.sweep.summary_key``. A wait's driver
(``waiting.arun``) then answers the flow's describe with the wait's previous describe when the
round shows its job unchanged, and only describes a job whose summary moved, or that the round
did not show (another queue, eventual consistency, a job that just finished: finished jobs are
not listed), or when no round ran. Each wait wakes when a round completes, so a change is seen
at most one interval late, as with its own describes; its rules (deadline, RUNNABLE guard, log
schedule) run on every wake as before. A round that fails (throttling, a 5xx) is retried at
the next interval and changes nothing meanwhile; a round that AWS refuses (no
``batch:ListServiceJobs``) switches the queue back to one describe per wait.

What it saves: at N waits on one queue, about (6 + N/100) calls per interval instead of N
(``benchmarks/sweep_scale.py``, ``docs/sweeps.md``). Only the async driver uses it: a
reschedule-mode sensor is a new process per poke and has nobody to share a round with.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from typing import TYPE_CHECKING, Any

from airflow_batch_service.core.errors import ErrorKind, classify_exception
from airflow_batch_service.core.sweep import summary_key, worth_listing

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, QueueWatch]] = (
    weakref.WeakKeyDictionary()
)


def watch_for(hook: BatchServiceJobHook, job_queue: str) -> QueueWatch:
    """The running loop's watch of ``job_queue`` for this hook's connection (made on first use)."""
    loop = asyncio.get_running_loop()
    watches = _watches.setdefault(loop, {})
    key = json.dumps([hook.connection_args(), job_queue], sort_keys=True, default=str)
    watch = watches.get(key)
    if watch is None:
        watch = watches[key] = QueueWatch(hook, job_queue)
    return watch


class QueueWatch:
    """The shared listing of one queue, and who waits on it."""

    def __init__(self, hook: BatchServiceJobHook, job_queue: str) -> None:
        self.hook, self.job_queue = hook, job_queue
        self.waits: dict[str, float] = {}  # job id -> the interval its wait polls at
        self.summaries: dict[str, tuple[Any, ...]] = {}
        self.rounds = 0  # completed rounds (tests and the benchmark read it)
        self.round_at: float | None = None  # time.monotonic() of the last completed round
        self.disabled = False
        self._sleepers: set[asyncio.Future[None]] = set()  # waits sleeping until a round
        self._task: asyncio.Task[None] | None = None
        self._since = time.monotonic()  # when the round loop last listed, or started
        self._rescheduled: asyncio.Future[None] | None = None  # wakes the loop's sleep

    @property
    def active(self) -> bool:
        return not self.disabled and worth_listing(len(self.waits))

    @property
    def interval(self) -> float:
        """The shortest interval among the waits registered now, not among every wait the
        process ever ran: once the 2 s waits are gone, their queue's hourly reconciliation
        waits must not go on listing every 2 s."""
        return min(self.waits.values(), default=0.0)

    def due(self) -> float:
        """``time.monotonic()`` of the next round."""
        return self._since + self.interval

    def join(self, job_id: str, interval: float) -> None:
        before = self.interval if self.waits else float("inf")
        self.waits[job_id] = interval
        if self._task is None or self._task.done():
            self._since = time.monotonic()
            self._task = asyncio.get_running_loop().create_task(self._run())
        elif interval < before:
            self._reschedule()  # a shorter wait came: the next round moves closer

    def leave(self, job_id: str) -> None:
        self.waits.pop(job_id, None)
        if not self.waits:
            self._reschedule()  # nobody left: the loop ends now, not an interval later

    def _reschedule(self) -> None:
        if self._rescheduled is not None:
            _wake(self._rescheduled)

    def unchanged(
        self, job_id: str, last: tuple[Any, ...] | None, max_age: float | None = None
    ) -> bool:
        """Whether the latest round (if not older than ``max_age`` seconds) shows ``job_id``
        exactly as the wait last described it."""
        if max_age is not None and (
            self.round_at is None or time.monotonic() - self.round_at > max_age
        ):
            return False
        return self.active and last is not None and self.summaries.get(job_id) == last

    async def next_round(self, timeout: float, woken: asyncio.Future[None] | None = None) -> None:
        """Until the next round completes, or ``timeout`` seconds (the wait's own sleep), or
        ``woken`` is set (by the wait's events).

        One future and one timer per sleeping wait, as ``asyncio.sleep`` has (not
        ``wait_for(shield(...))``'s four objects and a task): a thousand waits sleep here."""
        loop = asyncio.get_running_loop()
        if woken is None:
            woken = loop.create_future()
        self._sleepers.add(woken)
        timer = loop.call_later(timeout, _wake, woken)
        try:
            await woken
        finally:
            timer.cancel()
            self._sleepers.discard(woken)

    async def _sleep_until_due(self) -> bool:
        """Sleep until the next round is due; False if woken earlier to look again."""
        delay = self.due() - time.monotonic()
        if delay <= 0:
            return True
        loop = asyncio.get_running_loop()
        self._rescheduled = woken = loop.create_future()
        timer = loop.call_later(delay, _wake, woken)
        try:
            await woken
        finally:
            timer.cancel()
            self._rescheduled = None
        return self.due() <= time.monotonic()

    async def _run(self) -> None:
        while self.waits:
            if not await self._sleep_until_due():
                continue
            self._since = time.monotonic()
            if not self.active:
                continue
            summaries: dict[str, tuple[Any, ...]] = {}
            try:
                async for page in self.hook.aiter_active_service_jobs(self.job_queue):
                    summaries.update((str(s.get("jobId")), summary_key(s)) for s in page)
            except Exception as exc:
                mapped = classify_exception(exc)
                if mapped is None or mapped[0] is ErrorKind.FATAL:
                    self.disabled = True  # e.g. no batch:ListServiceJobs: describe per wait
                    self.summaries.clear()
                    self.hook.log.warning(
                        "Listing queue %s failed (%s): its waits describe their own jobs",
                        self.job_queue,
                        mapped[1] if mapped else exc,
                    )
                continue  # transient: try at the next interval, changing nothing meanwhile
            self.summaries = summaries
            self.rounds += 1
            self.round_at = time.monotonic()
            sleepers, self._sleepers = self._sleepers, set()
            for woken in sleepers:
                _wake(woken)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():  # already woken by the other of round and timer, or cancelled
        woken.set_result(None)
