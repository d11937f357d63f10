"""What the service-operations tests share (``test_service_operations``,
``test_service_environments``, ``test_service_job_queues``): the emulator at a slow pace, a
count of every call it answered, the operations triggers run as the triggerer runs them, and
environment and queue statuses the emulator never picks by itself.

Apart from ``support`` because only these modules slow the emulator down and reach into its
in-process backend."""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
import time
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from airflow_batch_service.emulator.backend import service_job_backends
from airflow_batch_service.emulator.responses import STATE_LOCK

from .support import connect_emulator, until_counted

__all__ = [
    "SLOW",
    "calls",
    "rebuild_operations_trigger",
    "run_operations_trigger",
    "set_status",
    "set_status_after_first_look",
    "slow_emu_in_process",
    "slow_emu_in_process_and_http",
]

#: Seconds per job state: jobs stay queued and running long enough to be updated and terminated.
SLOW = 30.0


@pytest.fixture(name="emu", params=["in_process", "http"])
def slow_emu_in_process_and_http(request: Any, monkeypatch: Any) -> Any:
    """``emu`` here: the emulator in-process and over HTTP at the ``SLOW`` pace, behind the
    ``aws`` connection ``emu``."""
    return connect_emulator(request, monkeypatch, request.param, SLOW)


@pytest.fixture(name="in_process")
def slow_emu_in_process(request: Any, monkeypatch: Any) -> Any:
    """``in_process``: the in-process emulator alone (its backend can be reached into)."""
    return connect_emulator(request, monkeypatch, "in_process", SLOW)


def calls(emu: Any) -> int:
    """Every call the emulator answered since its stats were last reset."""
    return sum(v for k, v in emu.stats().items() if isinstance(v, int))


def rebuild_operations_trigger(trigger: Any) -> Any:
    """What the triggerer does with an operations trigger (any class of
    ``triggers.service_operations``): import the classpath, call it with the JSON-able kwargs."""
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    assert module == "airflow_batch_service.triggers.service_operations"
    cls = getattr(importlib.import_module(module), name)
    return cls(**json.loads(json.dumps(kwargs)))


def run_operations_trigger(trigger: Any) -> dict[str, Any]:
    """Rebuild an operations trigger as the triggerer would and run it to its first event's
    payload."""

    async def first() -> dict[str, Any]:
        return (await anext(rebuild_operations_trigger(trigger).run())).payload

    return asyncio.run(first())


def set_status(kind: str, name: str, status: str, reason: str | None = None) -> None:
    """In-process only: put an environment (``kind`` ``env``) or queue (``queue``) into a
    status the emulator never picks by itself (it creates them VALID)."""
    with STATE_LOCK:
        backend = service_job_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        thing = backend.find_environment(name) if kind == "env" else backend.find_queue(name)
        assert thing is not None
        thing.status = status
        if kind == "queue":
            thing.status_reason = reason


def set_status_after_first_look(
    emu: Any, operation: str, kind: str, name: str, status: str, delay: float = 0.5
) -> threading.Thread:
    """Put the environment or queue into ``status`` ``delay`` seconds after the first
    ``operation`` call from now: a fixed timer races the wait's first look on a loaded
    machine (its client build can take longer than the timer), and then nothing is waited."""
    emu.reset_stats()

    def flip() -> None:
        until_counted(emu, operation)
        time.sleep(delay)
        set_status(kind, name, status)

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    return thread
