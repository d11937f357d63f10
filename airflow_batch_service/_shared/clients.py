"""One hook per (connection, region, verify, botocore config) per process, for triggers.

A trigger's hook holds nothing of its own (its async calls go through the process's shared
boto3 client), yet each one costs ~0.6 KiB with its logger: a thousand deferred waits share a
handful (:func:`get_shared_hook`). The clients themselves are shared one level down, by the
hook (``hooks/_clients.py``: one client per connection per process, and the thread pool the
async twins run on; the figures and the choice of boto3 over aiobotocore are there), so that
imports point one way: this glue uses the hook, the hook knows nothing of it.

:func:`get_shared_client`, :func:`builds` and :func:`clear` are the handles tests and
benchmarks use on those clients: a client is found or built through the shared hook, exactly
as the trigger's calls find it; clearing forgets the hooks and the clients together.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from airflow_batch_service.hooks._clients import builds as builds
from airflow_batch_service.hooks._clients import clear as clear_clients
from airflow_batch_service.hooks._clients import client_key
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

_lock = threading.Lock()
_hooks: dict[tuple[str, ...], BatchServiceJobHook] = {}


def get_shared_hook(
    *,
    aws_conn_id: str | None,
    region_name: str | None = None,
    verify: bool | str | None = None,
    botocore_config: Mapping[str, Any] | None = None,
) -> BatchServiceJobHook:
    """The process's hook for these connection arguments, for triggers.

    Building one does no I/O (the connection is looked up when a client is built).
    """
    connection = {
        "aws_conn_id": aws_conn_id,
        "region_name": region_name,
        "verify": verify,
        "botocore_config": botocore_config,
    }
    key = client_key("hook", connection)
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


def get_shared_client(service: str, **connection: Any) -> Any:
    """The process's ``service`` client for these connection arguments (``aws_conn_id``,
    ``region_name``, ``verify``, ``botocore_config``), built on first use (blocking)."""
    return get_shared_hook(**connection).shared_client(service)


def clear() -> None:
    """Forget every shared hook and client (tests that change connections between runs)."""
    with _lock:
        _hooks.clear()
    clear_clients()
