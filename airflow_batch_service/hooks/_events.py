"""The hook's SQS calls: reading the service-job events an EventBridge rule delivers.

Event-woken waits and the watcher of jobs submitted elsewhere read one SQS queue per process
(``_shared.event_feed``); these are the only calls they make to it, on the task's ``aws``
connection (``client("sqs")``, with its ``service_config.sqs`` endpoint, so the emulator and a
VPC endpoint apply alike). Each blocking call has its ``async`` twin beside it, on the
process's shared client; the pair share how a request is built and a response read.

A receive long-polls (``WaitTimeSeconds``): it holds a thread for that long, which is why the
feed runs one receive per queue per process, never one per wait, and why it runs on a thread
of its own, not on the pool the describes share (a burst of them would delay the events).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow_batch_service.hooks._base import BatchServiceHookBase

#: SQS takes at most this many entries per batch call and returns at most this many messages.
SQS_BATCH = 10


def _is_url(queue: str) -> bool:
    return queue.startswith(("https://", "http://"))


def _queue_name(queue: str) -> str:
    """A queue's name from its name or ARN (``arn:aws:sqs:region:account:name``)."""
    return queue.rsplit(":", 1)[-1] if queue.startswith("arn:") else queue


def _receive_params(queue_url: str, wait_seconds: int, max_messages: int) -> dict[str, Any]:
    return {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": max(1, min(SQS_BATCH, max_messages)),
        "WaitTimeSeconds": max(0, min(20, int(wait_seconds))),
        "MessageSystemAttributeNames": ["SentTimestamp", "ApproximateReceiveCount"],
    }


def _chunks(receipts: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    entries = [{"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(receipts)]
    for start in range(0, len(entries), SQS_BATCH):
        yield entries[start : start + SQS_BATCH]


def _messages(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(response.get("Messages") or [])


class EventQueueCalls(BatchServiceHookBase):
    """SQS: find the queue, receive, delete, give back."""

    def event_queue_url(self, queue: str) -> str:
        """The URL of the SQS queue ``queue`` (a URL, a name or an ARN)."""
        if _is_url(queue):
            return queue
        return str(self.client("sqs").get_queue_url(QueueName=_queue_name(queue))["QueueUrl"])

    async def aevent_queue_url(self, queue: str) -> str:
        """:meth:`event_queue_url` on the shared client, off the event loop."""
        if _is_url(queue):
            return queue
        response = await self._acall("sqs", "get_queue_url", QueueName=_queue_name(queue))
        return str(response["QueueUrl"])

    def receive_event_messages(
        self, queue_url: str, *, wait_seconds: int = 20, max_messages: int = SQS_BATCH
    ) -> list[dict[str, Any]]:
        """Up to ``max_messages`` messages, waiting up to ``wait_seconds`` for the first."""
        params = _receive_params(queue_url, wait_seconds, max_messages)
        return _messages(self.client("sqs").receive_message(**params))

    async def areceive_event_messages(
        self, queue_url: str, *, wait_seconds: int = 20, max_messages: int = SQS_BATCH
    ) -> list[dict[str, Any]]:
        """:meth:`receive_event_messages` on the shared client, off the event loop."""
        params = _receive_params(queue_url, wait_seconds, max_messages)
        return _messages(await self._along_poll("sqs", "receive_message", **params))

    def delete_event_messages(self, queue_url: str, receipts: Iterable[str]) -> None:
        """Delete the messages of ``receipts`` (ten per DeleteMessageBatch)."""
        for entries in _chunks(list(receipts)):
            self.client("sqs").delete_message_batch(QueueUrl=queue_url, Entries=entries)

    async def adelete_event_messages(self, queue_url: str, receipts: Iterable[str]) -> None:
        """:meth:`delete_event_messages` on the shared client, off the event loop."""
        for entries in _chunks(list(receipts)):
            await self._acall("sqs", "delete_message_batch", QueueUrl=queue_url, Entries=entries)

    def release_event_messages(
        self, queue_url: str, receipts: Iterable[str], *, visible_in: int
    ) -> None:
        """Give the messages of ``receipts`` back to the queue, visible again in
        ``visible_in`` seconds, for another process's consumer (ten per batch call)."""
        for entries in _chunks(list(receipts)):
            for entry in entries:
                entry["VisibilityTimeout"] = int(visible_in)
            self.client("sqs").change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)

    async def arelease_event_messages(
        self, queue_url: str, receipts: Iterable[str], *, visible_in: int
    ) -> None:
        """:meth:`release_event_messages` on the shared client, off the event loop."""
        for entries in _chunks(list(receipts)):
            for entry in entries:
                entry["VisibilityTimeout"] = int(visible_in)
            await self._acall(
                "sqs", "change_message_visibility_batch", QueueUrl=queue_url, Entries=entries
            )
