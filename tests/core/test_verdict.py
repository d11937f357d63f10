"""Interpreting DescribeServiceJob responses (core.verdict)."""

from __future__ import annotations

import json

from airflow_batch_service.core import reasons
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.verdict import Outcome, format_duration, interpret

from .factories import ISE, STRATEGY, VALIDATION, attempt, describe


def test_in_progress_states_including_scheduled_and_pending() -> None:
    for status in (
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "SCHEDULED",
        "STARTING",
        "RUNNING",
        "NEW_STATE",
    ):
        verdict = interpret(describe(status))
        assert verdict.outcome is Outcome.IN_PROGRESS and not verdict.done, status


def test_success_after_a_retry() -> None:
    verdict = interpret(
        describe(
            "SUCCEEDED",
            [
                attempt(1, 2_000, 44_000, ISE),
                attempt(2, 50_000, 90_000, reasons.TRAINING_COMPLETED),
            ],
            retryStrategy=STRATEGY,
            statusReason=reasons.TRAINING_COMPLETED,
        )
    )
    assert verdict.succeeded and verdict.cause is None
    assert verdict.latest_training_job_arn and verdict.latest_training_job_arn.endswith(f"{2:032x}")
    first, second = verdict.attempts
    assert first.decision is not None and first.decision.retry and first.decision.rule.index == 1
    assert second.succeeded
    text = verdict.explain()
    assert "SUCCEEDED after 2 attempt(s)" in text
    assert "attempt 1 of 3 failed after 42s: " + ISE + "; rule 1 RETRY" in text
    assert "Batch queued attempt 2" in text
    summary = verdict.summary()
    json.dumps(summary)  # JSON-able: it is an XCom value and a trigger event payload
    assert [a["outcome"] for a in summary["attempts"]] == ["RETRIED", "SUCCEEDED"]
    assert summary["trainingJobArn"] == verdict.latest_training_job_arn


def test_exit_rule_is_final() -> None:
    verdict = interpret(
        describe(
            "FAILED",
            [attempt(1, 2_000, 3_000, VALIDATION)],
            retryStrategy=STRATEGY,
            statusReason=VALIDATION,
        )
    )
    assert verdict.outcome is Outcome.FAILED and verdict.cause is Cause.EXIT_RULE
    assert "an EXIT rule matched" in verdict.headline()
    assert (
        'rule 2 EXIT ("Received status from SageMaker: ValidationException*") matched'
        in verdict.explain()
    )


def test_attempts_exhausted_with_no_rule_matching() -> None:
    other = reasons.sagemaker("AlgorithmError: exit code 1")
    verdict = interpret(
        describe(
            "FAILED",
            [attempt(n, n * 10_000, n * 10_000 + 5_000, other) for n in (1, 2, 3)],
            retryStrategy=STRATEGY,
            statusReason=other,
        )
    )
    assert verdict.cause is Cause.ATTEMPTS_EXHAUSTED
    lines = verdict.explain().splitlines()
    assert "all 3 attempt(s) were used" in lines[0]
    assert "no evaluateOnExit rule matched; Batch queued attempt 2" in lines[1]
    assert "no attempts left (3 allowed)" in lines[3]


def test_terminated_job_is_terminated_not_exit() -> None:
    verdict = interpret(
        describe(
            "FAILED",
            [attempt(1, 2_000, 3_000, "stop it")],
            retryStrategy=STRATEGY,
            statusReason="stop it",
            isTerminated=True,
        )
    )
    assert verdict.cause is Cause.TERMINATED and verdict.is_terminated
    assert "it was terminated: stop it" in verdict.headline()


def test_terminated_before_any_attempt() -> None:
    verdict = interpret(describe("FAILED", [], statusReason="queue time limit", isTerminated=True))
    assert verdict.cause is Cause.TERMINATED and verdict.attempts == ()


def test_timed_out_attempt() -> None:
    verdict = interpret(
        describe(
            "FAILED",
            [attempt(1, 2_000, 3_000, reasons.ATTEMPT_TIMEOUT)],
            retryStrategy={"attempts": 3},
            statusReason=reasons.ATTEMPT_TIMEOUT,
        )
    )
    assert verdict.cause is Cause.TIMED_OUT
    assert "attemptDurationSeconds" in verdict.headline()


def test_preemption_limit() -> None:
    reason = reasons.PREEMPTION_LIMIT + " (1)"
    verdict = interpret(
        describe(
            "FAILED",
            [],
            statusReason=reason,
            isTerminated=True,
            preemptionSummary={"preemptedAttemptCount": 2, "recentPreemptedAttempts": []},
        )
    )
    assert verdict.cause is Cause.PREEMPTION_LIMIT and verdict.preempted_count == 2
    assert "preempted 2 time(s)" in verdict.explain()


def test_retrying_job_explains_the_failed_attempt_and_the_running_one() -> None:
    verdict = interpret(
        describe(
            "RUNNING", [attempt(1, 2_000, 3_000, ISE), attempt(2, 4_000)], retryStrategy=STRATEGY
        )
    )
    first, second = verdict.attempts
    assert first.finished and first.decision is not None and first.decision.retry
    assert not second.finished and "is running" in second.describe()
    assert verdict.state_since == 4_000


def test_observed_retry_beats_inference() -> None:
    # If Batch retried an attempt our inference says it would not, we report what happened.
    verdict = interpret(
        describe(
            "RUNNABLE", [attempt(1, 2_000, 3_000, reasons.ATTEMPT_TIMEOUT)], retryStrategy=STRATEGY
        )
    )
    assert verdict.attempts[0].decision is not None and verdict.attempts[0].decision.retry


def test_format_duration() -> None:
    assert [format_duration(ms) for ms in (None, 0, 999, 2_500, 61_000, 3_723_000)] == [
        "?",
        "0.0s",
        "1.0s",
        "2.5s",
        "1m01s",
        "1h02m03s",
    ]
