"""One boto3 client per (service, connection, region, verify, botocore config) per process.

Every ``BatchServiceJobTrigger`` of a triggerer process that uses the same connection
arguments shares ONE client: a client built from a fresh session costs ~10 MB and ~130 ms of
CPU (``airflow-notes.md``), and a thousand deferred waits must not pay that a thousand times.
They share their hook too (:func:`get_shared_hook`): it holds nothing per trigger.

Why boto3 offloaded to a thread rather than aiobotocore (measured with
``benchmarks/client_choice.py``, one shared client, 1,000 concurrent waits polling the
emulator; figures in ``docs/performance.md``): CPU per describe is within ~10% either way, but
the thread-offloaded client held ~10 MiB less resident memory under load and had a far tighter
p95 latency when the endpoint was saturated (the thread pool bounds the in-flight requests,
aiohttp queues them all). It also needs no event-loop binding (one client serves every loop
and thread of the process, so it can be created once and kept), is the very client and
botocore configuration of the sync hook (standard retries, 3 attempts, short timeouts), and is
intercepted by ``moto.mock_aws``, so triggers run against the in-process emulator in tests.
botocore clients are thread-safe; the hook's async twins (``BatchServiceJobHook.a*``, the only
callers) run their calls through :func:`run_blocking`, on a thread pool of
:data:`MAX_WORKERS` threads, as many as a botocore client keeps connections (10 by default): more
threads would only open and discard connections, and the triggerer's default executor stays
free for everything else.

A client is kept for :data:`MAX_AGE_SECONDS` (15 min) and then rebuilt on next use, so an edited
connection reaches running triggers without a triggerer restart, at the cost of one client
build per connection per quarter hour (credentials of an assumed role refresh themselves in
between). Workers (the sync wait) use their hook's own clients: one task, one client. Building one looks up the Airflow connection, which must not run
on the triggerer's event loop: :func:`get_shared_client_async` builds it in a thread
(asgiref's ``sync_to_async``, like the amazon provider), once per key even when many triggers
ask at the same moment.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

#: Threads for AWS calls of every trigger in the process (botocore's max_pool_connections).
MAX_WORKERS = 10

#: How long a shared client is reused before it is rebuilt (picks up connection edits).
MAX_AGE_SECONDS = 900.0

_lock = threading.Lock()
_clients: dict[tuple[str, ...], tuple[float, Any]] = {}
_hooks: dict[tuple[str, ...], BatchServiceJobHook] = {}
_builds = 0
_executor: ThreadPoolExecutor | None = None


def client_key(
    service: str,
    aws_conn_id: str | None,
    region_name: str | None,
    verify: bool | str | None,
    botocore_config: Mapping[str, Any] | None,
) -> tuple[str, ...]:
    """The sharing key: every argument that changes what the client talks to or how."""
    return (
        service,
        str(aws_conn_id),
        str(region_name),
        json.dumps(verify),
        json.dumps(dict(botocore_config or {}), sort_keys=True, default=str),
    )


def build_client(
    service: str,
    aws_conn_id: str | None,
    region_name: str | None,
    verify: bool | str | None,
    botocore_config: Mapping[str, Any] | None,
) -> Any:
    hook = BatchServiceJobHook(
        aws_conn_id=aws_conn_id,
        region_name=region_name,
        verify=verify,
        config=dict(botocore_config) if botocore_config else None,
    )
    return hook.client(service)


def get_shared_client(
    service: str,
    *,
    aws_conn_id: str | None,
    region_name: str | None = None,
    verify: bool | str | None = None,
    botocore_config: Mapping[str, Any] | None = None,
) -> Any:
    """The process's client for these arguments, built on first use (blocking; the
    triggerer calls :func:`get_shared_client_async`)."""
    global _builds
    key = client_key(service, aws_conn_id, region_name, verify, botocore_config)
    client = _fresh(key)
    if client is not None:
        return client
    with _lock:
        client = _fresh(key)
        if client is None:
            client = build_client(service, aws_conn_id, region_name, verify, botocore_config)
            _clients[key] = (time.monotonic(), client)
            _builds += 1
    return client


def _fresh(key: tuple[str, ...]) -> Any:
    entry = _clients.get(key)
    if entry is None or time.monotonic() - entry[0] > MAX_AGE_SECONDS:
        return None
    return entry[1]


async def get_shared_client_async(service: str, **kwargs: Any) -> Any:
    """:func:`get_shared_client` for the event loop: the first call builds it in a thread."""
    key = client_key(
        service,
        kwargs.get("aws_conn_id"),
        kwargs.get("region_name"),
        kwargs.get("verify"),
        kwargs.get("botocore_config"),
    )
    client = _fresh(key)
    if client is not None:
        return client
    # Through asgiref, as the amazon provider's get_async_conn: on Airflow 3.0 the triggerer's
    # connection lookup (async_to_sync to the supervisor) only works from its threads.
    return await sync_to_async(get_shared_client)(service, **kwargs)


async def run_blocking(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking AWS call on the process's AWS thread pool, off the event loop."""
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="abs-aws")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, functools.partial(func, *args, **kwargs))


def get_shared_hook(
    *,
    aws_conn_id: str | None,
    region_name: str | None = None,
    verify: bool | str | None = None,
    botocore_config: Mapping[str, Any] | None = None,
) -> BatchServiceJobHook:
    """The process's hook for these connection arguments, for triggers.

    A trigger's hook holds nothing of its own (its async calls go through the shared client),
    yet each one costs ~0.6 KiB with its logger: a thousand deferred waits share a handful.
    Building one does no I/O (the connection is looked up when a client is built).
    """
    key = client_key("hook", aws_conn_id, region_name, verify, botocore_config)
    hook = _hooks.get(key)
    if hook is None:
        with _lock:
            hook = _hooks.get(key)
            if hook is None:
                hook = _hooks[key] = BatchServiceJobHook(
                    aws_conn_id=aws_conn_id,
                    region_name=region_name,
                    verify=verify,
                    config=dict(botocore_config) if botocore_config else None,
                )
    return hook


def builds() -> int:
    """How many clients this process has built (tests and the benchmark read it)."""
    return _builds


def clear() -> None:
    """Forget every client (tests that change connections between runs)."""
    with _lock:
        _clients.clear()
        _hooks.clear()
