"""The watcher's SQS queue as an Airflow 3.3 shared stream, in ack mode.

On Airflow 3.3+, every ``BatchServiceJobEventTrigger`` of a triggerer process on the same
(connection, SQS queue) shares one stream (``BaseEventTrigger.shared_stream_key``): this
producer long-polls the queue once for all of them and Airflow broadcasts each message to
every watcher's filter. In ack mode Airflow tells the producer when every watcher has moved
past a message and the asset events it led to are stored in the metadata database; only then
does :meth:`SqsEventProducer.advance` delete it. A triggerer that dies before that leaves the
message in the queue, and it is delivered again: at least once, as EventBridge itself.

A message none of this process's watchers took is given back for another triggerer's watchers
while it is young, as the waits' feed does (``core.events.disposition``). Imports
``airflow.triggers.shared_stream``, which exists from Airflow 3.3: the trigger imports this
module only from ``create_shared_stream_producer``, which older triggerers never call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.triggers.shared_stream import AdvanceItem, SharedStreamProducer

from airflow_batch_service._shared.clients import get_shared_hook
from airflow_batch_service._shared.event_feed import HANDOFF_SECONDS, RELEASE_SECONDS, WAIT_SECONDS
from airflow_batch_service.core.errors import ErrorKind, classify_exception
from airflow_batch_service.core.events import DELETE, JobEvent, disposition, parse_event

CONNECTION_FIELDS = ("aws_conn_id", "region_name", "verify", "botocore_config")


@dataclass(slots=True)
class RawEvent:
    """One SQS message as every watcher of the process sees it: its event (None for a
    message that holds no service-job event) and whether a watcher took it."""

    event: JobEvent | None
    receipt: str
    sent_ms: float
    taken: bool = False


class SqsEventProducer(SharedStreamProducer):
    """Reads one SQS queue for every watcher of the process on it."""

    def __init__(self, kwargs: Mapping[str, Any]) -> None:
        self.queue = str(kwargs["event_queue"])
        self.hook = get_shared_hook(**{name: kwargs.get(name) for name in CONNECTION_FIELDS})
        self.url: str | None = None

    async def open_stream(self) -> AsyncIterator[tuple[Any, Any]]:
        backoff = 1.0
        while True:
            try:
                if self.url is None:
                    self.url = await self.hook.aevent_queue_url(self.queue)
                messages = await self.hook.areceive_event_messages(
                    self.url, wait_seconds=WAIT_SECONDS
                )
            except Exception as exc:
                mapped = classify_exception(exc)
                if mapped is None or mapped[0] is ErrorKind.FATAL:
                    raise  # Airflow fails the watchers with it: the log says why
                await asyncio.sleep(backoff)
                backoff = min(2 * backoff, 30.0)
                continue
            backoff = 1.0
            for message in messages:
                attributes = message.get("Attributes") or {}
                raw = RawEvent(
                    event=parse_event(message.get("Body") or ""),
                    receipt=str(message.get("ReceiptHandle")),
                    sent_ms=float(attributes.get("SentTimestamp") or time.time() * 1000),
                )
                yield raw, raw

    async def advance(self, batch: Sequence[AdvanceItem]) -> None:
        assert self.url is not None  # a message came from it
        delete: list[str] = []
        release: list[str] = []
        now = time.time()
        for item in batch:
            raw: RawEvent = item.broker_payload
            if item.outcome.failed:
                release.append(raw.receipt)  # not stored: deliver it again
                continue
            verdict = disposition(
                taken=raw.taken or raw.event is None,
                age_seconds=now - raw.sent_ms / 1000,
                handoff_seconds=HANDOFF_SECONDS,
            )
            (delete if verdict == DELETE else release).append(raw.receipt)
        try:
            if delete:
                await self.hook.adelete_event_messages(self.url, delete)
            if release:
                await self.hook.arelease_event_messages(
                    self.url, release, visible_in=RELEASE_SECONDS
                )
        except Exception as exc:  # they come back after the visibility timeout: harmless
            self.hook.log.warning("Settling SQS messages of %s failed: %s", self.queue, exc)
