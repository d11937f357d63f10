"""Deferrable waits, one timeout concept and training logs, against the emulator (in-process
under moto.mock_aws, and the HTTP server through an ``aws`` connection). The trigger on its
own (what it stores, its cancellation, its import cost) is ``test_trigger.py``'s.

Triggers run as the triggerer runs them: ``serialize()``, rebuilt from the kwargs, then the
``run()`` generator in an event loop. The event goes to the task's ``execute_complete``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
)

from airflow_batch_service._shared import clients as shared_clients
from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

from .support import (
    ISE,
    POKE,
    RETRY_ISE_THEN_EXIT,
    VALIDATION,
    deferred,
    describe,
    emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
    failed,
    hang,
    hanging_job,
    make_context,
    output,
    rebuild,
    run_trigger,
    scenario,
    sensor,
    submit,
    submit_operator,
    succeeded,
    unique,
)

pytestmark = pytest.mark.usefixtures("fresh_shared_clients")


# -- the trigger ----------------------------------------------------------------------------


def test_deferrable_sensor_persists_links_then_returns_the_summary(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    name = unique("dsens")
    # RUNNABLE for 3 s first, so the sensor's first look defers even on a slow machine.
    emu.load_scenarios(scenario(name, failed(ISE, runnable_seconds=3), succeeded()))
    job_id = submit(emu, name, retry_strategy=RETRY_ISE_THEN_EXIT)
    context = make_context()
    wait = sensor(emu, job_id, timeout=120, deferrable=True)
    trigger = deferred(wait, context)
    assert context["ti"].xcom["batch_service_job_details"]["job_id"] == job_id  # before deferring
    assert trigger.terminate_on_kill is False  # the sensor does not own the job
    event = run_trigger(trigger)
    assert event["status"] == "success"
    summary = wait.execute_complete(context, event)
    assert summary["jobId"] == job_id and summary["status"] == "SUCCEEDED"
    assert len(summary["attempts"]) == 2
    assert context["ti"].xcom["batch_service_training_job_logs"]["training_job_name"]
    out = output(capsys, caplog)
    assert "attempt 1 of 3 failed" in out


def test_deferrable_sensor_failure_is_the_poke_failure(emu):
    name = unique("dfail")
    emu.load_scenarios(scenario(name, failed(VALIDATION)))
    job_id = submit(emu, name, retry_strategy=RETRY_ISE_THEN_EXIT)
    with pytest.raises(AirflowFailException) as sync_err:
        sensor(emu, job_id).execute(make_context())
    context = make_context()
    wait = sensor(emu, job_id, deferrable=True)
    # The job has ended by now: the first poke, on the worker, ends the task without deferring.
    with pytest.raises(AirflowFailException) as first_poke:
        wait.execute(context)
    assert str(first_poke.value) == str(sync_err.value)
    # And the trigger's event, for a job that ends while deferred, gives the same message.
    event = run_trigger(
        BatchServiceJobTrigger(job_id=job_id, aws_conn_id="emu", poll_interval=POKE)
    )
    assert event["status"] == "failed"
    with pytest.raises(AirflowFailException) as deferred_err:
        wait.execute_complete(context, event)
    assert str(deferred_err.value) == str(sync_err.value)
    assert "rule 2 EXIT" in str(deferred_err.value)


def test_deferrable_operator_waits_in_the_trigger(emu):
    name = unique("dop")
    context = make_context()
    op = submit_operator(
        emu,
        name,
        task_id="train",
        wait_for_completion=True,
        deferrable=True,
        botocore_config={"retries": {"max_attempts": 2}},
        verify=False,
    )
    trigger = deferred(op, context)
    assert trigger.terminate_on_kill and "train" in trigger.kill_reason
    assert trigger.botocore_config == {"retries": {"max_attempts": 2}}
    assert trigger.verify is False
    assert "batch_service_job_details" in context["ti"].xcom
    event = run_trigger(trigger)
    # execute_complete runs on a new operator object
    fresh = submit_operator(emu, name, task_id="train", wait_for_completion=True, deferrable=True)
    job_id = fresh.execute_complete(context, event)
    assert job_id == trigger.job_id
    assert context["ti"].xcom["summary"]["status"] == "SUCCEEDED"
    assert emu.stats().get("SubmitServiceJob") == 1


@pytest.mark.parametrize("setting", ["True", "False"])
def test_deferrable_default_comes_from_config(setting):
    """``[operators] default_deferrable`` is read when the classes are defined (as in the amazon
    provider), so each setting gets a fresh interpreter."""
    code = """
import json
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator as Op
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor as Sensor
op = Op(task_id="o", job_name="j", job_queue="q", service_request_payload={})
print(json.dumps([op.deferrable, Sensor(task_id="s", job_id="j").deferrable]))
"""
    env = {**os.environ, "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": setting}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    ).stdout
    expected = setting == "True"
    assert json.loads(out.strip().splitlines()[-1]) == [expected, expected]


def test_trigger_rides_out_throttling_and_5xx(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    job_id = submit(emu, unique("dfaulty"))
    emu.set_faults({"DescribeServiceJob": {"throttleRate": 0.5, "errorRate": 0.3}}, seed=7)
    event = run_trigger(
        BatchServiceJobTrigger(
            job_id=job_id,
            aws_conn_id="emu",
            poll_interval=POKE,
            botocore_config={"retries": {"max_attempts": 1}},
            stream_logs=False,
        )
    )
    assert event["status"] == "success", event
    out = output(capsys, caplog)
    assert "transient AWS error" in out
    assert "TooManyRequestsException" in out and "ServerException" in out


def test_triggers_share_one_client_per_connection(emu):
    ids = [submit(emu, unique("share")) for _ in range(5)]
    before = shared_clients.builds()

    async def all_events() -> list[dict[str, Any]]:
        triggers = [
            rebuild(
                BatchServiceJobTrigger(
                    job_id=j, aws_conn_id="emu", poll_interval=POKE, stream_logs=False
                )
            )
            for j in ids
        ]
        events = await asyncio.gather(*(anext(t.run()) for t in triggers))
        return [e.payload for e in events]

    events = asyncio.run(all_events())
    assert [e["status"] for e in events] == ["success"] * 5
    assert shared_clients.builds() - before == 1
    # Same arguments: the triggers' client. Another region: another client.
    same = shared_clients.get_shared_client("batch", aws_conn_id="emu")
    assert shared_clients.builds() - before == 1
    other = shared_clients.get_shared_client("batch", aws_conn_id="emu", region_name="eu-west-1")
    assert other is not same and shared_clients.builds() - before == 2


def test_triggers_share_one_hook_per_connection():
    def trigger(**args: Any) -> BatchServiceJobTrigger:
        return rebuild(BatchServiceJobTrigger(job_id="j", aws_conn_id="emu", **args))

    first, second = trigger(), trigger(poll_interval=5)
    assert first.hook is second.hook  # nothing per trigger in it: one per connection
    assert trigger(region_name="eu-west-1").hook is not first.hook
    assert trigger(botocore_config={"read_timeout": 5}).hook is not first.hook
    assert trigger(botocore_config={"read_timeout": 5}).hook.botocore_config == {"read_timeout": 5}
    shared_clients.clear()
    assert trigger().hook is not first.hook  # cleared with the clients


# -- one timeout ----------------------------------------------------------------------------


def test_sensor_timeout_is_the_same_deferred_and_the_job_keeps_running(emu):
    job_id = hanging_job(emu)
    context = make_context()
    wait = sensor(emu, job_id, timeout=1, deferrable=True)
    trigger = deferred(wait, context)
    assert trigger.deadline_ms is not None and trigger.terminate_on_timeout is False
    event = run_trigger(trigger)
    assert event["status"] == "timeout"
    with pytest.raises(AirflowSensorTimeout) as err:
        wait.execute_complete(context, event)
    assert "NOT terminated" in str(err.value) and job_id in str(err.value)
    assert emu.stats().get("TerminateServiceJob", 0) == 0
    assert describe(emu, job_id)["status"] not in ("FAILED", "SUCCEEDED")


@pytest.mark.parametrize("deferrable", [False, True])
def test_operator_wait_timeout_terminates_its_job_in_both_modes(emu, deferrable):
    name = unique("optimeout")
    emu.load_scenarios(scenario(name, hang()))
    context = make_context()
    op = submit_operator(
        emu,
        name,
        task_id="train",
        wait_for_completion=True,
        wait_timeout=1,
        deferrable=deferrable,
    )
    with pytest.raises(AirflowFailException) as err:
        if deferrable:
            op.execute_complete(context, run_trigger(deferred(op, context)))
        else:
            op.execute(context)
    assert "wait_timeout=1s" in str(err.value) and "terminated" in str(err.value)
    job_id = context["ti"].xcom["batch_service_job_details"]["job_id"]
    described = describe(emu, job_id)
    assert described["status"] == "FAILED" and described.get("isTerminated")
    assert "wait_timeout=1s" in described["statusReason"]


# -- training logs ------------------------------------------------------------------------------


def _retried_job(emu) -> str:
    name = unique("logs")
    emu.load_scenarios(scenario(name, failed(ISE), succeeded()))
    return submit(emu, name, retry_strategy=RETRY_ISE_THEN_EXIT)


def _log_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "[attempt " in line and "algo-1]" in line]


def test_sensor_streams_each_attempts_training_log_once(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    job_id = _retried_job(emu)
    sensor(emu, job_id, timeout=120).execute(make_context())
    lines = _log_lines(capsys.readouterr().out)
    first = [line for line in lines if "[attempt 1 algo-1]" in line]
    second = [line for line in lines if "[attempt 2 algo-1]" in line]
    assert any("created for service job" in line for line in first)
    assert any("Completed" in line for line in second)
    assert any("Failed" in line or "InternalServerError" in line for line in first)
    # each line once, though the streams were read on every poke
    for attempt_lines in (first, second):
        bodies = [line.split("algo-1]", 1)[1] for line in attempt_lines]
        assert len(bodies) == len(set(bodies))


def test_stream_logs_false_streams_nothing(emu, capsys):
    job_id = submit(emu, unique("quiet"))
    sensor(emu, job_id, stream_logs=False).execute(make_context())
    assert _log_lines(capsys.readouterr().out) == []


def test_operator_sync_wait_streams_logs(emu, capsys):
    name = unique("oplogs")
    submit(emu, name, wait_for_completion=True)
    lines = _log_lines(capsys.readouterr().out)
    assert any("[attempt 1 algo-1]" in line and "Completed" in line for line in lines)


def test_trigger_streams_logs_labelled_by_attempt(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    job_id = _retried_job(emu)
    event = run_trigger(
        BatchServiceJobTrigger(job_id=job_id, aws_conn_id="emu", poll_interval=POKE)
    )
    assert event["status"] == "success"
    lines = _log_lines(output(capsys, caplog))
    assert any("[attempt 2 algo-1]" in line and "Completed" in line for line in lines)
    assert any("[attempt 1 algo-1]" in line for line in lines)


def test_a_wait_that_first_looks_after_a_failed_attempt_streams_that_attempts_log(
    emu, capsys, caplog
):
    """Attempt 1 failed and attempt 2 runs before the wait's first describe (a fast failure,
    a deferral that took a while): the failed attempt's training log, the one that says why,
    is still streamed, once, labelled attempt 1."""
    caplog.set_level(logging.INFO)
    emu.configure(freeze_clock=True)
    job_id = _retried_job(emu)
    batch = emu.client()
    for _ in range(200):
        job = batch.describe_service_job(jobId=job_id)
        if len(job.get("attempts") or []) >= 2 and job["status"] == "RUNNING":
            break
        emu.advance(0.05)
    assert len(job["attempts"]) == 2 and job["status"] == "RUNNING", job
    emu.configure(freeze_clock=False)
    event = run_trigger(
        BatchServiceJobTrigger(job_id=job_id, aws_conn_id="emu", poll_interval=POKE)
    )
    assert event["status"] == "success"
    captured = capsys.readouterr()
    # Each source once: Airflow 3.0 writes the lines to stdout and to the records both.
    for text in (captured.out + captured.err, caplog.text):
        first = [line for line in _log_lines(text) if "[attempt 1 algo-1]" in line]
        bodies = [line.split("algo-1]", 1)[1] for line in first]
        assert len(bodies) == len(set(bodies)), first  # each line once
    lines = _log_lines(captured.out + captured.err + caplog.text)
    first = [line for line in lines if "[attempt 1 algo-1]" in line]
    assert any("InternalServerError" in line or "Failed" in line for line in first), lines
    assert any("[attempt 2 algo-1]" in line and "Completed" in line for line in lines)
