"""The operator and sensor against the emulator: in-process (moto.mock_aws) and over HTTP
through an ``aws`` connection whose extra carries ``endpoint_url``.

Each outcome must end the task as documented, with the explanation both in the task log
(captured output: Airflow 3 task loggers are structlog, printing to stdout) and in the
exception or the XCom value.
"""

from __future__ import annotations

import re

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout

from .support import (
    ISE,
    RETRY_ISE_THEN_EXIT,
    VALIDATION,
    FakeStateStore,
    capacity,
    describe,
    emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
    failed,
    hang,
    make_context,
    run_rescheduled,
    scenario,
    sensor,
    submit,
    submit_operator,
    succeeded,
    thawed_at_first_look,
    unique,
)


def watch(emu, job_id: str, **kwargs):
    """Run the sensor on ``job_id`` to its end: what it returned, and its context."""
    context = make_context()
    return sensor(emu, job_id, **kwargs).execute(context), context


# -- outcomes -----------------------------------------------------------------------------


def test_success_returns_summary_and_logs_each_state_once(emu, capsys):
    name = unique("ok")
    # RUNNABLE and RUNNING are each held until a look has shown them (holdUntilSeen): seen
    # for certain however late a loaded machine polls, and RUNNING (2 s, about 40 polls) is
    # logged once however many polls see it. The clock stays frozen until the sensor's first
    # look, so it sees the job from SUBMITTED (CI's sensor once looked first when the job was
    # already RUNNING: "is RUNNING", no "now").
    seen_once = {"RUNNABLE": 1, "RUNNING": 1}
    emu.load_scenarios(scenario(name, succeeded(seconds=2, hold_until_seen=seen_once)))
    emu.configure(freeze_clock=True)
    submit_ctx = make_context()
    job_id = submit(emu, name, submit_ctx, scheduling_priority=0)
    assert submit_ctx["ti"].xcom["job_arn"].endswith(job_id)
    assert submit_ctx["ti"].xcom["job_name"].startswith("ok-")
    assert "batch_service_job_details" in submit_ctx["ti"].xcom
    with thawed_at_first_look(emu):
        summary, ctx = watch(emu, job_id)
    assert summary["status"] == "SUCCEEDED" and summary["jobId"] == job_id
    assert summary["trainingJobArn"] and summary["attempts"][0]["outcome"] == "SUCCEEDED"
    assert "SUCCEEDED" in summary["explanation"]
    out = capsys.readouterr().out
    assert out.count("is now RUNNING") == 1
    assert "(was RUNNING for " in out  # both ends stamped: startedAt, stoppedAt
    assert " at the previous poll, " in out  # STARTING and RUNNABLE have no stamp
    assert "SUCCEEDED after 1 attempt(s)" in out
    assert ctx["ti"].xcom["batch_service_training_job"]["training_job_name"].startswith("AWSBatch")
    assert emu.stats()["SubmitServiceJob"] == 1


def test_retry_then_success_explains_the_rule(emu, capsys):
    name = unique("flaky")
    emu.load_scenarios(scenario(name, failed(ISE), succeeded()))
    job_id = submit(emu, name, retry_strategy=RETRY_ISE_THEN_EXIT)
    summary, _ = watch(emu, job_id)
    assert summary["status"] == "SUCCEEDED"
    assert [a["outcome"] for a in summary["attempts"]] == ["RETRIED", "SUCCEEDED"]
    assert summary["attempts"][0]["matchedRule"] == 1
    out = capsys.readouterr().out
    assert "attempt 1 of 3 failed" in out and "rule 1 RETRY" in out
    assert "Batch queued attempt 2" in out
    assert "rule 1 RETRY" in summary["explanation"]


def test_exit_rule_fails_for_good(emu, capsys):
    name = unique("bad")
    emu.load_scenarios(scenario(name, failed(VALIDATION)))
    job_id = submit(emu, name, retry_strategy=RETRY_ISE_THEN_EXIT)
    with pytest.raises(AirflowFailException) as err:
        watch(emu, job_id)
    assert "an EXIT rule matched" in str(err.value)
    assert "rule 2 EXIT" in str(err.value) and "ValidationException" in str(err.value)
    out = capsys.readouterr().out
    assert "rule 2 EXIT" in out and "FAILED for good" in out


def test_attempts_exhausted_with_no_rule_matching(emu, capsys):
    name = unique("exhaust")
    emu.load_scenarios(scenario(name, failed(), failed()))
    job_id = submit(emu, name, retry_strategy={"attempts": 2})
    with pytest.raises(AirflowFailException) as err:
        watch(emu, job_id)
    message = str(err.value)
    assert "all 2 attempt(s) were used" in message
    assert "no evaluateOnExit rule matched" in message
    assert "attempt 2 of 2 failed" in capsys.readouterr().out


def test_capacity_retries_use_no_attempt(emu, capsys):
    name = unique("cap")
    # After each bounce the job stays RUNNABLE for 1.5 s, so a poll sees it even on a busy
    # machine (a bounce that starts and ends between two polls is not a requeue seen).
    emu.load_scenarios(
        scenario(name, capacity(), capacity(runnable_seconds=1.5), succeeded(runnable_seconds=1.5))
    )
    job_id = submit(emu, name, retry_strategy={"attempts": 1})
    summary, _ = watch(emu, job_id)
    assert summary["status"] == "SUCCEEDED"
    assert [a["outcome"] for a in summary["attempts"]] == ["SUCCEEDED"]  # capacity used none
    out = capsys.readouterr().out
    assert "without using an attempt" in out


def test_attempt_timeout_is_explained(emu, capsys):
    name = unique("slow")
    emu.load_scenarios(scenario(name, hang()))
    job_id = submit(
        emu, name, retry_strategy={"attempts": 3}, timeout_config={"attemptDurationSeconds": 1}
    )
    with pytest.raises(AirflowFailException) as err:
        watch(emu, job_id)
    assert "timeoutConfig.attemptDurationSeconds" in str(err.value)
    assert "timeoutConfig.attemptDurationSeconds" in capsys.readouterr().out


def test_sensor_timeout_says_the_job_keeps_running(emu, capsys):
    name = unique("hang")
    emu.load_scenarios(scenario(name, hang()))
    job_id = submit(emu, name)
    with pytest.raises(AirflowSensorTimeout) as err:
        watch(emu, job_id, timeout=0.5)
    assert "NOT terminated" in str(err.value) and job_id in str(err.value)
    assert "NOT terminated" in capsys.readouterr().out


def test_on_kill_terminates_with_a_reason_naming_the_task(emu, capsys):
    name = unique("kill")
    emu.load_scenarios(scenario(name, hang()))
    op = submit_operator(emu, name, task_id="train")
    job_id = op.execute(make_context())
    op.on_kill()
    with pytest.raises(AirflowFailException) as err:
        watch(emu, job_id)
    assert "it was terminated" in str(err.value)
    assert "train" in str(err.value) and "was killed" in str(err.value)
    assert "it was terminated" in capsys.readouterr().out
    assert emu.stats()["TerminateServiceJob"] == 1


def test_stuck_runnable_is_terminated_and_explained(emu, capsys):
    name = unique("stuck")
    emu.load_scenarios(scenario(name, succeeded(runnable_seconds=3600)))
    job_id = submit(emu, name)
    with pytest.raises(AirflowFailException) as err:
        watch(emu, job_id, max_runnable_seconds=0.3)
    assert "max_runnable_seconds=0.3" in str(err.value)
    assert "terminated" in str(err.value)
    assert "max_runnable_seconds=0.3" in capsys.readouterr().out
    described = describe(emu, job_id)
    assert described["status"] == "FAILED" and described.get("isTerminated")


# -- the operator's own wait: the sensor's semantics ----------------------------------------


def test_operator_wait_for_completion_matches_the_sensor(emu, capsys):
    name = unique("opwait")
    emu.load_scenarios(scenario(name, failed(ISE), succeeded()))
    ctx = make_context()
    job_id = submit(emu, name, ctx, retry_strategy=RETRY_ISE_THEN_EXIT, wait_for_completion=True)
    summary = ctx["ti"].xcom["summary"]
    assert summary["jobId"] == job_id and summary["status"] == "SUCCEEDED"
    assert "Batch queued attempt 2" in capsys.readouterr().out
    assert ctx["ti"].xcom["batch_service_training_job_logs"]["training_job_name"]

    name = unique("opfail")
    emu.load_scenarios(scenario(name, failed(VALIDATION)))
    with pytest.raises(AirflowFailException) as err:
        submit(emu, name, retry_strategy=RETRY_ISE_THEN_EXIT, wait_for_completion=True)
    assert "rule 2 EXIT" in str(err.value)


# -- reliability ----------------------------------------------------------------------------


def test_throttling_and_5xx_do_not_fail_the_sensor(emu, capsys):
    name = unique("faulty")
    job_id = submit(emu, name)
    emu.set_faults({"DescribeServiceJob": {"throttleRate": 0.5, "errorRate": 0.3}}, seed=7)
    # botocore's own retries off: every fault reaches the wait loop, which must ride it out.
    summary, _ = watch(emu, job_id, botocore_config={"retries": {"max_attempts": 1}})
    assert summary["status"] == "SUCCEEDED"
    out = capsys.readouterr().out
    assert "transient AWS error" in out
    assert "TooManyRequestsException" in out and "ServerException" in out


def test_job_not_yet_visible_is_waited_for(emu, capsys):
    emu.set_faults({"DescribeServiceJob": {"notFoundForMs": 3000}}, seed=1)
    job_id = submit(emu, unique("late"))
    summary, _ = watch(emu, job_id)
    assert summary["status"] == "SUCCEEDED"
    captured = capsys.readouterr()
    assert "not visible yet" in captured.out + captured.err


def test_reschedule_mode_carries_watch_state_between_pokes(emu, capsys):
    name = unique("resched")
    emu.load_scenarios(scenario(name, failed(ISE), succeeded()))
    emu.configure(freeze_clock=True)  # the first poke sees the job before it moves on
    job_id = submit(emu, name, retry_strategy=RETRY_ISE_THEN_EXIT)
    store = FakeStateStore()
    context = make_context(task_state_store=store)
    with thawed_at_first_look(emu):
        summary = run_rescheduled(lambda: sensor(emu, job_id, mode="reschedule"), context)
    assert summary["status"] == "SUCCEEDED"
    assert store.sets >= 2
    out = capsys.readouterr().out
    assert out.count("attempt 1 of 3 failed") == 1
    states = re.findall(r"is now ([A-Z]+) \(was ([A-Z]+)", out)
    assert states and all(new != old for new, old in states)  # changes only, never per poke
    assert [new for new, _ in states].count("SUCCEEDED") == 1
    assert out.count(f"({job_id}) is ") == 1  # the first sighting, logged once
