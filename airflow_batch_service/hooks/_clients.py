"""One boto3 client per (service, connection, region, verify, botocore config) per process.

Every ``BatchServiceJobTrigger`` of a triggerer process that uses the same connection
arguments shares ONE client: a client built from a fresh session costs ~10 MB and ~130 ms of
CPU (``airflow-notes.md``), and a thousand deferred waits must not pay that a thousand times.

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
between). Workers (the sync wait) use their hook's own clients: one task, one client. Building
one looks up the Airflow connection, which must not run on the triggerer's event loop:
:func:`ashared_client` builds it in a thread (asgiref's ``sync_to_async``, like the amazon
provider), once per key even when many triggers ask at the same moment.

This module knows no hook: the caller hands it the builder (the hook's own, a fresh hook's
client), so the hook uses the store and the store never imports the hook.
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

#: Threads for AWS calls of every trigger in the process (botocore's max_pool_connections).
MAX_WORKERS = 10

#: How long a shared client is reused before it is rebuilt (picks up connection edits).
MAX_AGE_SECONDS = 900.0

_lock = threading.Lock()
#: The AWS pool's own lock, taken on the event loop. Never ``_lock``: a thread building a client
#: holds that while the triggerer's connection lookup needs the event loop, so a loop blocked
#: on it waits forever (two triggerers deadlocked at the start of event-woken waits: the SQS
#: client was being built when the first describe made the pool).
_executor_lock = threading.Lock()
_clients: dict[tuple[str, ...], tuple[float, Any]] = {}
_builds = 0
_executor: ThreadPoolExecutor | None = None


def client_key(kind: str, connection: Mapping[str, Any]) -> tuple[str, ...]:
    """The sharing key of ``kind`` (a service, or what else is shared per connection) for a
    hook's ``connection_args()``: every argument that changes what it talks to or how."""
    return (
        kind,
        str(connection.get("aws_conn_id")),
        str(connection.get("region_name")),
        json.dumps(connection.get("verify")),
        json.dumps(dict(connection.get("botocore_config") or {}), sort_keys=True, default=str),
    )


def shared_client(service: str, connection: Mapping[str, Any], build: Callable[[], Any]) -> Any:
    """The process's ``service`` client for ``connection``, made by ``build`` on first use and
    again once :data:`MAX_AGE_SECONDS` old (blocking; the triggerer calls
    :func:`ashared_client`)."""
    global _builds
    key = client_key(service, connection)
    client = _fresh(key)
    if client is not None:
        return client
    with _lock:
        client = _fresh(key)
        if client is None:
            client = build()
            _clients[key] = (time.monotonic(), client)
            _builds += 1
    return client


def _fresh(key: tuple[str, ...]) -> Any:
    entry = _clients.get(key)
    if entry is None or time.monotonic() - entry[0] > MAX_AGE_SECONDS:
        return None
    return entry[1]


async def ashared_client(
    service: str, connection: Mapping[str, Any], build: Callable[[], Any]
) -> Any:
    """:func:`shared_client` for the event loop: the first call builds it in a thread."""
    client = _fresh(client_key(service, connection))
    if client is not None:
        return client
    # Through asgiref, as the amazon provider's get_async_conn: on Airflow 3.0 the triggerer's
    # connection lookup (async_to_sync to the supervisor) only works from its threads.
    from asgiref.sync import sync_to_async  # lazy: only the triggerer needs it, not a DAG parse

    return await sync_to_async(shared_client)(service, connection, build)


async def run_blocking(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking AWS call on the process's AWS thread pool, off the event loop."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="abs-aws")
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, functools.partial(func, *args, **kwargs))


async def run_long_poll(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking long poll (SQS ``ReceiveMessage``, seconds at a time) on a thread of its
    own, not on the AWS pool: it would hold a pool thread for its whole wait, and queue
    behind a burst of describes (a triggerer starting a thousand waits) while events wait."""
    return await asyncio.to_thread(func, *args, **kwargs)


def builds() -> int:
    """How many clients this process has built (tests and the benchmark read it)."""
    return _builds


def clear() -> None:
    """Forget every client (tests that change connections between runs)."""
    with _lock:
        _clients.clear()
