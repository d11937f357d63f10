"""A user's kill that lands while the deferred wait is inside an AWS call still terminates the
operator's job.

Airflow 3.3's triggerer calls a trigger's ``on_kill`` only when the ``CancelledError`` leaving
``run()`` carries its message ``__airflow_user_action__``; an await that drops the message
(asgiref's ``sync_to_async``, which builds the shared client) turned a kill into a plain
cancel, and the GPU job ran on. Here the emulator holds the call open (``"hold": true``), the
test cancels the trigger through the triggerer's own ``TriggerRunner`` (``to_cancel`` ->
``cancel_triggers`` -> ``run_trigger``), releases the call, and checks the job: terminated.
Kill, clear and mark all reach the trigger through that one path.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from airflow_batch_service._shared import cancellation
from airflow_batch_service._shared import clients as shared_clients
from airflow_batch_service._shared.cancellation import keeping_cancel_message
from airflow_batch_service.core.sweep import MIN_WAITS
from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

from .support import POKE, connect_emulator, describe, hang, rebuild, scenario, submit, unique

pytestmark = pytest.mark.usefixtures("fresh_shared_clients")

USER_ACTION = "__airflow_user_action__"


@pytest.fixture(params=["in_process", "http"])
def emu(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    emulator = connect_emulator(request, monkeypatch, request.param, 1.0)
    # The same emulator through a connection that assumes a role: building its client calls
    # STS AssumeRole, which the emulator can hold.
    extra: dict[str, Any] = {
        "region_name": emulator.region,
        "role_arn": "arn:aws:iam::123456789012:role/AirflowBatch",
    }
    if request.param == "http":
        extra["endpoint_url"] = emulator.endpoint_url
        extra["service_config"] = {"sts": {"endpoint_url": emulator.endpoint_url}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_EMU_ROLE",
        json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}),
    )
    return emulator


def _triggerer() -> Any:
    try:
        from airflow.jobs.triggerer_job_runner import _USER_ACTION_CANCEL_MSG, TriggerRunner
    except ImportError:
        pytest.skip("Airflow < 3.3 calls no on_kill: a kill only cancels the wait")
    assert _USER_ACTION_CANCEL_MSG == USER_ACTION
    return TriggerRunner()


async def _until_async(what: str, probe: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(probe):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _until_held(emu: Any, operation: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        seen = await asyncio.to_thread(emu.stats)
        if seen.get("held", {}).get(operation):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for the wait's {operation} to be held; stats {seen}")


@pytest.mark.parametrize(
    "client,held",
    [
        ("cached", "DescribeServiceJob"),  # the wait's own look
        ("cached", "ListServiceJobs"),  # the queue's shared round (a sweep's waits)
        ("fresh", "sts:AssumeRole"),  # building the client (asgiref's sync_to_async)
    ],
)
def test_a_kill_inside_an_aws_call_terminates_the_job(emu: Any, client: str, held: str) -> None:
    runner = _triggerer()
    # A shared ListServiceJobs round runs only for a sweep's worth of waits on one queue.
    waits = MIN_WAITS if held == "ListServiceJobs" else 1
    job_ids = []
    for _ in range(waits):
        name = unique("held")
        emu.load_scenarios(scenario(name, hang()))
        job_ids.append(submit(emu, name))
    triggers = [
        rebuild(
            BatchServiceJobTrigger(
                job_id=job_id,
                aws_conn_id="emu_role",
                poll_interval=POKE,
                terminate_on_kill=True,
                kill_reason="The Airflow task train was killed",
                stream_logs=False,
            )
        )
        for job_id in job_ids
    ]
    if client == "cached":
        shared_clients.get_shared_client("batch", aws_conn_id="emu_role")  # built, kept
    else:
        shared_clients.clear()
    emu.set_faults({held: {"hold": True}})

    async def kill_while_held() -> BaseException | None:
        tasks = []
        for number, trigger in enumerate(triggers, start=1):
            trigger.task_instance = None  # type: ignore[assignment]
            runner.triggers[number] = {"name": f"wait{number}", "events": 0, "is_watcher": False}
            task = asyncio.ensure_future(runner.run_trigger(number, trigger))
            runner.triggers[number]["task"] = task
            tasks.append(task)
        await _until_held(emu, held)
        runner.to_cancel.append(1)
        await runner.cancel_triggers()  # what a kill, clear or mark does in the triggerer
        # The triggerer repeats the cancel at each sync until the trigger is gone; a repeat
        # lands in on_kill while its terminate waits (for the held client build, here).
        await _until_async(
            "on_kill's terminate in flight (or the trigger done)",
            lambda: cancellation._IN_FLIGHT or tasks[0].done(),
        )
        if not tasks[0].done():
            runner.to_cancel.append(1)
            await runner.cancel_triggers()
        await asyncio.to_thread(emu.clear_faults)  # releases the held call
        done, _ = await asyncio.wait({tasks[0]}, timeout=90)
        assert done, "the cancelled trigger did not finish within 90 s"
        await _until_async(
            f"job {job_ids[0]} terminated",
            lambda: describe(emu, job_ids[0])["status"] == "FAILED",
        )
        for other in tasks[1:]:  # the rest of the sweep: stopped as at a triggerer shutdown
            other.cancel()
        await asyncio.wait(tasks, timeout=90)
        return tasks[0].exception() if not tasks[0].cancelled() else None

    error = asyncio.run(kill_while_held())
    assert error is None, error
    described = describe(emu, job_ids[0])
    assert described["status"] == "FAILED" and described.get("isTerminated"), described
    assert described["statusReason"].endswith("The Airflow task train was killed"), described
    assert emu.stats().get("TerminateServiceJob") == 1  # that job only, not the others
    for job_id in job_ids[1:]:
        assert describe(emu, job_id)["status"] not in ("FAILED", "SUCCEEDED")


def test_a_shutdown_cancel_inside_an_aws_call_terminates_nothing(emu: Any) -> None:
    """The triggerer stopping (a cancel without the message) must leave the job running."""
    runner = _triggerer()
    name = unique("held")
    emu.load_scenarios(scenario(name, hang()))
    job_id = submit(emu, name)
    trigger = rebuild(
        BatchServiceJobTrigger(
            job_id=job_id, aws_conn_id="emu", poll_interval=POKE, terminate_on_kill=True
        )
    )
    trigger.task_instance = None  # type: ignore[assignment]
    emu.set_faults({"DescribeServiceJob": {"hold": True}})

    async def stop_while_held() -> None:
        runner.triggers[1] = {"name": "wait", "events": 0, "is_watcher": False}
        task = asyncio.ensure_future(runner.run_trigger(1, trigger))
        runner.triggers[1]["task"] = task
        await _until_held(emu, "DescribeServiceJob")
        task.cancel()
        await asyncio.to_thread(emu.clear_faults)
        await asyncio.wait({task}, timeout=90)
        assert task.cancelled()

    asyncio.run(stop_while_held())
    assert emu.stats().get("TerminateServiceJob", 0) == 0
    assert describe(emu, job_id)["status"] not in ("FAILED", "SUCCEEDED")


def test_keeping_cancel_message_where_sync_to_async_drops_it() -> None:
    """The mechanism alone: a cancel that lands inside ``sync_to_async`` reaches the caller
    without its message, unless the work runs under ``keeping_cancel_message``."""
    import threading

    async def cancelled_inside_sync_to_async(wrap: bool) -> tuple[Any, ...]:
        release = threading.Event()
        entered = asyncio.Event()
        loop = asyncio.get_running_loop()

        def blocking() -> None:
            loop.call_soon_threadsafe(entered.set)
            release.wait(30)

        async def work() -> None:
            await sync_to_async(blocking)()

        task = asyncio.ensure_future(keeping_cancel_message(work()) if wrap else work())
        await entered.wait()
        task.cancel(USER_ACTION)
        release.set()
        try:
            await task
        except asyncio.CancelledError as err:
            return err.args
        raise AssertionError("the task was not cancelled")

    assert asyncio.run(cancelled_inside_sync_to_async(wrap=False)) == ()  # asgiref drops it
    assert asyncio.run(cancelled_inside_sync_to_async(wrap=True)) == (USER_ACTION,)


def test_keeping_cancel_message_returns_the_result_and_raises_its_errors() -> None:
    async def ok() -> int:
        return 7

    async def bad() -> None:
        raise ValueError("boom")

    assert asyncio.run(keeping_cancel_message(ok())) == 7
    with pytest.raises(ValueError, match="boom"):
        asyncio.run(keeping_cancel_message(bad()))
