"""The job wait's trigger on its own: what it stores in the trigger row (and rebuilds from
after an upgrade), its cancellation, and what importing it costs. Against the emulator
(in-process under moto.mock_aws, and the HTTP server through an ``aws`` connection) where it
runs.

Triggers run as the triggerer runs them: ``serialize()``, rebuilt from the kwargs, then the
``run()`` generator in an event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_batch_service._shared import submit_flow
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

from .support import (
    PAYLOAD,
    POKE,
    STATE_SECONDS,
    connect_emulator,
    describe,
    hanging_job,
    make_context,
    rebuild,
)

pytestmark = pytest.mark.usefixtures("fresh_shared_clients")


@pytest.fixture(params=["in_process", "http"])
def emu(request, monkeypatch):
    return connect_emulator(request, monkeypatch, request.param, STATE_SECONDS)


# -- what the trigger stores --------------------------------------------------------------


def test_trigger_serializes_every_connection_argument():
    trigger = BatchServiceJobTrigger(
        job_id="j-1",
        aws_conn_id="conn",
        region_name="eu-west-1",
        verify="/ca.pem",
        botocore_config={"retries": {"max_attempts": 7}},
        poll_interval=12.5,
        max_runnable_seconds=60,
        state={"started_ms": 5},
        deadline_ms=99,
        terminate_on_timeout=True,
        terminate_on_kill=True,
        kill_reason="why",
        stream_logs=False,
    )
    _, kwargs = trigger.serialize()
    assert kwargs["aws_conn_id"] == "conn" and kwargs["region_name"] == "eu-west-1"
    assert kwargs["verify"] == "/ca.pem"
    assert kwargs["botocore_config"] == {"retries": {"max_attempts": 7}}
    again = rebuild(trigger)
    assert again.serialize() == trigger.serialize()


#: Trigger kwargs as stored by this provider's releases before ``WaitSpec`` (copied from
#: ``serialize()`` of an operator's deferral): a triggerer rebuilds rows like this one after an
#: upgrade, so the keys and the shape of each value must not change.
STORED_KWARGS: dict[str, Any] = {
    "aws_conn_id": "aws_default",
    "region_name": "us-east-1",
    "verify": None,
    "botocore_config": {"retries": {"max_attempts": 3}},
    "job_id": "0f3c-job",
    "poll_interval": 30,
    "max_runnable_seconds": 600,
    "state": {
        "watch": {
            "status": None,
            "since": None,
            "attempts_reported": 0,
            "preemptions_reported": 0,
            "runnable_since": None,
            "reason": None,
            "since_exact": False,
            "seen": None,
            "transitions": [],
            "standing_key": None,
            "standing_read": None,
            "standing_text": None,
            "position": None,
            "place": None,
        },
        "started_ms": 1700000000000,
        "errors": 0,
    },
    "deadline_ms": 1700000600000,
    "terminate_on_timeout": True,
    "timeout_what": "The wait exceeded wait_timeout=600s.",
    "timeout_kind": "wait_timeout",
    "terminate_on_kill": True,
    "kill_reason": "Airflow task dag.train (run manual__1, try 1) was killed",
    "terminate_reason_prefix": "Airflow task dag.train: ",
    "stream_logs": True,
    "log_state": {
        "current": "AWSBatchtrain0001",
        "next_read_ms": 1700000030000,
        "interval_seconds": 30.0,
        "jobs": {"AWSBatchtrain0001": {"attempt": 1, "streams": {}, "closing": False}},
    },
    "not_found_grace": 120.0,
    "read_training_result": True,
}

#: ``serialize()`` of ``BatchServiceJobTrigger(job_id="j")`` before ``WaitSpec``: the defaults.
STORED_DEFAULTS: dict[str, Any] = {
    "aws_conn_id": "aws_default",
    "region_name": None,
    "verify": None,
    "botocore_config": None,
    "job_id": "j",
    "poll_interval": 30,
    "max_runnable_seconds": None,
    "state": None,
    "deadline_ms": None,
    "terminate_on_timeout": False,
    "timeout_what": "The wait timed out.",
    "timeout_kind": None,
    "terminate_on_kill": False,
    "kill_reason": "The Airflow task waiting on service job j was killed",
    "terminate_reason_prefix": "",
    "stream_logs": True,
    "log_state": None,
    "not_found_grace": None,
    "read_training_result": False,
}


def test_trigger_kwargs_stored_by_earlier_releases_round_trip():
    """A stored row rebuilds into the same wait and serializes back to the same kwargs (same
    keys, same order, same values), so a triggerer upgraded mid-wait picks it up."""
    stored = json.loads(json.dumps(STORED_KWARGS))  # as read back from the database
    trigger = BatchServiceJobTrigger(**stored)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_batch_service.triggers.batch_service.BatchServiceJobTrigger"
    assert kwargs == STORED_KWARGS and list(kwargs) == list(STORED_KWARGS)
    assert trigger.job_id == "0f3c-job" and trigger.deadline_ms == 1700000600000
    limit = trigger.spec.limit
    assert limit is not None and (limit.at_ms, limit.kind) == (1700000600000, "wait_timeout")
    assert limit.what == "The wait exceeded wait_timeout=600s."
    _, defaults = BatchServiceJobTrigger(job_id="j").serialize()
    assert defaults == STORED_DEFAULTS and list(defaults) == list(STORED_DEFAULTS)


# -- cancellation ---------------------------------------------------------------------------


def test_trigger_on_kill_terminates_the_operators_job(emu):
    job_id = hanging_job(emu)
    context = make_context()
    op = BatchSubmitServiceJobOperator(
        task_id="train",
        aws_conn_id="emu",
        job_name="x",
        job_queue=emu.queue_name,
        service_request_payload=PAYLOAD,
        wait_for_completion=True,
        deferrable=True,
    )
    op.job_id = job_id
    with pytest.raises(TaskDeferred) as exc:
        submit_flow.defer(op, context, 0)
    trigger = rebuild(exc.value.trigger)
    asyncio.run(trigger.on_kill())
    described = describe(emu, job_id)
    assert described["status"] == "FAILED" and described.get("isTerminated")
    assert "train" in described["statusReason"] and "was killed" in described["statusReason"]
    assert emu.stats().get("TerminateServiceJob") == 1
    del context


def test_sensor_trigger_on_kill_leaves_the_job_running(emu):
    job_id = hanging_job(emu)
    trigger = rebuild(BatchServiceJobTrigger(job_id=job_id, aws_conn_id="emu", poll_interval=POKE))
    asyncio.run(trigger.on_kill())
    assert emu.stats().get("TerminateServiceJob", 0) == 0
    assert describe(emu, job_id)["status"] not in ("FAILED", "SUCCEEDED")


def test_cancelled_trigger_never_terminates(emu):
    """A triggerer restart cancels run() and calls cleanup(): the job must survive it (on
    Airflow 3.0 that is all a kill does, too: the wait cannot tell the two apart)."""
    job_id = hanging_job(emu)
    trigger = rebuild(
        BatchServiceJobTrigger(
            job_id=job_id,
            aws_conn_id="emu",
            poll_interval=POKE,
            terminate_on_kill=True,
        )
    )

    async def cancel_after_polls() -> None:
        task = asyncio.ensure_future(anext(trigger.run()))
        deadline = time.monotonic() + 60  # generous: a named condition, not a moment
        while (seen := emu.stats().get("DescribeServiceJob", 0)) < 3:
            assert time.monotonic() < deadline, f"awaited 3 DescribeServiceJob, saw {seen}"
            await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await trigger.cleanup()

    asyncio.run(cancel_after_polls())
    assert emu.stats().get("TerminateServiceJob", 0) == 0
    assert describe(emu, job_id)["status"] not in ("FAILED", "SUCCEEDED")


# -- packaging ------------------------------------------------------------------------------


def test_trigger_is_registered_and_cheap_to_import():
    import os
    import subprocess
    import sys

    code = """
import json, sys
import airflow_batch_service.triggers
from airflow_batch_service.triggers import BatchServiceJobTrigger, BatchServiceJobEventTrigger
BatchServiceJobEventTrigger(event_queue="events", job_queues=["gpu"])
from airflow_batch_service.get_provider_info import get_provider_info
mods = [m for e in get_provider_info()["triggers"] for m in e["python-modules"]]
print(json.dumps({
    "modules": mods,
    "boto3": "boto3" in sys.modules,
    "aiobotocore": "aiobotocore" in sys.modules,
    "waiting": "airflow_batch_service._shared.waiting" in sys.modules,
    "shared": "airflow_batch_service._shared.clients" in sys.modules,
    "feed": "airflow_batch_service._shared.event_feed" in sys.modules,
    "moto": "moto" in sys.modules,
}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert loaded == {
        "modules": [
            "airflow_batch_service.triggers.batch_service",
            "airflow_batch_service.triggers.service_operations",
            "airflow_batch_service.triggers.service_job_events",
        ],
        "boto3": False,
        "aiobotocore": False,
        "waiting": False,
        "feed": False,
        "shared": False,
        "moto": False,
    }


def test_log_tail_reads_on_a_schedule_and_at_attempt_changes():
    from airflow_batch_service.core.logtail import LogTail

    tail = LogTail()
    assert tail.idle and not tail.due(0, final=True)  # no training job: nothing to read
    tail.follow("tj-1", 1, now_ms=1_000)
    assert not tail.due(1_000) and not tail.due(30_999)
    assert tail.due(31_000) and tail.due(2_000, final=True)
    tail.on_streams("tj-1", ["tj-1/algo-1-17"])
    lines = tail.on_events("tj-1", "tj-1/algo-1-17", [{"message": "hello\n"}], "f/1")
    assert lines == ["[attempt 1 algo-1] hello"]
    tail.read_done(31_000)
    assert not tail.due(40_000)
    tail.follow("tj-2", 2, now_ms=40_000)  # a new attempt: drain the old one now
    assert tail.due(40_000)
    assert tail.to_read() == [("tj-1", "tj-1/algo-1-17", "f/1")]
    assert tail.to_discover() == ["tj-1", "tj-2"]
    again = LogTail.from_dict(json.loads(json.dumps(tail.to_dict())))
    assert again.to_dict() == tail.to_dict()
    tail.settle()
    assert list(tail.jobs) == ["tj-2"]


def test_the_aws_pool_is_made_while_a_client_is_being_built(monkeypatch):
    """In the triggerer a thread building a client holds the clients' lock while its
    connection lookup needs the event loop: the loop making the AWS pool meanwhile must not
    wait on that lock (two triggerers deadlocked so at the start of event-woken waits)."""
    import threading

    from airflow_batch_service.hooks import _clients

    monkeypatch.setattr(_clients, "_executor", None)  # the pool not made yet
    results: list[Any] = []

    def loop_thread() -> None:
        results.append(asyncio.run(_clients.run_blocking(lambda: 42)))

    with _clients._lock:  # a client build in progress
        runner = threading.Thread(target=loop_thread, daemon=True)
        runner.start()
        runner.join(timeout=60)
        alive = runner.is_alive()
    runner.join(timeout=60)
    made = _clients._executor
    if made is not None:
        made.shutdown(wait=False)
    assert not alive, "the event loop waited on the clients' lock to make the AWS pool"
    assert results == [42]
