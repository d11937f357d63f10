"""The hook's queue calls, cached per process: a queue's and a scheduling policy's
description, and where a RUNNABLE job stands (``queue_picture``).

A mapped sweep's tasks in one process check their queue once, not once each, and every wait
on a queue in the triggerer shares one GetJobQueueSnapshot per :data:`SNAPSHOT_CACHE_SECONDS`:
these descriptions change rarely, and a stale one only words a log line or a check. Concurrent
misses of the async twin share one load (:func:`_acached`), so a thousand waits starting
together make one call, not a thousand. A missing queue is never cached: the user may be
creating it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from airflow_batch_service.hooks._base import BatchServiceHookBase, first, strip_metadata
from airflow_batch_service.hooks._clients import run_blocking

#: How long a queue's (or scheduling policy's) description is reused within one process.
QUEUE_CACHE_SECONDS = 300.0

#: How long a queue snapshot is reused within one process: every wait on the queue in the
#: triggerer shares one GetJobQueueSnapshot per this many seconds.
SNAPSHOT_CACHE_SECONDS = 20.0

_cache: dict[tuple[str, ...], tuple[float, Any]] = {}
_inflight: dict[tuple[str, ...], asyncio.Future[Any]] = {}


def _cached(key: tuple[str, ...], load: Callable[[], Any], ttl: float = QUEUE_CACHE_SECONDS) -> Any:
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    value = load()
    if value is not None:  # a missing queue is asked again: the user may be creating it
        _cache[key] = (now, value)
    return value


async def _acached(
    key: tuple[str, ...], load: Callable[[], Awaitable[Any]], ttl: float = QUEUE_CACHE_SECONDS
) -> Any:
    """:func:`_cached` for coroutines: concurrent misses share one load (one call, not N)."""
    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    pending = _inflight.get(key)
    if pending is None:
        pending = _inflight[key] = asyncio.ensure_future(load())
        try:
            value = await pending
        finally:
            _inflight.pop(key, None)
        if value is not None:
            _cache[key] = (time.monotonic(), value)
        return value
    return await asyncio.shield(pending)


def clear_cache() -> None:
    """Forget cached queue, policy, snapshot and limit descriptions (tests that rebuild their
    emulator)."""
    _cache.clear()
    _inflight.clear()


def _picture(
    job_queue: str, queue: Mapping[str, Any], snapshot: Any, limits: Any
) -> dict[str, Any]:
    return {"queue": queue.get("jobQueueName") or job_queue, "snapshot": snapshot, "limits": limits}


class QueueCalls(BatchServiceHookBase):
    """Queue and scheduling-policy descriptions, and a RUNNABLE job's standing, cached."""

    def _cache_key(self) -> tuple[str, ...]:
        return (str(self.aws_conn_id), str(self._region_name))

    def describe_job_queue(self, job_queue: str) -> dict[str, Any] | None:
        """DescribeJobQueues for one queue (name or ARN): its detail, or None if it does not
        exist. Cached per process for :data:`QUEUE_CACHE_SECONDS` (a mapped sweep's tasks in
        one process check a queue once)."""
        return _cached(
            ("queue", *self._cache_key(), job_queue),
            lambda: first(self.conn.describe_job_queues(jobQueues=[job_queue]), "jobQueues"),
        )

    def describe_scheduling_policy(self, arn: str) -> dict[str, Any] | None:
        """DescribeSchedulingPolicies for one policy ARN (cached like the queue)."""
        return _cached(
            ("policy", *self._cache_key(), arn),
            lambda: first(self.conn.describe_scheduling_policies(arns=[arn]), "schedulingPolicies"),
        )

    def queue_picture(self, job_queue: str, quota_share_name: str | None = None) -> dict[str, Any]:
        """What ``core.standing`` needs for a job of ``job_queue``: ``{"queue": name,
        "snapshot": GetJobQueueSnapshot, "limits": {unit: max}}``, the limits being the quota
        share's or else the service environment's. The snapshot is shared per process for
        :data:`SNAPSHOT_CACHE_SECONDS`, the limits for :data:`QUEUE_CACHE_SECONDS`."""
        base = (*self._cache_key(), job_queue)
        snapshot = _cached(
            ("snapshot", *base),
            lambda: strip_metadata(self.conn.get_job_queue_snapshot(jobQueue=job_queue)),
            SNAPSHOT_CACHE_SECONDS,
        )
        queue = self.describe_job_queue(job_queue) or {}
        limits = _cached(
            ("limits", *base, str(quota_share_name)),
            lambda: self._limits(queue, quota_share_name),
        )
        return _picture(job_queue, queue, snapshot, limits)

    async def aqueue_picture(
        self, job_queue: str, quota_share_name: str | None = None
    ) -> dict[str, Any]:
        """:meth:`queue_picture` on the shared client, off the event loop."""
        base = (*self._cache_key(), job_queue)

        async def snapshot() -> dict[str, Any]:
            return strip_metadata(
                await self._acall("batch", "get_job_queue_snapshot", jobQueue=job_queue)
            )

        async def queue() -> dict[str, Any] | None:
            found = await self._acall("batch", "describe_job_queues", jobQueues=[job_queue])
            return first(found, "jobQueues")

        taken = await _acached(("snapshot", *base), snapshot, SNAPSHOT_CACHE_SECONDS)
        detail: dict[str, Any] = await _acached(("queue", *base), queue) or {}

        async def limits() -> dict[str, float]:
            return await run_blocking(self._limits, detail, quota_share_name, asynchronous=True)

        found = await _acached(("limits", *base, str(quota_share_name)), limits)
        return _picture(job_queue, detail, taken, found)

    def _limits(
        self, queue: Mapping[str, Any], quota_share_name: str | None, asynchronous: bool = False
    ) -> dict[str, float]:
        """The capacity limits that apply: the quota share's, else the service
        environment's. ``asynchronous``: called in a thread of the triggerer, so use the
        process's shared client (its connection was looked up the triggerer's way)."""
        from airflow_batch_service.core.standing import limits_of  # lazy: not at DAG parse

        client = self.shared_client("batch") if asynchronous else self.conn
        arn = queue.get("jobQueueArn")
        if quota_share_name and arn:
            shares = client.list_quota_shares(jobQueue=arn).get("quotaShares") or []
            for share in shares:
                if share.get("quotaShareName") == quota_share_name:
                    return limits_of(share.get("capacityLimits"))
        environments = [
            str(item.get("serviceEnvironment"))
            for item in sorted(
                queue.get("serviceEnvironmentOrder") or [], key=lambda i: i.get("order", 0)
            )
        ]
        if not environments:
            return {}
        found = client.describe_service_environments(serviceEnvironments=environments[:1])
        return limits_of((first(found, "serviceEnvironments") or {}).get("capacityLimits"))
