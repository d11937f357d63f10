"""Lifecycle, scenario results and Batch's retry semantics, driven by a frozen clock.

Each test also reads the final describe through ``core.verdict.interpret`` (what the sensor
uses), so the emulator and the provider's explanation cannot drift apart.
"""

from __future__ import annotations

import json
import time

import pytest

from airflow_batch_service.core import reasons
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.verdict import Outcome, interpret

from .helpers import (
    ISE,
    VALIDATION,
    attempt,
    capacity,
    describe,
    failed,
    hang,
    preempted,
    run_to_end,
    scenario,
    scenarios,
    script,
    statuses_until_end,
    submit_args,
    succeeded,
)

AWS_EXAMPLE = {
    "attempts": 5,
    "evaluateOnExit": [
        {
            "action": "RETRY",
            "onStatusReason": "Received status from SageMaker: InternalServerError*",
        },
        {
            "action": "EXIT",
            "onStatusReason": "Received status from SageMaker: ValidationException*",
        },
        {"action": "EXIT", "onStatusReason": "*"},
    ],
}


def test_retry_rule_then_success(emu, batch):
    emu.load_scenarios(scenario("flaky-*", failed(ISE, seconds=3)))
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "flaky-1", retryStrategy=AWS_EXAMPLE)
    )
    final = run_to_end(emu, batch, job["jobId"])
    assert final["status"] == "SUCCEEDED"
    assert [a["statusReason"] for a in final["attempts"]] == [ISE, reasons.TRAINING_COMPLETED]
    first = final["attempts"][0]
    assert first["stoppedAt"] - first["startedAt"] == 3000
    arns = {a["serviceResourceId"]["value"] for a in final["attempts"]}
    assert len(arns) == 2  # a new training job per attempt
    verdict = interpret(final)
    assert verdict.outcome is Outcome.SUCCEEDED
    assert verdict.attempts[0].decision.cause is Cause.RETRY_RULE


def test_exit_rule_fails_at_once(emu, batch):
    emu.load_scenarios(scenario("bad", failed(VALIDATION)))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "bad", retryStrategy=AWS_EXAMPLE))
    final = run_to_end(emu, batch, job["jobId"])
    assert (final["status"], final["statusReason"], len(final["attempts"])) == (
        "FAILED",
        VALIDATION,
        1,
    )
    assert final["isTerminated"] is False
    verdict = interpret(final)
    assert verdict.cause is Cause.EXIT_RULE and verdict.attempts[0].decision.rule.index == 2


def test_no_rule_matched_retries_while_attempts_remain(emu, batch):
    strategy = {
        "attempts": 2,
        "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "*ValidationException*"}],
    }
    emu.load_scenarios(scenario("nomatch", failed(ISE)))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "nomatch", retryStrategy=strategy))
    final = run_to_end(emu, batch, job["jobId"])
    assert final["status"] == "SUCCEEDED" and len(final["attempts"]) == 2
    assert interpret(final).attempts[0].decision.cause is Cause.NO_RULE_MATCHED


def test_attempts_exhausted(emu, batch):
    emu.load_scenarios(scenario("doomed", failed(ISE), failed(ISE)))
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "doomed", retryStrategy={"attempts": 2})
    )
    final = run_to_end(emu, batch, job["jobId"])
    assert (final["status"], len(final["attempts"])) == ("FAILED", 2)
    assert interpret(final).cause is Cause.ATTEMPTS_EXHAUSTED


def test_no_retry_strategy_means_one_attempt(emu, batch):
    emu.load_scenarios(scenario("once", failed()))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "once"))
    final = run_to_end(emu, batch, job["jobId"])
    assert (final["status"], len(final["attempts"])) == ("FAILED", 1)
    assert final["statusReason"].startswith(reasons.SAGEMAKER_PREFIX)


def test_capacity_goes_back_to_runnable_without_using_an_attempt(emu, batch):
    emu.load_scenarios(scenario("busy", capacity(), capacity()))
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "busy", retryStrategy={"attempts": 1})
    )
    seen, reasons_seen = [], []
    for _ in range(30):
        current = describe(batch, job["jobId"])
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
            reasons_seen.append(current.get("statusReason"))
        if current["status"] == "SUCCEEDED":
            break
        emu.advance(1)
    assert seen == [
        "SUBMITTED",
        "RUNNABLE",
        "SCHEDULED",
        "RUNNABLE",
        "SCHEDULED",
        "RUNNABLE",
        "SCHEDULED",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    assert reasons_seen[3] == reasons.CAPACITY_ERROR
    assert len(current["attempts"]) == 1  # attempts=1 and it still ran: capacity used none


def test_preemption_requeues_and_fills_the_summary(emu, batch):
    emu.load_scenarios(scenario("pre", attempt("PREEMPTED", seconds=2)))
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "pre", retryStrategy={"attempts": 1})
    )
    final = run_to_end(emu, batch, job["jobId"])
    assert final["status"] == "SUCCEEDED" and len(final["attempts"]) == 1
    summary = final["preemptionSummary"]
    assert summary["preemptedAttemptCount"] == 1
    [preempted] = summary["recentPreemptedAttempts"]
    assert preempted["statusReason"] == reasons.PREEMPTION
    assert (
        preempted["serviceResourceId"]["value"]
        != final["attempts"][0]["serviceResourceId"]["value"]
    )
    assert interpret(final).preempted_count == 1


def test_preemption_limit_fails_the_job(emu, batch):
    emu.load_scenarios(scenario("pre2", preempted(), preempted(), preempted()))
    job = batch.submit_service_job(
        **submit_args(
            emu.queue_name,
            "pre2",
            preemptionConfiguration={"preemptionRetriesBeforeTermination": 1},
        )
    )
    final = run_to_end(emu, batch, job["jobId"])
    assert (final["status"], final["statusReason"]) == ("FAILED", reasons.PREEMPTION_LIMIT)
    assert final["preemptionSummary"]["preemptedAttemptCount"] == 2
    assert interpret(final).cause is Cause.PREEMPTION_LIMIT


def test_hang_until_attempt_timeout_is_not_retried(emu, batch):
    emu.load_scenarios(scenario("hang", hang()))
    job = batch.submit_service_job(
        **submit_args(
            emu.queue_name,
            "hang",
            retryStrategy={"attempts": 3},
            timeoutConfig={"attemptDurationSeconds": 30},
        )
    )
    final = run_to_end(emu, batch, job["jobId"], step=5)
    assert (final["status"], final["statusReason"], len(final["attempts"])) == (
        "FAILED",
        reasons.ATTEMPT_TIMEOUT,
        1,
    )
    attempt = final["attempts"][0]
    assert attempt["stoppedAt"] - attempt["startedAt"] == 30_000
    assert interpret(final).cause is Cause.TIMED_OUT


def test_hang_runs_until_terminated(emu, batch):
    emu.load_scenarios(scenario("hang", hang()))
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "hang", retryStrategy={"attempts": 3})
    )
    emu.advance(10)
    assert describe(batch, job["jobId"])["status"] == "RUNNING"
    emu.advance(100_000)
    assert describe(batch, job["jobId"])["status"] == "RUNNING"
    batch.terminate_service_job(jobId=job["jobId"], reason="operator gave up")
    emu.advance(100)
    final = describe(batch, job["jobId"])
    assert (final["status"], final["statusReason"], final["isTerminated"]) == (
        "FAILED",
        "operator gave up",
        True,
    )
    assert final["attempts"][0]["statusReason"] == "operator gave up"
    assert len(final["attempts"]) == 1
    assert interpret(final).cause is Cause.TERMINATED


def test_terminate_while_runnable_and_after_success(emu, batch):
    job = batch.submit_service_job(**submit_args(emu.queue_name, "early"))
    emu.advance(1)
    assert describe(batch, job["jobId"])["status"] == "RUNNABLE"
    batch.terminate_service_job(jobId=job["jobId"], reason="not needed")
    final = describe(batch, job["jobId"])
    assert (final["status"], final["isTerminated"], final["attempts"]) == ("FAILED", True, [])
    done = batch.submit_service_job(**submit_args(emu.queue_name, "done"))
    run_to_end(emu, batch, done["jobId"])
    batch.terminate_service_job(jobId=done["jobId"], reason="too late")
    assert describe(batch, done["jobId"])["status"] == "SUCCEEDED"


def test_job_state_time_limit_terminates_a_job_runnable_too_long(emu, batch):
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
    emu.load_scenarios(scenario("stuck", succeeded(runnable_seconds=5000)))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "stuck"))
    emu.advance(500)
    assert describe(batch, job["jobId"])["status"] == "RUNNABLE"
    emu.advance(200)
    final = describe(batch, job["jobId"])
    assert (final["status"], final["statusReason"], final["isTerminated"]) == (
        "FAILED",
        "RUNNABLE for too long",
        True,
    )
    assert final["stoppedAt"] - final["createdAt"] == 601_000  # 1 s SUBMITTED + 600 s RUNNABLE


def test_disabled_service_environment_keeps_jobs_runnable(emu, batch):
    batch.update_service_environment(serviceEnvironment=f"{emu.queue_name}-env", state="DISABLED")
    job = batch.submit_service_job(**submit_args(emu.queue_name, "waiting"))
    emu.advance(1000)
    assert describe(batch, job["jobId"])["status"] == "RUNNABLE"
    batch.update_service_environment(serviceEnvironment=f"{emu.queue_name}-env", state="ENABLED")
    assert run_to_end(emu, batch, job["jobId"])["status"] == "SUCCEEDED"


def test_scenarios_pick_by_glob_first_match_wins_and_set_timing(emu, batch, tmp_path):
    document = scenarios(
        script("a-*", failed()), script("*", succeeded(seconds=7)), seconds_per_state=2
    )
    path = tmp_path / "scenarios.json"
    path.write_text(json.dumps(document))
    emu.load_scenarios(str(path))
    a = batch.submit_service_job(**submit_args(emu.queue_name, "a-1"))
    b = batch.submit_service_job(**submit_args(emu.queue_name, "b-1"))
    assert run_to_end(emu, batch, a["jobId"])["status"] == "FAILED"
    final_b = run_to_end(emu, batch, b["jobId"])
    assert final_b["status"] == "SUCCEEDED"
    assert final_b["scheduledAt"] - final_b["createdAt"] == 4000  # 2 states x 2 s
    assert final_b["stoppedAt"] - final_b["startedAt"] == 7000


def test_every_state_is_seen_in_order(emu, batch):
    job = batch.submit_service_job(**submit_args(emu.queue_name, "walker"))
    seen = statuses_until_end(emu, batch, job["jobId"])
    assert seen == ["SUBMITTED", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING", "SUCCEEDED"]


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (
            {"jobs": [{"jobName": "x", "attempts": [{"result": "EXPLODE"}]}]},
            "jobs[0].attempts[0].result",
        ),
        ({"jobs": [{"attempts": []}]}, "jobs[0].jobName"),
        (
            {"jobs": [{"jobName": "x", "attempts": [{"seconds": -1}]}]},
            "jobs[0].attempts[0].seconds",
        ),
        ({"colour": 1}, "unknown key"),
    ],
)
def test_malformed_scenarios_are_refused_naming_the_field(emu, document, words):
    with pytest.raises(ValueError, match=None) as err:
        emu.load_scenarios(document)
    assert words in str(err.value)


def test_lifecycle_follows_the_real_clock(batch_emulator):
    """Unfrozen, 0.02 s per state: the job gets there on its own (no background thread)."""
    batch_emulator.configure(seconds_per_state=0.02)
    batch = batch_emulator.client()
    job = batch.submit_service_job(**submit_args(batch_emulator.queue_name, "live"))
    status = describe(batch, job["jobId"])["status"]
    for _ in range(500):
        status = describe(batch, job["jobId"])["status"]
        if status == "SUCCEEDED":
            break
        time.sleep(0.01)
    assert status == "SUCCEEDED"


def test_history_is_the_same_whether_polled_or_read_once(emu, batch):
    """Lazy evaluation stamps each transition with its own time, not the time it was noticed."""
    emu.load_scenarios(scenario("twin-*", capacity(), failed(seconds=3), preempted(seconds=2)))
    strategy = {"attempts": 3}
    polled = batch.submit_service_job(
        **submit_args(emu.queue_name, "twin-a", retryStrategy=strategy)
    )
    once = batch.submit_service_job(**submit_args(emu.queue_name, "twin-b", retryStrategy=strategy))
    for _ in range(80):
        describe(batch, polled["jobId"])
        emu.advance(0.5)
    a, b = describe(batch, polled["jobId"]), describe(batch, once["jobId"])

    def timeline(job):
        attempts = [
            (
                x["startedAt"] - job["createdAt"],
                x["stoppedAt"] - job["createdAt"],
                x["statusReason"],
            )
            for x in job["attempts"] + job["preemptionSummary"]["recentPreemptedAttempts"]
        ]
        return job["status"], job["stoppedAt"] - job["createdAt"], attempts

    assert a["status"] == "SUCCEEDED"
    assert timeline(a) == timeline(b)
