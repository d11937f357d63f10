"""What the training produced: the final attempt's training job in XCom, in
every wait mode (poke, reschedule, deferrable, the operator's own wait), against the emulator
in-process and over HTTP. The emulator's scenario scripts the metrics each attempt reports."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

from .support import (
    PAYLOAD,
    VALIDATION,
    FakeStateStore,
    connect_emulator,
    deferred,
    failed,
    make_context,
    run_rescheduled,
    run_trigger,
    scenario,
    sensor,
    submit,
    submit_operator,
    succeeded,
    unique,
)

pytestmark = pytest.mark.usefixtures("fresh_shared_clients")

METRICS = {"validation:accuracy": 0.93, "train:loss": 0.12}


@pytest.fixture(params=["in_process", "http"])
def emu(request, monkeypatch):
    return connect_emulator(request, monkeypatch, request.param, 0.2)


def a_job(emu, **timing: Any) -> str:
    name = unique("result")
    emu.load_scenarios(scenario(name, {**succeeded(**timing), "metrics": METRICS}))
    return name


def check(result: dict[str, Any], job_name: str | None = None) -> None:
    """Every field of the result schema, as the emulator's training job reports it."""
    assert result["trainingJobStatus"] == "Completed"
    assert result["secondaryStatus"] == "Completed"
    assert result["trainingJobName"].startswith("AWSBatch")
    assert result["trainingJobArn"].endswith("/" + result["trainingJobName"])
    output = PAYLOAD["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    assert result["modelArtifacts"] == (f"{output}/{result['trainingJobName']}/output/model.tar.gz")
    assert result["finalMetrics"] == METRICS
    assert result["trainingTimeInSeconds"] >= 0
    assert result["billableTimeInSeconds"] == result["trainingTimeInSeconds"]
    assert result["failureReason"] is None


def quiet_sensor(emu, job_id: str, **kwargs: Any) -> BatchServiceJobSensor:
    """:func:`support.sensor` without the training log streamed: only the result matters here."""
    return sensor(emu, job_id, stream_logs=False, **kwargs)


def test_poke_mode_sensor_carries_the_training_result(emu):
    job_id = submit(emu, a_job(emu))
    context = make_context()
    summary = quiet_sensor(emu, job_id).execute(context)
    check(summary["trainingJob"])
    assert context["ti"].xcom["training_job"] == summary["trainingJob"]


def test_reschedule_mode_sensor_carries_the_training_result(emu):
    job_id = submit(emu, a_job(emu))
    context = make_context(task_state_store=FakeStateStore())
    summary = run_rescheduled(lambda: quiet_sensor(emu, job_id, mode="reschedule"), context)
    check(summary["trainingJob"])


def test_deferred_sensor_carries_the_training_result(emu):
    # RUNNABLE for 3 s: the sensor's first look, however slow the machine, finds the job unfinished
    # and defers (a job already over when the sensor starts is rightly answered without deferring).
    job_id = submit(emu, a_job(emu, runnable_seconds=3))
    context = make_context()
    task = quiet_sensor(emu, job_id, deferrable=True)
    event = run_trigger(deferred(task, context))
    summary = task.execute_complete(context, event)
    check(summary["trainingJob"])
    assert task.training_job_result == summary["trainingJob"]
    assert task.service_request_payload_seen == PAYLOAD  # what lineage reads the inputs from


def test_operator_own_wait_carries_the_training_result(emu):
    context = make_context()
    op = submit_operator(emu, a_job(emu), wait_for_completion=True)
    op.execute(context)
    check(context["ti"].xcom["summary"]["trainingJob"])
    check(context["ti"].xcom["training_job"])
    assert op.training_job_result == context["ti"].xcom["training_job"]


def test_deferred_operator_carries_the_training_result(emu):
    context = make_context()
    op = submit_operator(emu, a_job(emu), wait_for_completion=True, deferrable=True)
    event = run_trigger(deferred(op, context))
    op.execute_complete(context, event)
    check(context["ti"].xcom["summary"]["trainingJob"])


def test_a_failed_job_carries_what_its_training_job_got_to(emu):
    name = unique("failed-result")
    emu.load_scenarios(scenario(name, failed(VALIDATION)))
    job_id = submit(emu, name)
    context = make_context()
    with pytest.raises(AirflowFailException):
        quiet_sensor(emu, job_id).execute(context)
    result = context["ti"].xcom["training_job"]
    assert result["trainingJobStatus"] == "Failed"
    assert result["failureReason"]  # as far as it got: its status and why it failed


def test_the_result_can_be_turned_off(emu):
    job_id = submit(emu, a_job(emu))
    context = make_context()
    summary = quiet_sensor(emu, job_id, read_training_result=False).execute(context)
    assert "trainingJob" not in summary and "training_job" not in context["ti"].xcom
