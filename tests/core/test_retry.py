"""The evaluateOnExit matcher and Batch's retry decision (core.retry)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_batch_service.core import reasons
from airflow_batch_service.core.retry import (
    Cause,
    RetryAction,
    RetryStrategy,
    decide,
    glob_matches,
    requeue_after_preemption,
    unreachable_prefix_rules,
)

PREFIX = reasons.SAGEMAKER_PREFIX
AWS_EXAMPLE = RetryStrategy.from_api(
    {
        "attempts": 5,
        "evaluateOnExit": [
            {"action": "RETRY", "onStatusReason": PREFIX + "InternalServerError*"},
            {"action": "EXIT", "onStatusReason": PREFIX + "ValidationException*"},
            {"action": "EXIT", "onStatusReason": "*"},
        ],
    }
)


@pytest.mark.parametrize(
    ("pattern", "reason", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),  # the whole reason must match
        ("abc*", "abcd", True),  # trailing * is a prefix match
        ("*CapacityError*", PREFIX + "CapacityError: none left", True),  # leading * too
        ("*", "", True),
        ("a*c", "abbbc", True),
        ("a*c", "abbbd", False),
        ("ABC*", "abc", False),  # case-sensitive
        ("a?c", "abc", False),  # ? is literal, unlike fnmatch
        ("a[b]c", "abc", False),  # brackets are literal
        ("a[b]c", "a[b]c", True),
        ("a.c", "abc", False),  # regex metacharacters are literal
        ("line*", "line one\nline two", True),  # * spans newlines
    ],
)
def test_glob_matches(pattern: str, reason: str, expected: bool) -> None:
    assert glob_matches(pattern, reason) is expected


@given(st.text(alphabet="ab*?.[", max_size=8), st.text(alphabet="ab?.[", max_size=8))
def test_glob_agrees_with_a_reference_translation(pattern: str, reason: str) -> None:
    # Reference: split on '*', the pieces must appear in order, anchored at both ends.
    parts = pattern.split("*")
    regex = ".*".join(re.escape(p) for p in parts)
    assert glob_matches(pattern, reason) is (re.fullmatch(regex, reason, re.DOTALL) is not None)


def test_first_matching_rule_wins() -> None:
    strategy = RetryStrategy.from_api(
        {
            "attempts": 3,
            "evaluateOnExit": [
                {"action": "EXIT", "onStatusReason": "*Validation*"},
                {"action": "RETRY", "onStatusReason": "*"},
            ],
        }
    )
    rule = strategy.first_match("ValidationException")
    assert rule is not None and rule.index == 1 and rule.action is RetryAction.EXIT
    rule = strategy.first_match("Other")
    assert rule is not None and rule.index == 2


def test_attempts_count_the_first_try() -> None:
    strategy = RetryStrategy.from_api({"attempts": 3})
    assert decide(strategy, "boom", 1).retry
    assert decide(strategy, "boom", 2).retry
    last = decide(strategy, "boom", 3)
    assert not last.retry and last.cause is Cause.ATTEMPTS_EXHAUSTED and last.rule is None


def test_no_strategy_means_a_single_attempt() -> None:
    decision = decide(RetryStrategy.from_api(None), "boom", 1)
    assert not decision.retry and decision.cause is Cause.ATTEMPTS_EXHAUSTED


@pytest.mark.parametrize(
    ("reason", "attempt", "retry", "cause", "rule_index"),
    [
        (PREFIX + "InternalServerError: x", 1, True, Cause.RETRY_RULE, 1),
        (PREFIX + "InternalServerError: x", 5, False, Cause.ATTEMPTS_EXHAUSTED, 1),
        (PREFIX + "ValidationException: bad", 1, False, Cause.EXIT_RULE, 2),
        (PREFIX + "Something else", 1, False, Cause.EXIT_RULE, 3),
    ],
)
def test_aws_documented_example(
    reason: str, attempt: int, retry: bool, cause: Cause, rule_index: int
) -> None:
    decision = decide(AWS_EXAMPLE, reason, attempt)
    assert (decision.retry, decision.cause) == (retry, cause)
    assert decision.rule is not None and decision.rule.index == rule_index


def test_no_rule_matching_retries_while_attempts_remain() -> None:
    strategy = RetryStrategy.from_api(
        {"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "Nope*"}]}
    )
    first = decide(strategy, "boom", 1)
    assert first.retry and first.cause is Cause.NO_RULE_MATCHED
    assert "no evaluateOnExit rule matched; Batch queued attempt 2" in first.describe()


def test_terminated_and_timed_out_attempts_are_never_retried() -> None:
    strategy = RetryStrategy.from_api(
        {"attempts": 5, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "*"}]}
    )
    assert decide(strategy, "user said stop", 1, terminated=True).cause is Cause.TERMINATED
    timed_out = decide(strategy, reasons.ATTEMPT_TIMEOUT, 1)
    assert not timed_out.retry and timed_out.cause is Cause.TIMED_OUT


def test_decision_descriptions_say_what_batch_does_next() -> None:
    assert decide(AWS_EXAMPLE, PREFIX + "InternalServerError: x", 1).describe() == (
        'rule 1 RETRY ("Received status from SageMaker: InternalServerError*") matched; '
        "Batch queued attempt 2"
    )
    assert (
        "the job failed for good"
        in decide(AWS_EXAMPLE, PREFIX + "ValidationException", 1).describe()
    )
    assert (
        "no attempts left (5 allowed)"
        in decide(AWS_EXAMPLE, PREFIX + "InternalServerError", 5).describe()
    )


def test_lenient_parsing_of_a_response() -> None:
    strategy = RetryStrategy.from_api(
        {
            "attempts": "x",
            "evaluateOnExit": [
                {"action": "bogus"},
                "junk",
                {"action": "exit", "onStatusReason": "*"},
            ],
        }
    )
    assert strategy.attempts == 1
    assert [(r.index, r.action) for r in strategy.evaluate_on_exit] == [(3, RetryAction.EXIT)]


@pytest.mark.parametrize(
    ("config", "count", "requeue"),
    [
        (None, 99, True),
        ({}, 1, True),
        ({"preemptionRetriesBeforeTermination": 2}, 2, True),
        ({"preemptionRetriesBeforeTermination": 2}, 3, False),
        ({"preemptionRetriesBeforeTermination": 0}, 1, False),
    ],
)
def test_preemption_requeue(config: dict | None, count: int, requeue: bool) -> None:
    assert requeue_after_preemption(config, count) is requeue


def test_sdk_prefix_without_space_is_flagged() -> None:
    strategy = RetryStrategy.from_api(
        {
            "attempts": 2,
            "evaluateOnExit": [
                {
                    "action": "RETRY",
                    "onStatusReason": "Received status from SageMaker:InternalServerError*",
                },
                {"action": "RETRY", "onStatusReason": "Received status from SageMaker:*"},
                {"action": "EXIT", "onStatusReason": PREFIX + "ValidationException*"},
            ],
        }
    )
    assert [r.index for r in unreachable_prefix_rules(strategy)] == [1]
