"""The rule for a killed trigger: terminate the job only when the task is no longer deferred."""

from __future__ import annotations

import pytest

from airflow_batch_service.core.kill_rule import (
    UNKNOWN,
    decide_on_kill,
    state_from_task_states,
    task_state_key,
)


def test_a_task_still_deferred_keeps_its_job() -> None:
    decision = decide_on_kill("deferred")
    assert decision.terminate is False
    assert "still deferred" in decision.why and "another" in decision.why


@pytest.mark.parametrize(
    "state",
    ["failed", "success", None, "scheduled", "queued", "running", "up_for_retry", "restarting"],
)
def test_any_other_state_means_a_user_acted(state: str | None) -> None:
    decision = decide_on_kill(state)
    assert decision.terminate is True
    assert "no longer deferred" in decision.why
    assert ("gone" if state is None else repr(state)) in decision.why


def test_no_answer_follows_airflows_word() -> None:
    decision = decide_on_kill(UNKNOWN)
    assert decision.terminate is True
    assert "could not be asked" in decision.why


def test_keys_as_airflow_builds_them() -> None:
    assert task_state_key("train", -1) == "train"
    assert task_state_key("train", None) == "train"
    assert task_state_key("train", 3) == "train_3"


def test_state_is_read_for_the_one_task_instance() -> None:
    states = {"r1": {"train": "failed", "train_2": "deferred"}, "r2": {"train": "deferred"}}
    assert state_from_task_states(states, "r1", "train", -1) == "failed"
    assert state_from_task_states(states, "r1", "train", 2) == "deferred"
    assert state_from_task_states(states, "r2", "train", -1) == "deferred"
    # Gone: no such run, no such task instance, or a run without a mapping.
    assert state_from_task_states(states, "r3", "train", -1) is None
    assert state_from_task_states(states, "r1", "train", 7) is None
    assert state_from_task_states({"r1": None}, "r1", "train", -1) is None


def test_deferred_on_another_job_means_a_new_try_left_this_one() -> None:
    decision = decide_on_kill("deferred", "arn:aws:batch:r:1:service-job/other", "mine")
    assert decision.terminate is True and "another job" in decision.why
    assert (
        decide_on_kill("deferred", "arn:aws:batch:r:1:service-job/mine", "mine").terminate is False
    )
    assert decide_on_kill("deferred", None, "mine").terminate is False
    assert decide_on_kill("deferred", UNKNOWN, "mine").terminate is False
    assert decide_on_kill("failed", "arn:.../mine", "mine").terminate is True


def test_a_later_try_reattached_to_this_job_means_a_clear() -> None:
    """A clear's new try reattached before the old try's kill landed: the user still asked for
    the job to stop, and the new try resubmits when it sees the kill of an earlier try."""
    arn = "arn:aws:batch:r:1:service-job/mine"
    decision = decide_on_kill("deferred", arn, "mine", current_try=2, own_try=1)
    assert decision.terminate is True
    assert "new try 2 reattached" in decision.why and "try 1" in decision.why
    # The same try deferred on this job: a hand-over to another triggerer.
    assert decide_on_kill("deferred", arn, "mine", current_try=1, own_try=1).terminate is False
    # Either number unknown (no XCom, an older push): the state alone decides.
    assert (
        decide_on_kill("deferred", arn, "mine", current_try=UNKNOWN, own_try=1).terminate is False
    )
    assert decide_on_kill("deferred", arn, "mine", current_try=2, own_try=None).terminate is False
