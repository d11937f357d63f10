"""The sans-I/O wait (core.watch): what gets logged, when, and how long to sleep."""

from __future__ import annotations

import random

from airflow_batch_service.core import reasons
from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.watch import JobWatcher, PollPolicy, WaitLoop, WatchState

from .factories import ISE, STRATEGY, attempt, describe


def test_each_state_change_is_logged_once_with_time_spent() -> None:
    watcher = JobWatcher()
    first = watcher.observe(describe("RUNNABLE"), 5_000)
    assert first.messages == ("service job train (job-1) is RUNNABLE",)
    assert watcher.observe(describe("RUNNABLE"), 6_000).messages == ()
    moved = watcher.observe(describe("SCHEDULED", scheduledAt=9_000), 10_000)
    # Nothing stamps when RUNNABLE began: say only when it was last seen, not a made-up span.
    assert moved.messages == (
        "service job train is now SCHEDULED (was RUNNABLE at the previous poll, 4.0s ago)",
    )


def test_a_state_stamped_at_both_ends_is_given_its_real_duration() -> None:
    """Back in RUNNABLE after a failed attempt (stoppedAt) and then SCHEDULED (scheduledAt):
    both ends are in the response, so the duration is exact, however far apart the polls."""
    watcher = JobWatcher()
    failed = [attempt(1, 2_000, 4_000, ISE)]
    watcher.observe(describe("RUNNABLE", failed, retryStrategy=STRATEGY), 5_000)
    moved = watcher.observe(
        describe("SCHEDULED", failed, retryStrategy=STRATEGY, scheduledAt=7_500), 60_000
    )
    assert moved.messages[-1] == "service job train is now SCHEDULED (was RUNNABLE for 3.5s)"


def test_states_skipped_between_polls_are_named() -> None:
    watcher = JobWatcher()
    watcher.observe(describe("SUBMITTED"), 1_500)
    moved = watcher.observe(describe("RUNNING", [attempt(1, 8_000)], startedAt=8_000), 31_500)
    assert moved.messages == (
        "service job train is now RUNNING (was SUBMITTED at the previous poll, 30s ago; "
        "passed through RUNNABLE, SCHEDULED, STARTING in between)",
    )
    done = watcher.observe(
        describe("SUCCEEDED", [attempt(1, 8_000, 9_000)], startedAt=8_000, stoppedAt=9_000),
        40_000,
    )
    assert done.messages[1] == "service job train is now SUCCEEDED (was RUNNING for 1.0s)"


def test_a_recovered_wait_says_so_once() -> None:
    loop = WaitLoop("job-1", PollPolicy(interval=1), started_ms=0)
    loop.on_error(ErrorKind.TRANSIENT, "TooManyRequestsException", 1_000)
    loop.on_error(ErrorKind.TRANSIENT, "ServerException", 2_000)
    back = loop.on_response(describe("RUNNABLE"), 3_000)
    assert back.messages[0] == (
        "describing service job job-1 works again after 2 transient AWS error(s) in a row; "
        "the wait goes on"
    )
    assert not any(
        "works again" in m for m in loop.on_response(describe("RUNNABLE"), 4_000).messages
    )


def test_finished_attempts_are_reported_once_in_order() -> None:
    watcher = JobWatcher()
    watcher.observe(describe("RUNNING", [attempt(1, 2_000)], retryStrategy=STRATEGY), 3_000)
    retried = watcher.observe(
        describe("RUNNABLE", [attempt(1, 2_000, 4_000, ISE)], retryStrategy=STRATEGY), 5_000
    )
    assert retried.messages[0].startswith("attempt 1 of 3 failed after 2.0s: " + ISE)
    assert "Batch queued attempt 2" in retried.messages[0]
    again = watcher.observe(
        describe("RUNNABLE", [attempt(1, 2_000, 4_000, ISE)], retryStrategy=STRATEGY), 6_000
    )
    assert again.messages == ()


def test_state_survives_a_round_trip_so_reschedule_pokes_do_not_repeat_lines() -> None:
    watcher = JobWatcher()
    watcher.observe(
        describe("RUNNABLE", [attempt(1, 2_000, 4_000, ISE)], retryStrategy=STRATEGY), 5_000
    )
    carried = WatchState.from_dict(watcher.state.to_dict())
    fresh = JobWatcher(state=carried)
    assert (
        fresh.observe(
            describe("RUNNABLE", [attempt(1, 2_000, 4_000, ISE)], retryStrategy=STRATEGY), 9_000
        ).messages
        == ()
    )


def test_capacity_bounce_is_explained() -> None:
    watcher = JobWatcher()
    watcher.observe(describe("SCHEDULED"), 2_000)
    bounced = watcher.observe(describe("RUNNABLE", statusReason=reasons.CAPACITY_ERROR), 3_000)
    assert "without using an attempt" in bounced.messages[0]
    assert "CapacityError" in bounced.messages[0]


def test_capacity_bounce_between_two_polls_is_still_explained() -> None:
    watcher = JobWatcher()
    watcher.observe(describe("RUNNABLE"), 2_000)
    # The job went SCHEDULED and back while nobody looked: only the reason tells.
    bounced = watcher.observe(describe("RUNNABLE", statusReason=reasons.CAPACITY_ERROR), 3_000)
    assert len(bounced.messages) == 1 and "went back to RUNNABLE" in bounced.messages[0]
    assert "without using an attempt" in bounced.messages[0]
    again = watcher.observe(describe("RUNNABLE", statusReason=reasons.CAPACITY_ERROR), 4_000)
    assert again.messages == ()


def test_stuck_runnable_asks_for_termination() -> None:
    watcher = JobWatcher(max_runnable_seconds=60)
    assert watcher.observe(describe("RUNNABLE"), 30_000).terminate_reason is None
    stuck = watcher.observe(describe("RUNNABLE"), 62_000)
    assert stuck.terminate_reason is not None
    assert "max_runnable_seconds=60" in stuck.terminate_reason and "1m01s" in stuck.terminate_reason


def test_final_verdict_is_logged_with_its_headline() -> None:
    watcher = JobWatcher()
    done = watcher.observe(
        describe("SUCCEEDED", [attempt(1, 2_000, 3_000, reasons.TRAINING_COMPLETED)]), 4_000
    )
    assert done.verdict.succeeded and done.messages[-1].startswith(
        "Service job train (job-1) SUCCEEDED"
    )


def test_wait_loop_backs_off_on_transient_errors_and_resets_after_success() -> None:
    loop = WaitLoop(
        "job-1", PollPolicy(interval=10, max_backoff=100, jitter=0.0), rng=random.Random(1)
    )
    steps = [loop.on_error(ErrorKind.TRANSIENT, "Rate exceeded", 1_000 * i) for i in range(1, 6)]
    assert not any(step.done for step in steps)
    assert "retrying in" in steps[0].messages[0]
    delays = [step.sleep for step in steps]
    assert delays[-1] <= 100 and delays[-1] >= 50  # capped, never below half the cap
    assert max(delays) > min(delays)
    step = loop.on_response(describe("RUNNING"), 10_000)
    assert step.sleep == 10 and not step.done and loop.consecutive_errors == 0


def test_a_slow_polling_wait_backs_off_from_its_error_interval() -> None:
    """A wait woken by events polls every few minutes but retries a throttled call on its
    poll interval's backoff: 30-60 s, then 60-120 s, up to the cap."""
    policy = PollPolicy(interval=300, max_backoff=300, error_interval=30)
    loop = WaitLoop("job-1", policy, rng=random.Random(3))
    first, second = (loop.on_error(ErrorKind.TRANSIENT, "Rate exceeded", i) for i in (1, 2))
    assert 30 <= first.sleep <= 60 and 60 <= second.sleep <= 120, (first.sleep, second.sleep)
    assert loop.on_response(describe("RUNNING"), 3).sleep >= 270  # polls stay slow
    for i in range(4, 20):
        assert loop.on_error(ErrorKind.TRANSIENT, "Rate exceeded", i).sleep <= 300


def test_transient_errors_never_end_the_wait() -> None:
    loop = WaitLoop("job-1", PollPolicy(interval=1), started_ms=0)
    for i in range(1, 200):
        step = loop.on_error(ErrorKind.TRANSIENT, "ServerException", i * 60_000)
        assert not step.done and step.error is None


def test_not_found_is_tolerated_only_within_the_grace_period() -> None:
    loop = WaitLoop("job-1", PollPolicy(interval=1, not_found_grace=30), started_ms=0)
    early = loop.on_error(ErrorKind.NOT_FOUND, "does not exist", 10_000)
    assert not early.done and "not visible yet" in early.messages[0]
    late = loop.on_error(ErrorKind.NOT_FOUND, "does not exist", 31_000)
    assert late.done and late.not_found and late.error
    assert late.error.startswith("service job job-1 does not exist: ")
    assert "not found it for 31s" in late.error and "not_found_grace=30s" in late.error


def test_a_job_seen_once_and_then_lost_is_not_called_missing() -> None:
    loop = WaitLoop("job-1", PollPolicy(interval=1, not_found_grace=30), started_ms=0)
    loop.on_response(describe("RUNNING"), 1_000)
    late = loop.on_error(ErrorKind.NOT_FOUND, "does not exist", 40_000)
    assert late.done and not late.not_found and "not found for 40s" in (late.error or "")


def test_fatal_error_ends_the_wait() -> None:
    step = WaitLoop("job-1").on_error(ErrorKind.FATAL, "AccessDenied", 1)
    assert step.done and step.error == "cannot describe service job job-1: AccessDenied"
