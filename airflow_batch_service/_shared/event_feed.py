"""One SQS consumer per queue per triggerer process, shared by every wait and watcher on it.

A deferred wait named an SQS queue (``event_queue``) that an EventBridge rule fills with the
"Batch Service Job State Change" events of its job queues. Every wait of the process on that
SQS queue (and every watcher, before Airflow 3.3) subscribes to one :class:`EventFeed`:
one long-polling ``ReceiveMessage`` loop (``hooks._events``) that hands each event, at once,
to whoever subscribed to its job (``subscribe``) or listens for any job (``listen``), the way
``coalesce.QueueWatch`` shares one listing round per job queue.

Several triggerers read the same queue, and SQS gives each message to one reader only.
So a message nobody here took is given back (visible again in ``release_seconds``) while it is
younger than ``handoff_seconds``: the triggerer that waits on that job reads it a moment later.
Older ones, and those taken here, are deleted (``core.events.disposition``). A job waited on
in two triggerers at once (an operator's wait and a sensor's) gets its event in one of them;
the other learns at its reconciliation poll.

Duplicates are dropped by the event's ``id`` (EventBridge repeats it when it delivers twice),
and what a wait makes of the rest is ``core.event_wait``'s. If the queue cannot be read (no
``sqs:ReceiveMessage``, no such queue), :attr:`EventFeed.problem` says why, the waits go back
to polling at their ``poll_interval``, and the feed tries again every minute; transient
trouble is retried with backoff and changes nothing meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_batch_service.core.errors import ErrorKind, classify_exception
from airflow_batch_service.core.events import DELETE, JobEvent, disposition, job_id_of, parse_event

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

Callback = Callable[[JobEvent], Any]

#: Seconds one ReceiveMessage waits for a message (below the hook's 20 s read timeout).
WAIT_SECONDS = 10
#: A message no wait here took is given back to the queue while younger than this.
HANDOFF_SECONDS = 30.0
#: ... visible to every reader again after this many seconds.
RELEASE_SECONDS = 1
#: How long the feed waits before trying a queue it could not read again.
RETRY_FATAL_SECONDS = 60.0
#: How many event ids the feed remembers to drop duplicates.
REMEMBERED = 20_000

_feeds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, EventFeed]] = (
    weakref.WeakKeyDictionary()
)


def feed_for(hook: BatchServiceJobHook, queue: str) -> EventFeed:
    """The running loop's feed of the SQS ``queue`` for this hook's connection (made on first
    use)."""
    loop = asyncio.get_running_loop()
    feeds = _feeds.setdefault(loop, {})
    key = json.dumps([hook.connection_args(), queue], sort_keys=True, default=str)
    feed = feeds.get(key)
    if feed is None:
        feed = feeds[key] = EventFeed(hook, queue)
    return feed


class EventFeed:
    """The shared consumer of one SQS queue, and who listens to it."""

    def __init__(self, hook: BatchServiceJobHook, queue: str) -> None:
        self.hook, self.queue = hook, queue
        self.wait_seconds = WAIT_SECONDS
        self.handoff_seconds = HANDOFF_SECONDS
        self.release_seconds = RELEASE_SECONDS
        self.subscribers: dict[str, set[Callback]] = {}
        self.listeners: set[Callback] = set()
        self.on_problem: set[Callable[[], Any]] = set()  # told when the queue cannot be read
        self.problem: str | None = None  # why the queue cannot be read, while it cannot
        self.stats = {
            "received": 0,
            "delivered": 0,
            "duplicates": 0,
            "released": 0,
            "deleted": 0,
            "foreign": 0,
        }
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._url: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        return self.problem is None

    def subscribe(self, job_id: str, callback: Callback) -> None:
        """Call ``callback(event)`` for each new event of ``job_id`` (a jobId or its ARN)."""
        self.subscribers.setdefault(job_id_of(job_id), set()).add(callback)
        self._start()

    def unsubscribe(self, job_id: str, callback: Callback) -> None:
        callbacks = self.subscribers.get(job_id_of(job_id))
        if callbacks is not None:
            callbacks.discard(callback)
            if not callbacks:
                del self.subscribers[job_id_of(job_id)]

    def listen(self, callback: Callback) -> None:
        """Call ``callback(event)`` for every new event; it returns whether it took it."""
        self.listeners.add(callback)
        self._start()

    def unlisten(self, callback: Callback) -> None:
        self.listeners.discard(callback)

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        backoff = 1.0
        while self.subscribers or self.listeners:
            try:
                if self._url is None:
                    self._url = await self.hook.aevent_queue_url(self.queue)
                messages = await self.hook.areceive_event_messages(
                    self._url, wait_seconds=self.wait_seconds
                )
            except Exception as exc:
                mapped = classify_exception(exc)
                if mapped is not None and mapped[0] is not ErrorKind.FATAL:
                    await asyncio.sleep(backoff)  # transient: the waits keep what they have
                    backoff = min(backoff * 2, 30.0)
                    continue
                self._fail(mapped[1] if mapped else repr(exc))
                await asyncio.sleep(RETRY_FATAL_SECONDS)
                continue
            backoff = 1.0
            if self.problem is not None:
                self.hook.log.info("Reading service-job events from %s again", self.queue)
                self.problem = None
            await self._handle(messages)

    def _fail(self, problem: str) -> None:
        if self.problem is None:
            for wake in list(self.on_problem):
                wake()  # sleeping waits go back to their poll_interval now, not after a sleep
            self.hook.log.warning(
                "Cannot read service-job events from SQS queue %s (%s): its waits poll at "
                "their poll_interval until it can be read",
                self.queue,
                problem,
            )
        self.problem = problem
        self._url = None

    async def _handle(self, messages: list[dict[str, Any]]) -> None:
        verdicts: dict[str, list[str]] = {"delete": [], "release": []}
        now = time.time()
        for message in messages:
            self.stats["received"] += 1
            receipt = str(message.get("ReceiptHandle"))
            event = parse_event(message.get("Body") or "")
            if event is None:
                self.stats["foreign"] += 1
                verdicts[DELETE].append(receipt)
                continue
            if event.event_id and event.event_id in self._seen:
                self.stats["duplicates"] += 1
                verdicts[DELETE].append(receipt)
                continue
            taken = self._deliver(event)
            sent = float((message.get("Attributes") or {}).get("SentTimestamp") or now * 1000)
            verdict = disposition(
                taken=taken,
                age_seconds=now - sent / 1000,
                handoff_seconds=self.handoff_seconds,
            )
            verdicts[verdict].append(receipt)
        await self._settle(verdicts)

    def _deliver(self, event: JobEvent) -> bool:
        callbacks = list(self.subscribers.get(event.job_id, ()))
        taken = bool(callbacks)
        for callback in callbacks:
            callback(event)
        for listener in list(self.listeners):
            taken = bool(listener(event)) or taken
        if taken:
            self.stats["delivered"] += 1
            if event.event_id:
                self._seen[event.event_id] = None
                while len(self._seen) > REMEMBERED:
                    self._seen.popitem(last=False)
        return taken

    async def _settle(self, verdicts: dict[str, list[str]]) -> None:
        assert self._url is not None
        try:
            if verdicts["delete"]:
                await self.hook.adelete_event_messages(self._url, verdicts["delete"])
                self.stats["deleted"] += len(verdicts["delete"])
            if verdicts["release"]:
                await self.hook.arelease_event_messages(
                    self._url, verdicts["release"], visible_in=self.release_seconds
                )
                self.stats["released"] += len(verdicts["release"])
        except Exception as exc:  # they come back after the visibility timeout: harmless
            self.hook.log.debug("Settling SQS messages of %s failed: %s", self.queue, exc)
