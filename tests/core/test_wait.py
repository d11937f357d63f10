"""The wait's rules (core.wait, core.limits, core.outcome): deadlines, outcomes, endings,
events. The flow that steps them is ``test_wait_flow.py``'s. No I/O, no Airflow."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_batch_service.core import limits
from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.wait import (
    ERROR,
    EXECUTION_TIMEOUT,
    FAILED,
    RESUBMIT_NOTE,
    RESUBMITTABLE_CAUSES,
    SENSOR_TIMEOUT,
    SUCCESS,
    TIMEOUT,
    WAIT_TIMEOUT,
    Ending,
    JobWait,
    Limit,
    WaitOutcome,
    ending,
    execution_limit,
    nearest,
)

from .factories import ARN, STRATEGY, VALIDATION, attempt, describe

TRAINING_JOB = f"AWSBatchtrain{1:032x}"


def running(start: int = 2_000) -> dict[str, Any]:
    return describe("RUNNING", [attempt(1, start)], startedAt=start, retryStrategy=STRATEGY)


def succeeded(start: int = 2_000, stop: int = 9_000) -> dict[str, Any]:
    return describe(
        "SUCCEEDED",
        [attempt(1, start, stop)],
        startedAt=start,
        stoppedAt=stop,
        retryStrategy=STRATEGY,
    )


def failed(reason: str = VALIDATION, stop: int = 9_000) -> dict[str, Any]:
    return describe(
        "FAILED",
        [attempt(1, 2_000, stop, reason)],
        startedAt=2_000,
        stoppedAt=stop,
        statusReason=reason,
        retryStrategy=STRATEGY,
    )


def new_wait(**kwargs: Any) -> JobWait:
    kwargs.setdefault("poll_interval", 1.0)
    kwargs.setdefault("started_ms", 0)
    return JobWait.create("job-1", **kwargs)


def deadline(at_ms: int, kind: str = WAIT_TIMEOUT) -> Limit:
    return Limit(at_ms, kind, f"The wait exceeded {kind}.", f"{kind}=x")


# ------------------------------------------------------------------------------ limits


def test_nearest_is_the_limit_that_passes_first_ties_to_the_first_given() -> None:
    wait, execution, sensor = deadline(9_000), deadline(5_000, EXECUTION_TIMEOUT), deadline(5_000)
    assert nearest([wait, None, execution, sensor]) is execution
    assert nearest([sensor, execution]) is sensor
    assert nearest([None, wait]) is wait
    assert nearest([]) is None and nearest([None, None]) is None


def test_execution_limit_counts_from_the_tries_start_in_the_users_words() -> None:
    limit = execution_limit(1_000, 8.5, "0:00:08.500000")
    assert limit == Limit(
        9_500,
        EXECUTION_TIMEOUT,
        "The task exceeded execution_timeout=0:00:08.500000.",
        "execution_timeout=0:00:08.500000",
    )


def test_each_setting_becomes_a_limit_from_its_start_in_the_users_words() -> None:
    """``core.limits.deadline``: the one place a setting becomes an instant and a sentence."""
    assert limits.deadline(WAIT_TIMEOUT, 1_000, 5) == Limit(
        6_000, WAIT_TIMEOUT, "The wait exceeded wait_timeout=5s.", "wait_timeout=5s"
    )
    assert limits.deadline(SENSOR_TIMEOUT, 1_000, 2.5) == Limit(
        3_500,
        SENSOR_TIMEOUT,
        "Sensor has timed out: the job did not finish within timeout=2.5s.",
        "timeout=2.5s",
    )
    assert limits.deadline(EXECUTION_TIMEOUT, 0, 8, "0:00:08") == execution_limit(0, 8, "0:00:08")
    limit = limits.deadline(WAIT_TIMEOUT, 0, 10)
    assert limit.remaining(4_000) == 6.0 and limit.remaining(12_000) == 0.0


def test_the_tasks_execution_limit_starts_at_the_task_instances_start_date() -> None:
    from datetime import UTC, datetime, timedelta

    from airflow_batch_service._shared import waiting

    start = datetime(2026, 1, 1, tzinfo=UTC)
    task = SimpleNamespace(execution_timeout=timedelta(seconds=8))
    limit = waiting.execution_limit(task, {"ti": SimpleNamespace(start_date=start)})
    assert limit is not None
    assert limit.at_ms == int(start.timestamp() * 1000) + 8_000
    assert limit.kind == EXECUTION_TIMEOUT and limit.label == "execution_timeout=0:00:08"
    # Without a start date: when execute began; without execution_timeout: no limit.
    task._started_ms = 42_000
    assert waiting.execution_limit(task, {"ti": None}).at_ms == 50_000
    assert waiting.execution_limit(SimpleNamespace(), {}) is None


def test_sleeps_never_pass_the_deadline() -> None:
    wait = new_wait(poll_interval=30.0, limit=deadline(10_000))
    step = wait.on_response(running(), 4_000)
    assert wait.remaining(4_000) == 6.0
    assert wait.sleep_for(step, 4_000) == 6.0
    assert wait.remaining(12_000) == 0.0
    assert new_wait().remaining(4_000) is None
    assert new_wait().sleep_for(step, 4_000) == step.sleep


# ------------------------------------------------------------------------------ outcomes


def test_success_carries_the_summary_arn_and_name() -> None:
    wait = new_wait()
    wait.on_response(running(), 3_000)
    outcome = wait.outcome(wait.on_response(succeeded(), 10_000), 10_000)
    assert outcome is not None and outcome.status == SUCCESS
    assert outcome.message.startswith("Service job train (job-1) SUCCEEDED after 1 attempt(s)")
    assert outcome.summary is not None and outcome.summary["status"] == "SUCCEEDED"
    assert outcome.training_job_arn == ARN + TRAINING_JOB
    assert outcome.job_name == "train" and outcome.terminate_reason is None
    assert [t["status"] for t in outcome.timeline] == ["RUNNING", "SUCCEEDED"]


def test_a_running_job_is_no_outcome_yet() -> None:
    wait = new_wait(limit=deadline(60_000))
    assert wait.outcome(wait.on_response(running(), 3_000), 3_000) is None


def test_failure_names_its_cause_and_reason() -> None:
    wait = new_wait()
    outcome = wait.outcome(wait.on_response(failed(), 10_000), 10_000)
    assert outcome is not None and outcome.status == FAILED
    assert outcome.cause == Cause.EXIT_RULE.value
    assert outcome.status_reason == VALIDATION
    assert "an EXIT rule matched" in outcome.message
    assert outcome.terminate_reason is None and outcome.timeout is None


def test_a_job_never_found_past_the_grace_does_not_exist() -> None:
    wait = new_wait(not_found_grace=5.0)
    early = wait.on_error(ErrorKind.NOT_FOUND, "Job job-1 does not exist", 3_000)
    assert wait.outcome(early, 3_000) is None and "not visible yet" in early.messages[0]
    late = wait.on_error(ErrorKind.NOT_FOUND, "Job job-1 does not exist", 6_000)
    outcome = wait.outcome(late, 6_000)
    assert outcome is not None and outcome.status == FAILED and outcome.cause == "not_found"
    assert "service job job-1 does not exist" in outcome.message


def test_a_fatal_aws_error_ends_the_wait_as_an_error() -> None:
    wait = new_wait()
    wait.on_response(running(), 3_000)
    outcome = wait.outcome(wait.on_error(ErrorKind.FATAL, "AccessDeniedException", 4_000), 4_000)
    assert outcome is not None and outcome.status == ERROR and outcome.cause is None
    assert outcome.message == "cannot describe service job job-1: AccessDeniedException"
    assert outcome.training_job_arn == ARN + TRAINING_JOB and outcome.job_name == "train"


def test_a_transient_error_is_no_outcome() -> None:
    wait = new_wait(limit=deadline(60_000))
    step = wait.on_error(ErrorKind.TRANSIENT, "ThrottlingException", 3_000)
    assert wait.outcome(step, 3_000) is None and step.sleep > 0


def test_stuck_in_runnable_past_max_runnable_seconds_must_be_terminated() -> None:
    wait = new_wait(max_runnable_seconds=1.0, terminate_reason_prefix="Airflow task t: ")
    assert wait.outcome(wait.on_response(describe("RUNNABLE"), 1_000), 1_000) is None
    outcome = wait.outcome(wait.on_response(describe("RUNNABLE"), 2_500), 2_500)
    assert outcome is not None and outcome.status == FAILED
    assert outcome.terminate_reason is not None
    assert "max_runnable_seconds=1" in outcome.terminate_reason
    assert outcome.message.startswith(outcome.terminate_reason)
    assert wait.terminate_reason(outcome) == f"Airflow task t: {outcome.terminate_reason}"


@pytest.mark.parametrize("kind", [WAIT_TIMEOUT, EXECUTION_TIMEOUT])
def test_at_the_owners_deadline_the_job_is_to_be_terminated(kind: str) -> None:
    limit = deadline(5_000, kind)
    wait = new_wait(limit=limit, terminate_on_timeout=True)
    assert wait.outcome(wait.on_response(running(), 4_000), 4_000) is None
    outcome = wait.outcome(wait.on_response(running(), 5_000), 5_000)
    assert outcome is not None and outcome.status == FAILED and outcome.timeout == kind
    assert outcome.terminate_reason == limit.what
    assert outcome.message.startswith(limit.what + "\nIts state at the last poll:\n")
    assert "NOT terminated" not in outcome.message
    assert outcome.training_job_arn == ARN + TRAINING_JOB


def test_at_a_non_owners_deadline_the_job_keeps_running() -> None:
    limit = deadline(5_000, SENSOR_TIMEOUT)
    wait = new_wait(limit=limit)
    outcome = wait.outcome(wait.on_response(running(), 6_000), 6_000)
    assert outcome is not None and outcome.status == TIMEOUT and outcome.timeout == SENSOR_TIMEOUT
    assert outcome.terminate_reason is None
    assert outcome.message.startswith(
        f"{limit.what} The service job was NOT terminated and keeps running in Batch.\n"
    )
    assert "Its state at the last poll:\nService job train (job-1) is RUNNING" in outcome.message


@pytest.mark.parametrize("owner", [True, False])
def test_a_deadline_before_any_answer_says_the_job_was_never_found(owner: bool) -> None:
    wait = new_wait(limit=deadline(5_000), terminate_on_timeout=owner)
    step = wait.on_error(ErrorKind.NOT_FOUND, "Job job-1 does not exist", 6_000)
    outcome = wait.outcome(step, 6_000)
    assert outcome is not None and outcome.status == FAILED and outcome.cause == "not_found"
    assert outcome.terminate_reason is None  # nothing to terminate
    assert "was never found" in outcome.message and "keeps running" not in outcome.message


def test_a_deadline_after_only_transient_errors_says_the_job_was_never_seen() -> None:
    wait = new_wait(limit=deadline(5_000))
    outcome = wait.outcome(wait.on_error(ErrorKind.TRANSIENT, "ServerException", 6_000), 6_000)
    assert outcome is not None and outcome.status == TIMEOUT
    assert "service job job-1 was never seen (no successful describe)" in outcome.message


def test_a_pokes_timeout_is_explained_in_the_same_words_as_the_waits_own() -> None:
    """The sensor's poke-mode timeout (Airflow's, ``what`` its message) and a deferred wait's
    share one explanation: ``JobWait.timeout_explanation``."""
    wait = new_wait(limit=deadline(5_000, SENSOR_TIMEOUT))
    wait.on_response(running(), 3_000)
    timed_out = wait.timed_out()
    assert timed_out.message == wait.timeout_explanation(f"The wait exceeded {SENSOR_TIMEOUT}.")
    poked = wait.timeout_explanation("Sensor has timed out; run duration of 5s exceeds 4s.")
    assert poked.startswith("Sensor has timed out; run duration of 5s exceeds 4s. The service")
    assert "NOT terminated" in poked and "is RUNNING" in poked
    assert new_wait().timeout_explanation("Timed out.") == (
        "Timed out. The service job was NOT terminated and keeps running in Batch.\n"
        "Its state at the last poll:\nservice job job-1 was never seen (no successful describe)"
    )


# ------------------------------------------------------------------------------ termination


def _to_terminate() -> tuple[JobWait, WaitOutcome]:
    wait = new_wait(limit=deadline(5_000), terminate_on_timeout=True)
    outcome = wait.outcome(wait.on_response(running(), 6_000), 6_000)
    assert outcome is not None and outcome.terminate_reason
    return wait, outcome


def test_terminated_appends_to_the_first_line_and_clears_the_pending_terminate() -> None:
    wait, outcome = _to_terminate()
    done = wait.terminated(outcome, None)
    head, _, rest = outcome.message.partition("\n")
    assert done.message == f"{head} The job was terminated.\n{rest}"
    assert done.terminated == "The job was terminated."
    assert done.terminate_reason is None
    assert (done.status, done.timeout, done.timeline) == (FAILED, WAIT_TIMEOUT, outcome.timeline)


def test_a_failed_terminate_says_the_job_may_still_be_queued() -> None:
    wait, outcome = _to_terminate()
    done = wait.terminated(outcome, "AccessDeniedException: no batch:TerminateServiceJob")
    said = (
        "Terminating the job FAILED (AccessDeniedException: no batch:TerminateServiceJob); "
        "it may still be queued: terminate it."
    )
    assert done.terminated == said
    assert done.message.splitlines()[0] == f"{outcome.message.splitlines()[0]} {said}"
    one_line = WaitOutcome(FAILED, "job-1", "Stuck.", terminate_reason="Stuck")
    assert wait.terminated(one_line, None).message == "Stuck. The job was terminated."


# ------------------------------------------------------------------------------ endings

ALL_CAUSES = [*(c.value for c in Cause), "unknown", "not_found", None]


@pytest.mark.parametrize("resubmit", [False, True])
@pytest.mark.parametrize("cause", ALL_CAUSES)
@pytest.mark.parametrize("terminated", [None, "The job was terminated."])
def test_a_failure_is_final_unless_the_operator_resubmits_what_batch_gave_up_on(
    cause: str | None, resubmit: bool, terminated: str | None
) -> None:
    outcome = WaitOutcome(FAILED, "job-1", "it failed", cause=cause, terminated=terminated)
    how, message = ending(outcome, resubmit_on_retry=resubmit)
    if resubmit and not terminated and cause in RESUBMITTABLE_CAUSES:
        assert (how, message) == (Ending.RETRY, f"it failed\n{RESUBMIT_NOTE}")
    else:
        assert (how, message) == (Ending.FAIL, "it failed")


def test_resubmittable_causes_are_those_batch_gave_up_on_without_the_users_say_so() -> None:
    assert {
        Cause.ATTEMPTS_EXHAUSTED.value,
        Cause.TIMED_OUT.value,
        Cause.PREEMPTION_LIMIT.value,
        "unknown",
    } == RESUBMITTABLE_CAUSES


@pytest.mark.parametrize("resubmit", [False, True])
@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (WaitOutcome(SUCCESS, "j", "ok", summary={"status": "SUCCEEDED"}), Ending.RETURN),
        (WaitOutcome(SUCCESS, "j", "ok"), Ending.RETRY),  # no summary: not a usable success
        (WaitOutcome(FAILED, "j", "t", timeout=EXECUTION_TIMEOUT), Ending.TASK_TIMEOUT),
        (WaitOutcome(TIMEOUT, "j", "t", timeout=EXECUTION_TIMEOUT), Ending.TASK_TIMEOUT),
        (
            WaitOutcome(FAILED, "j", "t", timeout=EXECUTION_TIMEOUT, cause="unknown"),
            Ending.TASK_TIMEOUT,
        ),
        (WaitOutcome(FAILED, "j", "t", timeout=WAIT_TIMEOUT), Ending.FAIL),
        (WaitOutcome(TIMEOUT, "j", "t", timeout=SENSOR_TIMEOUT), Ending.SENSOR_TIMEOUT),
        (WaitOutcome(TIMEOUT, "j", "t", timeout=WAIT_TIMEOUT), Ending.SENSOR_TIMEOUT),
        (WaitOutcome(ERROR, "j", "cannot describe"), Ending.RETRY),
        (WaitOutcome("bogus", "j", "?"), Ending.RETRY),
    ],
)
def test_ending_for_every_status(outcome: WaitOutcome, expected: Ending, resubmit: bool) -> None:
    how, message = ending(outcome, resubmit_on_retry=resubmit)
    assert how is expected
    assert message == outcome.message


def test_an_outcome_without_words_still_ends_with_some() -> None:
    how, message = ending(WaitOutcome(ERROR, "j", ""))
    assert how is Ending.RETRY and message.startswith("unexpected wait outcome")


# ------------------------------------------------------------------------------ events


def test_an_outcome_survives_the_events_json_round_trip() -> None:
    wait = new_wait()
    wait.on_response(running(), 3_000)
    outcome = wait.outcome(wait.on_response(succeeded(), 10_000), 10_000)
    assert outcome is not None
    event = json.loads(json.dumps(outcome.to_event()))
    assert "terminate_reason" not in event and isinstance(event["timeline"], list)
    assert WaitOutcome.from_event(event) == outcome


def test_every_field_but_the_pending_terminate_travels() -> None:
    outcome = WaitOutcome(
        FAILED,
        "job-1",
        "m",
        summary={"a": 1},
        training_job_arn="arn",
        terminate_reason="pending",
        terminated="The job was terminated.",
        cause="exit_rule",
        status_reason="r",
        timeout=WAIT_TIMEOUT,
        timeline=({"status": "RUNNING", "atMs": 1, "exact": True, "reason": None},),
        job_name="train",
    )
    back = WaitOutcome.from_event(json.loads(json.dumps(outcome.to_event())))
    assert back == WaitOutcome(**{**outcome.__dict__, "terminate_reason": None})


def test_an_unknown_event_is_an_error_that_names_it() -> None:
    strange = WaitOutcome.from_event({"foo": 1})
    assert strange.status == ERROR and strange.job_id == ""
    assert strange.message == "unexpected wait event {'foo': 1}"
    assert ending(strange)[0] is Ending.RETRY
