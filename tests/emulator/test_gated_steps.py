"""Scenario tries that hold a job in a status until a client has been shown it there
(``holdUntilSeen``), in-process and over HTTP, on a frozen clock.

Time cannot promise that a poller sees a state: a loaded machine polls late and the state is
gone. These tests poll far more slowly than the states last (50 s between looks, 1 s per
state) and still see every held state, and the provider's own ``core.watch.JobWatcher`` logs
what the demo announces from those answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_batch_service.core import reasons
from airflow_batch_service.core.watch import JobWatcher

from .helpers import (
    capacity,
    describe,
    hang,
    run_to_end,
    scenario,
    scenarios,
    script,
    statuses_until_end,
    submit_args,
    succeeded,
)

SEEN_ONCE = {"RUNNABLE": 1}
REQUEUED = "Batch requeued it without using an attempt"
#: Far longer than any state lasts (1 s): only a hold lets such a poller see a state.
SLOW_POLL = 50.0


def poll_slowly(emu: Any, batch: Any, job_id: str) -> tuple[list[tuple[str, Any]], list[str]]:
    """Look at the job every ``SLOW_POLL`` seconds until it ends, as the sensor would: each
    answer's (status, statusReason), and what the provider's watcher logged from them."""
    watcher = JobWatcher()
    seen: list[tuple[str, Any]] = []
    lines: list[str] = []
    for _ in range(20):
        now = emu.advance(SLOW_POLL)
        answer = describe(batch, job_id)
        seen.append((answer["status"], answer.get("statusReason")))
        lines += watcher.observe(answer, round(now * 1000)).messages
        if answer["status"] in ("SUCCEEDED", "FAILED"):
            return seen, lines
    raise AssertionError(f"job {job_id} did not end: {seen}")


def test_a_slow_poller_sees_the_capacity_bounce_it_was_promised(emu, batch):
    """The demo's story: RUNNABLE until the wait has seen it, a capacity bounce, RUNNABLE
    again until the wait has seen that; so the wait logs the requeue however late it looks."""
    emu.load_scenarios(
        scenarios(
            script(
                "held-*", capacity(hold_until_seen=SEEN_ONCE), succeeded(hold_until_seen=SEEN_ONCE)
            ),
            script("timed-*", capacity(), succeeded()),
        )
    )
    held = batch.submit_service_job(**submit_args(emu.queue_name, "held-1"))
    seen, lines = poll_slowly(emu, batch, held["jobId"])
    assert seen == [
        ("RUNNABLE", None),
        ("RUNNABLE", reasons.CAPACITY_ERROR),
        ("SUCCEEDED", reasons.TRAINING_COMPLETED),
    ]
    assert any(REQUEUED in line for line in lines), lines
    final = describe(batch, held["jobId"])
    # Held through the first two looks: it got capacity at the second one, 100 s in.
    assert final["scheduledAt"] - final["createdAt"] == pytest.approx(100_000, abs=1)
    assert len(final["attempts"]) == 1  # the bounce used no attempt

    # The same script on time alone: the slow poller's first look is already the end.
    timed = batch.submit_service_job(**submit_args(emu.queue_name, "timed-1"))
    seen, lines = poll_slowly(emu, batch, timed["jobId"])
    assert seen == [("SUCCEEDED", reasons.TRAINING_COMPLETED)]
    assert not any(REQUEUED in line for line in lines)


def test_describe_and_list_answers_count_but_only_those_that_show_the_status(emu, batch):
    emu.load_scenarios(scenario("counted", succeeded(hold_until_seen={"RUNNABLE": 3})))
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "counted"))["jobId"]
    emu.advance(100)
    listed = batch.list_service_jobs(jobQueue=emu.queue_name, jobStatus="RUNNABLE")
    assert [j["jobId"] for j in listed["jobSummaryList"]] == [job_id]  # 1st sighting
    emu.advance(100)
    assert describe(batch, job_id)["status"] == "RUNNABLE"  # 2nd
    emu.advance(100)
    # An answer that does not show the job does not count.
    assert batch.list_service_jobs(jobQueue=emu.queue_name)["jobSummaryList"] == []
    emu.advance(100)
    assert describe(batch, job_id)["status"] == "RUNNABLE"  # 3rd: released
    final = run_to_end(emu, batch, job_id)
    assert final["status"] == "SUCCEEDED"
    assert final["scheduledAt"] - final["createdAt"] == pytest.approx(400_000, abs=1)


def test_a_hold_never_makes_a_job_leave_sooner_than_its_time(emu, batch):
    emu.load_scenarios(
        scenario("patient", succeeded(runnable_seconds=30, hold_until_seen=SEEN_ONCE))
    )
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "patient"))["jobId"]
    emu.advance(5)
    assert describe(batch, job_id)["status"] == "RUNNABLE"  # seen at 5 s: released
    final = run_to_end(emu, batch, job_id)
    # 1 s SUBMITTED + the try's 30 s RUNNABLE, as without the hold.
    assert final["scheduledAt"] - final["createdAt"] == pytest.approx(31_000, abs=1)


def test_held_scheduled_starting_and_running_are_each_seen(emu, batch):
    everything = {"SCHEDULED": 1, "STARTING": 1, "RUNNING": 1}
    emu.load_scenarios(scenario("watched", succeeded(seconds=2, hold_until_seen=everything)))
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "watched"))["jobId"]
    assert statuses_until_end(emu, batch, job_id, step=SLOW_POLL) == [
        "SUBMITTED",
        "SCHEDULED",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    (attempt,) = describe(batch, job_id)["attempts"]
    # RUNNING from the look that saw STARTING to the look that saw RUNNING.
    assert attempt["stoppedAt"] - attempt["startedAt"] == pytest.approx(SLOW_POLL * 1000, abs=1)


def test_a_hold_does_not_stop_terminate_or_time_limits(emu, batch):
    batch.update_job_queue(
        jobQueue=emu.queue_name,
        jobStateTimeLimitActions=[
            {
                "reason": "RUNNABLE for too long",
                "state": "RUNNABLE",
                "maxTimeSeconds": 600,
                "action": "TERMINATE",
            }
        ],
    )
    emu.load_scenarios(
        scenarios(
            script("unseen", succeeded(hold_until_seen=SEEN_ONCE)),
            script("stopped", hang(hold_until_seen={"STARTING": 1})),
        )
    )
    unseen = batch.submit_service_job(**submit_args(emu.queue_name, "unseen"))["jobId"]
    stopped = batch.submit_service_job(**submit_args(emu.queue_name, "stopped"))["jobId"]
    emu.advance(5)
    assert describe(batch, stopped)["status"] == "STARTING"  # seen: may go on to RUNNING
    batch.terminate_service_job(jobId=stopped, reason="enough")
    emu.advance(700)
    final = describe(batch, unseen)  # never shown RUNNABLE before the limit ended it
    assert (final["status"], final["statusReason"], final["isTerminated"]) == (
        "FAILED",
        "RUNNABLE for too long",
        True,
    )
    assert final["stoppedAt"] - final["createdAt"] == 601_000  # 1 s SUBMITTED + 600 s
    ended = describe(batch, stopped)
    assert (ended["status"], ended["statusReason"]) == ("FAILED", "enough")


@pytest.mark.parametrize(
    ("step", "words"),
    [
        ({"holdUntilSeen": {"SUBMITTED": 1}}, "holdUntilSeen: 'SUBMITTED' is not a status"),
        ({"holdUntilSeen": {"RUNNABLE": 0}}, "holdUntilSeen.RUNNABLE: must be a whole number"),
        ({"holdUntilSeen": {"RUNNABLE": 1.5}}, "holdUntilSeen.RUNNABLE: must be a whole number"),
        ({"holdUntilSeen": {"RUNNABLE": True}}, "holdUntilSeen.RUNNABLE: must be a whole number"),
        ({"holdUntilSeen": 1}, "holdUntilSeen: must be a non-empty object"),
        ({"holdUntilSeen": {}}, "holdUntilSeen: must be a non-empty object"),
        (
            {"result": "CAPACITY", "holdUntilSeen": {"RUNNING": 1}},
            "holdUntilSeen.RUNNING: a CAPACITY try never reaches RUNNING",
        ),
        (
            {"result": "HANG", "holdUntilSeen": {"RUNNING": 1}},
            "holdUntilSeen.RUNNING: a HANG try never leaves RUNNING by itself",
        ),
    ],
)
def test_a_malformed_hold_is_refused_naming_the_field(emu, step, words):
    document = {"jobs": [{"jobName": "x", "attempts": [{"result": "SUCCEEDED"}, step]}]}
    with pytest.raises(ValueError) as err:
        emu.load_scenarios(document)
    assert f"jobs[0].attempts[1].{words}" in str(err.value)


def test_a_loaded_hold_reads_back_as_written(emu):
    hold = {"RUNNABLE": 2, "RUNNING": 1}
    loaded = emu.load_scenarios(
        scenario("x-*", capacity(hold_until_seen=SEEN_ONCE), succeeded(hold_until_seen=hold))
    )
    attempts = loaded["scenarios"]["jobs"][0]["attempts"]
    assert [a.get("holdUntilSeen") for a in attempts] == [SEEN_ONCE, hold]
