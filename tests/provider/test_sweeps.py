"""Sweeps against the emulator: deferred waits on one queue share one listing round
per interval in the triggerer, and a RUNNABLE job's wait says where it stands in the queue."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

from .support import (
    connect_emulator,
    make_context,
    rebuild,
    sensor,
    submit,
    thawed_at_first_look,
    unique,
)

# The hook's queue cache is cleared around every test by the conftest.
pytestmark = pytest.mark.usefixtures("fresh_shared_clients")


@pytest.fixture(params=["in_process", "http"])
def emu(request, monkeypatch):
    return connect_emulator(request, monkeypatch, request.param, 0.4)


def until_running(emu, job_id: str, states: tuple[str, ...] = ("RUNNING",)) -> None:
    """Wait (bounded) until the job holds capacity, so the snapshot shows it in use."""
    client = emu.client()
    deadline = time.monotonic() + 60
    while client.describe_service_job(jobId=job_id)["status"] not in states:
        assert time.monotonic() < deadline, "the first job never got capacity"
        time.sleep(0.1)


def run_triggers(job_ids: list[str], interval: float) -> list[dict[str, Any]]:
    """One wait per job, each rebuilt as the triggerer would, run together: their first events."""

    async def all_events() -> list[dict[str, Any]]:
        triggers = [
            rebuild(
                BatchServiceJobTrigger(
                    job_id=job_id, aws_conn_id="emu", poll_interval=interval, stream_logs=False
                )
            )
            for job_id in job_ids
        ]
        events = await asyncio.gather(*(anext(t.run()) for t in triggers))
        return [e.payload for e in events]

    return asyncio.run(all_events())


def test_deferred_waits_on_one_queue_share_one_listing_round(emu):
    # The clock stands still until the waits' first look: on a loaded machine the
    # submits and the waits' start can take longer than a job's whole life (6 states x 0.4 s),
    # and waits that start on finished jobs never need a round.
    emu.configure(freeze_clock=True)
    ids = []
    for _ in range(12):
        ids.append(submit(emu, unique("sweep")))
        emu.advance(0.05)  # staggered as real submits are: jobs in lockstep inflate describes
    emu.reset_stats()
    # Thawed at the waits' first describe: their slow part, building the async client (4.5 s on
    # a loaded CI machine, longer than these jobs live), is then behind them. Holding it frozen
    # longer (until every wait had looked) made early waits look at frozen jobs again and
    # again, inflating the describe count.
    with thawed_at_first_look(emu):
        events = run_triggers(ids, interval=0.2)
    assert [e["status"] for e in events] == ["success"] * 12
    stats = emu.stats()
    assert stats.get("ListServiceJobs", 0) >= 6  # at least one round: one call per status
    # Each wait described its job once to start and once per change it saw, not every poll:
    # with one describe per poll it would be about (4 states x 0.4 s) / 0.2 s = 8 or more.
    changes = sum(len(e["timeline"]) for e in events)
    assert stats["DescribeServiceJob"] <= changes + 2 * len(ids), (stats, changes)
    # The same explanation as ever: every wait saw each state and ended with the summary.
    for event in events:
        seen = [t["status"] for t in event["timeline"]]
        assert seen[-1] == "SUCCEEDED" and event["summary"]["status"] == "SUCCEEDED"


def test_few_waits_describe_their_own_jobs(emu):
    ids = [submit(emu, unique("few")) for _ in range(2)]
    emu.reset_stats()
    events = run_triggers(ids, interval=0.2)
    assert [e["status"] for e in events] == ["success"] * 2
    assert emu.stats().get("ListServiceJobs", 0) == 0  # a round would cost more than it saves


def test_a_queue_is_listed_at_the_shortest_interval_of_the_waits_on_it_now(emu):
    """A triggerer runs waits for days: once its short-interval waits have left, the queue's
    round must follow the waits still there (say hourly reconciliation), not the shortest
    interval the process ever saw; a shorter wait joining moves the next round closer."""
    from airflow_batch_service._shared.coalesce import watch_for
    from airflow_batch_service.core.sweep import MIN_WAITS
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

    hour = 3600.0

    async def main() -> None:
        watch = watch_for(BatchServiceJobHook(aws_conn_id="emu"), emu.queue_name)
        for i in range(MIN_WAITS):
            watch.join(f"hourly-{i}", hour)
        assert watch.interval == hour and watch.rounds == 0
        asleep = lambda: watch._rescheduled is not None  # noqa: E731
        await _until(asleep, "the round loop to sleep until its hourly round", watch)
        watch.join("short", 0.05)  # the round loop sleeps for an hour: this must wake it
        await _until(lambda: watch.rounds >= 2, "rounds at the short wait's interval", watch)
        watch.leave("short")
        assert watch.interval == hour
        assert watch.due() - time.monotonic() > hour / 2, "the next round is still seconds away"
        for i in range(MIN_WAITS):
            watch.leave(f"hourly-{i}")
        task = watch._task
        assert task is not None
        await _until(task.done, "the round loop to end once nobody waits", watch)

    asyncio.run(main())


async def _until(condition, what: str, watch: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, (
            f"timed out after {timeout}s awaiting {what}; rounds={watch.rounds}, "
            f"interval={watch.interval}, waits={len(watch.waits)}"
        )
        await asyncio.sleep(0.02)


def test_a_runnable_job_says_where_it_stands(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    emu.create_queue("tight", max_capacity=1)
    emu.configure(seconds_per_state=1.0)
    first = submit(emu, unique("first"), job_queue="tight")
    second = submit(emu, unique("second"), job_queue="tight")
    third = submit(emu, unique("third"), job_queue="tight")
    until_running(emu, first)
    summary = sensor(emu, third, poke_interval=0.2, timeout=120, stream_logs=False).execute(
        make_context()
    )
    captured = capsys.readouterr()
    out = captured.out + captured.err + caplog.text
    assert "RUNNABLE for " in out and " in tight; 1 of 1 instances in use" in out, out[-3000:]
    assert "position " in out
    assert summary["status"] == "SUCCEEDED"
    assert isinstance(summary["queuePosition"], int) and summary["queuePlace"].startswith(
        "position"
    )
    del first, second


def test_the_runnable_guard_says_where_the_job_stood(emu):
    emu.create_queue("tight2", max_capacity=1)
    emu.configure(seconds_per_state=5.0)
    hog = submit(emu, unique("hog"), job_queue="tight2")
    waiting = submit(emu, unique("starved"), job_queue="tight2")
    until_running(emu, hog, states=("SCHEDULED", "STARTING", "RUNNING"))
    wait = sensor(
        emu, waiting, poke_interval=0.2, timeout=120, max_runnable_seconds=1, stream_logs=False
    )
    with pytest.raises(AirflowFailException) as err:
        wait.execute(make_context())
    message = str(err.value)
    assert "longer than max_runnable_seconds=1" in message
    assert (
        "At the last look: RUNNABLE for " in message and " in tight2; 1 of 1 instances" in message
    )
