"""The emulator's own retry rules (``emulator.aws_retry``), without moto. The documented cases
are in ``tests/contract/retry_cases.py``; these pin the module's edges."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_batch_service.emulator.aws_retry import (
    Next,
    RetryPolicy,
    RunEnd,
    after_attempt,
    after_preemption,
    glob_match,
    policy_of,
)


@given(st.text(alphabet="ab*?.[\n", max_size=10), st.text(alphabet="ab?.[*\n", max_size=12))
def test_glob_agrees_with_a_regex_translation(pattern: str, text: str) -> None:
    regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    assert glob_match(pattern, text) is (re.fullmatch(regex, text, re.DOTALL) is not None)


def test_no_retry_strategy_is_one_attempt_without_rules() -> None:
    assert policy_of(None) == RetryPolicy() == RetryPolicy(1, ())
    assert after_attempt(policy_of(None), RunEnd.FAILED, "boom", 1) is Next.EXIT


def test_a_capacity_run_is_requeued_whatever_the_rules() -> None:
    policy = policy_of(
        {"attempts": 1, "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "*"}]}
    )
    assert after_attempt(policy, RunEnd.CAPACITY, "CapacityError", 1) is Next.REQUEUE


def test_preemptions_are_decided_apart() -> None:
    with pytest.raises(ValueError, match="after_preemption"):
        after_attempt(RetryPolicy(), RunEnd.PREEMPTED, "PREEMPTION_IN_PROGRESS", 1)
    assert after_preemption({}, 7) is Next.REQUEUE
    assert after_preemption({"preemptionRetriesBeforeTermination": 1}, 2) is Next.EXIT
