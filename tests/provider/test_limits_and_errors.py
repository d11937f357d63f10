"""What new users and a fault soak ran into: time limits in the deferred wait, a clear while
deferred, submit bursts against the quota, permanent errors and unknown queues, job ids that do
not exist, soft_fail's explanation. Against the emulator, in-process and over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_batch_service._shared.task_end import task_timeout_error
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor
from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

from .support import (
    VALIDATION,
    FakeStateStore,
    FakeTI,
    batch_client,
    connect_emulator,
    deferred,
    emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
    failed,
    hang,
    make_context,
    output,
    run_rescheduled,
    run_trigger,
    scenario,
    sensor,
    submit_operator,
    unique,
)
from .support import describe as status

pytestmark = pytest.mark.usefixtures("fresh_shared_clients")

MISSING_JOB = "00000000-1111-2222-3333-444444444444"
TASK_TIMEOUT = type(task_timeout_error(""))


def operator(emu, name: str, **kwargs: Any) -> BatchSubmitServiceJobOperator:
    """:func:`support.submit_operator` as the task ``train``."""
    return submit_operator(emu, name, task_id="train", **kwargs)


# -- 1. execution_timeout bounds the deferred wait ---------------------------------------------


def test_execution_timeout_bounds_a_deferred_operator_and_terminates_its_job(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    name = unique("exec-timeout")
    emu.load_scenarios(scenario(name, hang()))
    op = operator(
        emu,
        name,
        wait_for_completion=True,
        deferrable=True,
        execution_timeout=timedelta(seconds=1.5),
    )
    context = make_context()
    trigger = deferred(op, context)
    assert trigger.timeout_kind == "execution_timeout"
    assert trigger.deadline_ms is not None
    out = output(capsys, caplog)
    assert "execution_timeout=0:00:01.500000 applies" in out, out

    event = run_trigger(trigger)
    assert event["status"] == "failed" and event["timeout"] == "execution_timeout"
    job_id = event["job_id"]
    job = status(emu, job_id)
    assert job["status"] == "FAILED" and job["isTerminated"] is True
    with pytest.raises(TASK_TIMEOUT) as err:  # as a worker's execution_timeout: retryable
        op.execute_complete(context, event)
    assert "exceeded execution_timeout" in str(err.value)
    assert "The job was terminated." in str(err.value)


def test_the_nearer_of_wait_timeout_and_execution_timeout_applies(emu):
    op = operator(
        emu,
        unique("nearer"),
        wait_for_completion=True,
        deferrable=True,
        wait_timeout=5,
        execution_timeout=timedelta(hours=1),
    )
    trigger = deferred(op, make_context())
    assert trigger.timeout_kind == "wait_timeout"


def test_execution_timeout_bounds_a_deferred_sensor_without_terminating(emu):
    name = unique("sens-exec-timeout")
    emu.load_scenarios(scenario(name, hang()))
    job_id = operator(emu, name).execute(make_context())
    wait = sensor(
        emu, job_id, timeout=3600, deferrable=True, execution_timeout=timedelta(seconds=1)
    )
    context = make_context()
    trigger = deferred(wait, context)
    assert trigger.timeout_kind == "execution_timeout" and not trigger.terminate_on_timeout
    event = run_trigger(trigger)
    with pytest.raises(TASK_TIMEOUT) as err:
        wait.execute_complete(context, event)
    assert "NOT terminated" in str(err.value)
    assert status(emu, job_id)["status"] not in ("FAILED", "SUCCEEDED")


# -- 2. a clear while deferred: the old try's kill must not fail the new try ----------------


def test_a_new_try_resubmits_when_an_earlier_tries_kill_terminated_its_job(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    name = unique("cleared")
    store = FakeStateStore()
    first = make_context(task_state_store=store)
    # The clock stands still until the kill has landed: on a loaded machine the first job could
    # otherwise finish (1.5 s of states) before the old trigger's on_kill reaches it.
    emu.configure(freeze_clock=True)
    op1 = operator(emu, name, wait_for_completion=True, deferrable=True)
    old_trigger = deferred(op1, first)
    job_1 = old_trigger.job_id

    # The clear: try 2 starts while try 1's trigger is still alive, and reattaches.
    ti2 = FakeTI()
    ti2.try_number = 2
    second = {"ti": ti2, "run_id": first["run_id"], "task_state_store": store}
    op2 = operator(emu, name, wait_for_completion=True, deferrable=True)
    new_trigger = deferred(op2, second)
    assert new_trigger.job_id == job_1
    # ... then the old trigger's on_kill lands (Airflow 3.3 calls it for the cleared try).
    _, kwargs = old_trigger.serialize()
    asyncio.run(BatchServiceJobTrigger(**kwargs).on_kill())
    assert status(emu, job_1)["statusReason"].endswith("try 1) was killed")
    emu.configure(freeze_clock=False)

    event = run_trigger(new_trigger)
    assert event["status"] == "failed" and event["cause"] == "terminated"
    with pytest.raises(TaskDeferred) as again:  # a fresh job, waited on in the triggerer
        op2.execute_complete(second, event)
    job_2 = again.value.trigger.job_id
    assert job_2 != job_1
    final = run_trigger(again.value.trigger)
    assert op2.execute_complete(second, final) == job_2
    assert status(emu, job_2)["status"] == "SUCCEEDED"
    assert emu.stats()["SubmitServiceJob"] == 2
    assert "terminated by the kill of try 1" in output(capsys, caplog)


def test_a_kill_of_this_very_try_still_fails_it(emu):
    name = unique("killed")
    context = make_context()
    emu.configure(freeze_clock=True)  # the job must still be running when the kill lands
    op = operator(emu, name, wait_for_completion=True, deferrable=True)
    trigger = deferred(op, context)
    asyncio.run(BatchServiceJobTrigger(**trigger.serialize()[1]).on_kill())
    emu.configure(freeze_clock=False)
    event = run_trigger(trigger)
    assert event["status"] == "failed" and event["cause"] == "terminated", event
    with pytest.raises(AirflowFailException):
        op.execute_complete(context, event)
    assert emu.stats()["SubmitServiceJob"] == 1


# -- 3. submit bursts ride out the quota ---------------------------------------------------


def test_a_throttled_submit_burst_fails_no_task_and_duplicates_no_job(request, monkeypatch):
    emu = connect_emulator(request, monkeypatch, "http", 0.25)
    emu.set_faults({"SubmitServiceJob": {"throttleRate": 0.6}}, seed=7)
    prefix = unique("burst")
    failures: list[BaseException] = []
    job_ids: list[str] = []

    def one(i: int) -> None:
        try:
            job_ids.append(operator(emu, f"{prefix}-{i}").execute(make_context()))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    emu.clear_faults()
    assert failures == []
    assert len(set(job_ids)) == 40
    hook = BatchServiceJobHook(aws_conn_id="emu")
    listed = list(
        hook.list_service_jobs(
            job_queue=emu.queue_name, filters=[{"name": "JOB_NAME", "values": [f"{prefix}*"]}]
        )
    )
    assert len(listed) == 40  # one job per task, no duplicate
    assert emu.stats()["SubmitServiceJob"] > 40  # the throttles really happened


def test_submit_gives_up_after_its_patience_with_a_retryable_error(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    emu.set_faults({"SubmitServiceJob": {"throttleRate": 1.0}})
    # 8 s: botocore's own 3 requests take at most ~6 s, so at least one retry of ours happens.
    op = operator(emu, unique("patience"), submit_patience=8)
    with pytest.raises(AirflowException) as err:
        op.execute(make_context())
    emu.clear_faults()
    assert not isinstance(err.value, AirflowFailException)  # Airflow may retry it
    assert "submit_patience=8s" in str(err.value)
    out = output(capsys, caplog)
    assert "retry 1 in" in out and "with the same clientToken" in out


# -- 4. permanent errors and the queue check -------------------------------------------------


def test_an_unknown_queue_is_refused_before_submitting(emu):
    op = operator(emu, unique("noqueue"), job_queue="no-such-queue")
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    message = str(err.value)
    assert "job_queue (jobQueue): job queue 'no-such-queue' does not exist in region" in message
    stats = emu.stats()
    assert stats.get("SubmitServiceJob", 0) == 0 and stats.get("ListServiceJobs", 0) == 0


def test_share_arguments_must_match_the_queues_policy(emu):
    with pytest.raises(AirflowFailException) as err:
        operator(emu, unique("fifo"), share_identifier="team-a").execute(make_context())
    assert "share_identifier (shareIdentifier): must not be given" in str(err.value)
    emu.create_queue("fair-q", fair_share=True)
    with pytest.raises(AirflowFailException) as err:
        operator(emu, unique("fair"), job_queue="fair-q").execute(make_context())
    assert "share_identifier (shareIdentifier): is required" in str(err.value)
    emu.create_queue("quota-q", quota_share=True)
    with pytest.raises(AirflowFailException) as err:
        operator(emu, unique("quota"), job_queue="quota-q", share_identifier="a").execute(
            make_context()
        )
    assert "quota_share_name (quotaShareName): is required" in str(err.value)
    assert emu.stats().get("SubmitServiceJob", 0) == 0
    # and the right arguments pass the check
    operator(emu, unique("fair-ok"), job_queue="fair-q", share_identifier="a").execute(
        make_context()
    )
    assert emu.stats()["SubmitServiceJob"] == 1


def test_a_disabled_queue_is_refused_before_submitting(emu):
    batch_client(emu).update_job_queue(jobQueue=emu.queue_name, state="DISABLED")
    with pytest.raises(AirflowFailException) as err:
        operator(emu, unique("disabled")).execute(make_context())
    assert "is DISABLED and accepts no jobs" in str(err.value)
    assert emu.stats().get("SubmitServiceJob", 0) == 0


def test_a_400_from_submit_fails_at_once_with_its_own_message(emu):
    emu.create_queue("quota-q2", quota_share=True)
    op = operator(emu, unique("badshare"), job_queue="quota-q2", quota_share_name="nope")
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    message = str(err.value)
    assert message.rstrip().endswith(
        "quotaShareName: quota share 'nope' does not exist on job queue quota-q2"
    ), message
    stats = emu.stats()
    assert stats["SubmitServiceJob"] == 1 and stats.get("ListServiceJobs", 0) == 0


# -- 5. a job id that does not exist -------------------------------------------------------------


def missing_job_sensor(emu, **kwargs: Any) -> BatchServiceJobSensor:
    """The sensor on a job id that does not exist, giving up on it after 0.3 s by default."""
    kwargs.setdefault("not_found_grace", 0.3)
    return sensor(emu, MISSING_JOB, **kwargs)


def test_a_job_that_does_not_exist_fails_the_sensor_without_retry(emu):
    with pytest.raises(AirflowFailException) as err:
        missing_job_sensor(emu).execute(make_context())
    assert str(err.value).startswith(f"service job {MISSING_JOB} does not exist")
    assert "keeps running" not in str(err.value)


def test_a_job_that_does_not_exist_fails_a_rescheduled_sensor(emu):
    context = make_context(task_state_store=FakeStateStore())
    with pytest.raises(AirflowFailException) as err:
        run_rescheduled(lambda: missing_job_sensor(emu, mode="reschedule"), context)
    assert f"service job {MISSING_JOB} does not exist" in str(err.value)


def test_a_job_that_does_not_exist_fails_a_deferred_sensor(emu):
    context = make_context()
    # A grace the first poke (on the worker) surely fits in, so the triggerer ends it.
    wait = missing_job_sensor(emu, deferrable=True, not_found_grace=2)
    event = run_trigger(deferred(wait, context))
    with pytest.raises(AirflowFailException) as err:
        wait.execute_complete(context, event)
    assert f"service job {MISSING_JOB} does not exist" in str(err.value)


def test_a_timeout_before_the_grace_does_not_claim_the_job_runs(emu):
    with pytest.raises(Exception) as err:
        sensor(emu, MISSING_JOB, timeout=0.3).execute(make_context())
    assert "was never found" in str(err.value) and "keeps running" not in str(err.value)


# -- 7. soft_fail keeps the explanation ------------------------------------------------------


def test_soft_fail_timeout_skips_with_the_explanation(emu):
    name = unique("softfail")
    emu.load_scenarios(scenario(name, hang()))
    job_id = operator(emu, name).execute(make_context())
    with pytest.raises(AirflowSkipException) as err:
        sensor(emu, job_id, timeout=0.5, soft_fail=True).execute(make_context())
    message = str(err.value)
    assert "NOT terminated and keeps running" in message
    assert "Its state at the last poll:" in message and job_id in message


def test_soft_fail_failure_skips_with_the_explanation(emu):
    name = unique("softfail-failed")
    reason = VALIDATION
    emu.load_scenarios(scenario(name, failed(reason)))
    job_id = operator(emu, name).execute(make_context())
    for deferrable in (False, True):
        with pytest.raises(AirflowSkipException) as err:
            sensor(emu, job_id, soft_fail=True, deferrable=deferrable).execute(make_context())
        assert reason in str(err.value) and "Skipping due to soft_fail" not in str(err.value)
