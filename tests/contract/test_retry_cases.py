"""The retry table (``retry_cases.py``, written from AWS's documentation) against both sides.

- the provider's core: ``core.retry.decide`` (and ``requeue_after_preemption``) decides each
  case as documented, and its explanation says so;
- the emulator's own rules (``emulator.aws_retry``), case by case;
- the emulator itself, end to end: every case is scripted as a scenario, run in the
  in-process emulator on a frozen clock, and its DescribeServiceJob answer is checked, then
  read by the provider (``core.verdict.interpret``), which must explain what it shows.

A case the provider's core gets wrong goes in ``CORE_DISAGREES`` (strict xfail, with the
reason), so the suite stays green while the disagreement stays visible.
"""

from __future__ import annotations

from typing import Any

import pytest
from emulator.helpers import (  # tests/emulator/helpers.py: the emulator's own test builders
    capacity,
    failed,
    hang,
    preempted,
    run_to_end,
    scenario,
    submit_args,
    succeeded,
)
from hypothesis import given
from hypothesis import strategies as st

from airflow_batch_service.core.retry import (
    Cause,
    RetryStrategy,
    decide,
    glob_matches,
    requeue_after_preemption,
)
from airflow_batch_service.core.verdict import Outcome, interpret
from airflow_batch_service.emulator import aws_retry

from .retry_cases import CASES, Earlier, Expect, RetryCase, Run

#: Case id -> how the provider's core departs from the documentation (none known).
CORE_DISAGREES: dict[str, str] = {}

#: Seconds an attempt may run before ``attemptDurationSeconds`` stops it, in timeout cases.
ATTEMPT_SECONDS = 3


def _cases(disagreements: dict[str, str] | None = None) -> list[Any]:
    marks = disagreements or {}
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=marks[case.id])]
            if case.id in marks
            else [],
        )
        for case in CASES
    ]


def _uses_an_attempt(run: Run) -> bool:
    """What the documentation counts as an attempt: a failed or timed-out run; not a run
    that found no capacity (documented), nor a preempted one (inferred)."""
    return run in (Run.FAILED, Run.TIMED_OUT)


# -- the table itself ------------------------------------------------------------------------------


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", _cases())
def test_the_table_counts_attempts_and_preemptions_as_documented(case: RetryCase) -> None:
    assert case.attempt == 1 + sum(_uses_an_attempt(e.run) for e in case.earlier)
    if case.preempted:
        assert case.preemptions == 1 + sum(e.run is Run.PREEMPTED for e in case.earlier)
    for earlier in case.earlier:
        assert earlier.run is not Run.TIMED_OUT, "a timed-out run ends the job"


# -- the provider's core ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases(CORE_DISAGREES))
def test_provider_core_decides_as_documented(case: RetryCase) -> None:
    if case.preempted:
        requeue = requeue_after_preemption(case.preemption_configuration, case.preemptions)
        assert (Expect.REQUEUE if requeue else Expect.EXIT) is case.expected
        return
    strategy = RetryStrategy.from_api(case.retry_strategy)
    decision = decide(strategy, case.status_reason, case.attempt)
    assert (Expect.RETRY if decision.retry else Expect.EXIT) is case.expected
    assert (decision.rule.index if decision.rule else None) == case.rule
    explanation = decision.describe()
    if case.expected is Expect.RETRY:
        assert f"Batch queued attempt {case.attempt + 1}" in explanation
    else:
        assert "queued" not in explanation
    if case.run is Run.FAILED:
        said = f"rule {case.rule} " if case.rule else "no evaluateOnExit rule matched"
        assert said in explanation


# -- the emulator's rules --------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases())
def test_emulator_rules_decide_as_documented(case: RetryCase) -> None:
    used = sum(aws_retry.USES_AN_ATTEMPT[aws_retry.RunEnd(e.run.value)] for e in case.earlier)
    assert used + 1 == case.attempt, "the emulator counts attempts otherwise"
    if case.preempted:
        preemptions = 1 + sum(e.run is Run.PREEMPTED for e in case.earlier)
        assert preemptions == case.preemptions
        after = aws_retry.after_preemption(case.preemption_configuration, preemptions)
    else:
        policy = aws_retry.policy_of(case.retry_strategy)
        end = aws_retry.RunEnd(case.run.value)
        after = aws_retry.after_attempt(policy, end, case.status_reason, used + 1)
        if case.run is Run.FAILED:
            assert policy.deciding_rule(case.status_reason) == case.rule
    assert after.value == case.expected.value


# -- the emulator, end to end ----------------------------------------------------------------------


def _scripted(run: Earlier | RetryCase) -> dict[str, Any]:
    if run.run is Run.FAILED:
        assert run.status_reason is not None
        return failed(run.status_reason)
    return {Run.CAPACITY: capacity, Run.PREEMPTED: preempted, Run.TIMED_OUT: hang}[run.run]()


def _submit_extra(case: RetryCase) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if case.retry_strategy is not None:
        extra["retryStrategy"] = case.retry_strategy
    if case.preemption_configuration is not None:
        extra["preemptionConfiguration"] = case.preemption_configuration
    if case.run is Run.TIMED_OUT:
        extra["timeoutConfig"] = {"attemptDurationSeconds": ATTEMPT_SECONDS}
    return extra


@pytest.mark.parametrize("case", _cases())
def test_emulator_runs_the_case_as_documented(batch_emulator: Any, case: RetryCase) -> None:
    emu = batch_emulator
    emu.configure(seconds_per_state=1, freeze_clock=True)
    steps = [_scripted(e) for e in case.earlier]
    emu.load_scenarios(scenario(case.id, *steps, _scripted(case), succeeded()))
    batch = emu.client()
    job = batch.submit_service_job(**submit_args(emu.queue_name, case.id, **_submit_extra(case)))
    final = run_to_end(emu, batch, job["jobId"])
    attempts = final["attempts"]
    verdict = interpret(final)  # the provider explains what the emulator did
    if case.preempted:
        summary = final["preemptionSummary"]
        assert summary["preemptedAttemptCount"] == case.preemptions
        assert summary["recentPreemptedAttempts"][-1]["statusReason"] == case.status_reason
        assert verdict.preempted_count == case.preemptions
    if case.expected is Expect.RETRY:
        assert final["status"] == "SUCCEEDED"
        assert len(attempts) == case.attempt + 1
        assert attempts[case.attempt - 1]["statusReason"] == case.status_reason
        decision = verdict.attempts[case.attempt - 1].decision
        assert decision is not None
        assert decision.cause in (Cause.RETRY_RULE, Cause.NO_RULE_MATCHED)
        assert (decision.rule.index if decision.rule else None) == case.rule
    elif case.expected is Expect.REQUEUE:
        assert final["status"] == "SUCCEEDED"
        assert len(attempts) == case.attempt  # the rerun took the preempted run's number
        assert verdict.outcome is Outcome.SUCCEEDED
    elif case.preempted:
        assert final["status"] == "FAILED"
        assert len(attempts) == case.attempt - 1
        assert verdict.cause is Cause.PREEMPTION_LIMIT
    else:
        assert (final["status"], final["statusReason"]) == ("FAILED", case.status_reason)
        assert len(attempts) == case.attempt
        assert attempts[-1]["statusReason"] == case.status_reason
        decision = verdict.attempts[-1].decision
        assert decision is not None and not decision.retry
        assert verdict.outcome is Outcome.FAILED and verdict.cause is decision.cause


# -- the two glob matchers, against each other -----------------------------------------------------


@given(st.text(alphabet="ab*?.[", max_size=10), st.text(alphabet="ab?.[*", max_size=10))
def test_emulator_and_provider_globs_agree(pattern: str, text: str) -> None:
    assert aws_retry.glob_match(pattern, text) is glob_matches(pattern, text)
