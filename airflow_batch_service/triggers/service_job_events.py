"""``BatchServiceJobEventTrigger``: start a DAG when any service job ends, whoever submitted it.

An ``AssetWatcher``'s trigger over the SQS queue an EventBridge rule fills with AWS Batch's
"Batch Service Job State Change" events. It fires one ``TriggerEvent`` per event that passes
its filter (``core.events.EventFilter``: job queues, share identifiers, a job-name prefix,
statuses, by default SUCCEEDED and FAILED), whose payload is the event's summary (job id,
ARN, name, queue, share, status, status reason, attempts): a DAG scheduled on the watched
asset reads it from ``triggering_asset_events``.

How it reads the queue depends on the Airflow version:

* **3.3+**: through Airflow's shared streams, in ack mode. Every such trigger of a triggerer
  process on the same connection and SQS queue shares one long poll
  (``shared_stream_key``); a message is deleted only after every watcher moved past it and
  the asset events it led to were stored (``_shared.event_stream``).
* **3.0-3.2**: through the process's event feed (``_shared.event_feed``), which the
  event-woken waits use too: one long poll per queue per process, a message deleted as soon
  as a watcher of the process took it.

Either way, a message no watcher of this process took is given back to the queue for a short
while for the other triggerers' watchers (``core.events.disposition``), then deleted. Give
watchers their own SQS queue (an EventBridge rule may have five targets) rather than the one
deferred waits read: both delete what they take.

Cheap to import: DAG files build it for ``AssetWatcher`` at parse time; nothing of boto3 or
the feed loads until the triggerer runs it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Hashable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_batch_service.core.events import EventFilter, JobEvent
from airflow_batch_service.core.strict_json import strict_json

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

_STREAM = "airflow_batch_service.service_job_events"


class BatchServiceJobEventTrigger(BaseEventTrigger):
    """Fire for each service-job state change on an SQS queue that passes the filter.

    :param event_queue: the SQS queue (URL, name or ARN) an EventBridge rule delivers the
        service-job events to.
    :param job_queues: job queue names or ARNs to watch (default: any).
    :param share_identifiers: fair-share identifiers to watch (default: any).
    :param job_name_prefix: only jobs whose name starts with this (default: any).
    :param statuses: the statuses to fire on (default ``["SUCCEEDED", "FAILED"]``).
    :param aws_conn_id: the ``aws`` connection; ``region_name``, ``verify`` and
        ``botocore_config`` as on the operator.
    """

    def __init__(
        self,
        *,
        event_queue: str,
        job_queues: Iterable[str] | str | None = None,
        share_identifiers: Iterable[str] | str | None = None,
        job_name_prefix: str | None = None,
        statuses: Iterable[str] | str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not event_queue:
            raise ValueError("event_queue: the SQS queue of the service-job events is required")
        self.event_queue = event_queue
        try:
            self.filter = EventFilter.create(
                job_queues=job_queues,
                share_identifiers=share_identifiers,
                job_name_prefix=job_name_prefix,
                statuses=statuses,
            )
        except ValueError as err:
            raise ValueError(f"BatchServiceJobEventTrigger {err}") from None
        self.connection: dict[str, Any] = {
            "aws_conn_id": aws_conn_id,
            "region_name": region_name,
            "verify": verify,
            "botocore_config": dict(botocore_config) if botocore_config else None,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {"event_queue": self.event_queue, **self.filter.to_kwargs(), **self.connection}
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    @cached_property
    def hook(self) -> BatchServiceJobHook:
        from airflow_batch_service._shared.clients import (  # lazy: boto3 only in the triggerer
            get_shared_hook,
        )

        return get_shared_hook(**self.connection)

    def _fired(self, event: JobEvent) -> TriggerEvent:
        self.log.info(
            "Service job %s (%s) on %s is %s: firing",
            event.job_id,
            event.job_name,
            event.job_queue,
            event.status,
        )
        return TriggerEvent(strict_json(event.summary()))

    # -- Airflow 3.3+: one shared stream per (connection, SQS queue) -----------------------

    def shared_stream_key(self) -> Hashable | None:
        return (_STREAM, json.dumps(self.connection, sort_keys=True), self.event_queue)

    @classmethod
    def create_shared_stream_producer(cls, kwargs: dict[str, Any]) -> Any:
        from airflow_batch_service._shared.event_stream import (  # lazy: Airflow 3.3+, triggerer
            SqsEventProducer,
        )

        return SqsEventProducer(kwargs)

    async def filter_shared_stream(
        self, shared_stream: AsyncIterator[Any]
    ) -> AsyncIterator[TriggerEvent]:
        async for raw in shared_stream:
            event = raw.event
            if event is not None and self.filter.matches(event):
                raw.taken = True
                yield self._fired(event)

    # -- Airflow 3.0-3.2: the process's event feed ----------------------------------------

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_batch_service._shared.event_feed import (  # lazy: the feed only in the triggerer
            feed_for,
        )

        feed = feed_for(self.hook, self.event_queue)
        matched: asyncio.Queue[JobEvent] = asyncio.Queue()

        def take(event: JobEvent) -> bool:
            if not self.filter.matches(event):
                return False
            matched.put_nowait(event)
            return True

        self.log.info("Watching service-job events from %s (%s)", self.event_queue, self.filter)
        feed.listen(take)
        try:
            while True:
                yield self._fired(await matched.get())
        finally:
            feed.unlisten(take)
