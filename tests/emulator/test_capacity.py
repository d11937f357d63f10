"""Capacity and order, through the Batch API, in-process and over HTTP (``emu``: frozen clock,
1 s per state): limits, FIFO and fair-share order, every way a run frees its capacity."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .capacity_support import (
    ACTIVE,
    HANG,
    Trace,
    scripted,
    submit,
)
from .helpers import (
    attempt,
    describe,
    failed,
    preempted,
    succeeded,
)


# --------------------------------------------------------------------------- capacity
def test_peak_never_exceeds_the_capacity_limit(emu: Any, batch: Any) -> None:
    emu.create_queue("cap4", max_capacity=4)
    for i in range(8):
        submit(batch, "cap4", f"one-{i}")
    for i in range(3):
        submit(batch, "cap4", f"two-{i}", instances=2)
    trace = Trace(emu, batch, "cap4")
    for _ in range(40):
        trace.step()
        if all(s == "SUCCEEDED" for s in trace.statuses().values()):
            break
    assert trace.peak_instances == 4  # full, never over
    assert all(s == "SUCCEEDED" for s in trace.statuses().values()), trace.statuses()
    assert len(trace.statuses()) == 11


def test_fifo_queue_starts_jobs_in_submission_order(emu: Any, batch: Any) -> None:
    emu.create_queue("fifo1", max_capacity=1)
    names = [f"job-{i}" for i in range(4)]
    for name in names:
        submit(batch, "fifo1", name)
    trace = Trace(emu, batch, "fifo1")
    trace.step(20)
    assert trace.started == names
    assert trace.peak_jobs == 1
    stamps = [trace.last[n]["scheduledAt"] for n in names]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    # Each starts the instant the one before it ends.
    for before, after in itertools.pairwise(names):
        assert trace.last[after]["scheduledAt"] == trace.last[before]["stoppedAt"]


def test_a_job_that_can_never_fit_stays_runnable_and_smaller_ones_pass_it(
    emu: Any, batch: Any
) -> None:
    emu.create_queue("small", max_capacity=2)
    big = submit(batch, "small", "big", instances=3)
    small = submit(batch, "small", "small")
    emu.advance(30)
    assert describe(batch, big)["status"] == "RUNNABLE"
    assert describe(batch, small)["status"] == "SUCCEEDED"


def test_runnable_time_limit_still_terminates_a_job_that_never_fits(emu: Any, batch: Any) -> None:
    emu.create_queue("limited", max_capacity=1)
    batch.update_job_queue(
        jobQueue="limited",
        jobStateTimeLimitActions=[
            {
                "reason": "CAPACITY:never",
                "state": "RUNNABLE",
                "maxTimeSeconds": 600,
                "action": "TERMINATE",
            }
        ],
    )
    job = submit(batch, "limited", "huge", instances=5)
    emu.advance(300)
    assert describe(batch, job)["status"] == "RUNNABLE"
    emu.advance(400)
    out = describe(batch, job)
    assert (
        out["status"] == "FAILED"
        and out["isTerminated"]
        and out["statusReason"] == "CAPACITY:never"
    )


def test_lowering_a_limit_applies_to_the_next_decision_raising_it_starts_jobs_now(
    emu: Any, batch: Any
) -> None:
    emu.create_queue("resize", max_capacity=2)
    for i in range(6):
        submit(batch, "resize", f"j{i}")
    trace = Trace(emu, batch, "resize")
    trace.step(2)
    assert sum(s in ACTIVE for s in trace.statuses().values()) == 2
    batch.update_service_environment(
        serviceEnvironment="resize-env",
        capacityLimits=[{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}],
    )
    # The two running keep running; as they end, only one job at a time starts.
    trace.peak_jobs = 0
    trace.step(6)
    assert trace.peak_jobs <= 2
    assert sum(s in ACTIVE for s in trace.statuses().values()) == 1
    batch.update_service_environment(
        serviceEnvironment="resize-env",
        capacityLimits=[{"maxCapacity": 5, "capacityUnit": "NUM_INSTANCES"}],
    )
    jobs = trace.observe()  # same instant: the raise lets every waiting job start at once
    assert [j["status"] for j in jobs.values()].count("RUNNABLE") == 0


END_WAYS = [
    "succeeded",
    "failed_attempt",
    "terminated",
    "preempted",
    "timed_out",
    "capacity_bounce",
]


@pytest.mark.parametrize("way", END_WAYS)
def test_every_way_a_run_ends_frees_its_capacity(emu: Any, batch: Any, way: str) -> None:
    emu.create_queue("one", max_capacity=1)
    extra: dict[str, Any] = {}
    if way == "failed_attempt":
        scripted(emu, first=[failed(seconds=3)])
        extra["retryStrategy"] = {"attempts": 2}
    elif way == "preempted":
        scripted(emu, first=[preempted(seconds=3)])
    elif way in ("terminated", "timed_out"):
        scripted(emu, first=HANG)
        if way == "timed_out":
            extra["timeoutConfig"] = {"attemptDurationSeconds": 3}
    elif way == "capacity_bounce":
        scripted(emu, first=[attempt("CAPACITY")])
    first = submit(batch, "one", "first", **extra)
    emu.advance(1)
    second = submit(batch, "one", "second")
    emu.advance(1)  # first holds the instance (SCHEDULED); second is RUNNABLE
    assert describe(batch, first)["status"] == "SCHEDULED"
    assert describe(batch, second)["status"] == "RUNNABLE"
    if way == "terminated":
        emu.advance(3)
        assert describe(batch, second)["status"] == "RUNNABLE"
        batch.terminate_service_job(jobId=first, reason="stop")
    for _ in range(10):
        out = describe(batch, second)
        if out["status"] != "RUNNABLE":
            break
        emu.advance(1)
    assert out["status"] in ACTIVE, (way, out["status"])
    ended = describe(batch, first)
    freed_at = ended.get("stoppedAt")
    if way in ("failed_attempt", "preempted", "capacity_bounce"):
        assert ended["status"] in ("RUNNABLE", *ACTIVE)  # requeued
        runs = ended.get("attempts", []) + ended.get("preemptionSummary", {}).get(
            "recentPreemptedAttempts", []
        )
        freed_at = runs[0]["stoppedAt"] if runs else None
    if freed_at is not None:
        assert out["scheduledAt"] == freed_at  # the next job starts the instant capacity is freed


# ------------------------------------------------------------------------------ order
def test_fair_share_queue_starts_higher_priority_first(emu: Any, batch: Any) -> None:
    emu.create_queue("fs", fair_share=True, max_capacity=1)
    scripted(emu, blocker=[succeeded(seconds=5)])
    submit(batch, "fs", "blocker", shareIdentifier="a", schedulingPriority=0)
    emu.advance(2)  # the blocker takes the only instance before the others arrive
    for name, priority in (("p1", 1), ("p50", 50), ("p10", 10), ("p99", 99)):
        submit(batch, "fs", name, shareIdentifier="a", schedulingPriority=priority)
    trace = Trace(emu, batch, "fs")
    trace.step(30)
    assert trace.started == ["blocker", "p99", "p50", "p10", "p1"]


def test_fair_share_same_priority_alternates_between_shares(emu: Any, batch: Any) -> None:
    emu.create_queue("fs2", fair_share=True, max_capacity=2)
    for i in range(3):
        submit(batch, "fs2", f"a{i}", shareIdentifier="a")
    for i in range(3):
        submit(batch, "fs2", f"b{i}", shareIdentifier="b")
    trace = Trace(emu, batch, "fs2")
    trace.step(3)
    assert sorted(n for n, s in trace.statuses().items() if s in ACTIVE) == ["a0", "b0"]


def test_update_service_job_reorders_the_queue(emu: Any, batch: Any) -> None:
    emu.create_queue("fs3", fair_share=True, max_capacity=1)
    scripted(emu, blocker=[succeeded(seconds=5)])
    submit(batch, "fs3", "blocker", shareIdentifier="a")
    emu.advance(2)
    ids = {
        n: submit(batch, "fs3", n, shareIdentifier="a", schedulingPriority=10)
        for n in ("x", "y", "z")
    }
    emu.advance(3)
    before = batch.get_job_queue_snapshot(jobQueue="fs3")["frontOfQueue"]["jobs"]
    assert [j["jobArn"].rsplit("/", 1)[-1] for j in before] == [ids["x"], ids["y"], ids["z"]]
    batch.update_service_job(jobId=ids["z"], schedulingPriority=90)
    after = batch.get_job_queue_snapshot(jobQueue="fs3")["frontOfQueue"]["jobs"]
    assert [j["jobArn"].rsplit("/", 1)[-1] for j in after] == [ids["z"], ids["x"], ids["y"]]
    trace = Trace(emu, batch, "fs3")
    trace.step(30)
    assert trace.started == ["blocker", "z", "x", "y"]
