"""Everything the provider writes to Airflow's database is JSON that PostgreSQL stores: no NaN,
no infinity, no NUL character (``core.strict_json``). SQLite takes all three, so only these
checks would notice: a diverged training run (loss = NaN), an infinite metric and a status
reason with a NUL byte must not fail a task whose job succeeded.

Against the emulator in-process and over HTTP: its scenario scripts the non-finite metrics
and the NUL, and every XCom a task pushes, the trigger's kwargs and its event are checked
as PostgreSQL would take them (``json.dumps(value, allow_nan=False)``, no NUL in any string).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from .support import (
    FakeStateStore,
    FakeTI,
    attempt,
    connect_emulator,
    deferred,
    failed,
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

NAN, INF = float("nan"), float("inf")
METRICS = {"train:loss": NAN, "validation:auc": INF, "validation:accuracy": 0.9}
#: The first attempt's reason: a NUL in the middle of AWS's text.
REASON = "Received status from SageMaker: InternalServerError: worker\x00lost"
#: How it reads in what Airflow stores: the NUL as the visible text \u0000.
REASON_STORED = "Received status from SageMaker: InternalServerError: worker\\u0000lost"


@pytest.fixture(params=["in_process", "http"])
def emu(request, monkeypatch):
    return connect_emulator(request, monkeypatch, request.param, 0.2)


def new_context(**extra: Any) -> Any:
    """A task's context (``support.make_context``), typed as Airflow's ``Context`` takes it."""
    return {"ti": FakeTI(), "run_id": "manual__test", **extra}


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


def assert_storable(value: Any, what: str) -> None:
    """``value`` as PostgreSQL's JSON column takes it."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as err:
        raise AssertionError(f"{what}: not strict JSON ({err}): {value!r}") from None
    assert not has_nul(value), f"{what}: a NUL character: {value!r}"


def assert_all_storable(ti: FakeTI) -> None:
    assert ti.xcom, "the task pushed nothing"
    for key, value in ti.xcom.items():
        assert_storable(value, f"XCom {key!r}")


def diverged_job(emu, *, gate: str | None = None) -> str:
    """A job whose first attempt fails with ``REASON`` and whose retry succeeds reporting
    ``METRICS`` (held RUNNING at ``gate`` until it opens, when given): its name."""
    name = unique("diverged")
    second = succeeded(metrics=METRICS)
    if gate is not None:
        second = attempt("SUCCEEDED", metrics=METRICS, hold_until_released={"RUNNING": gate})
    emu.load_scenarios(scenario(name, failed(REASON), second))
    return name


def submit_retried(emu, name: str, context: dict[str, Any] | None = None) -> str:
    return submit(emu, name, context, retry_strategy={"attempts": 2})


def check_summary(summary: dict[str, Any]) -> None:
    """The documented representation: null in ``finalMetrics``, the original beside it."""
    assert_storable(summary, "summary")
    assert summary["status"] == "SUCCEEDED"
    assert summary["attempts"][0]["statusReason"] == REASON_STORED
    assert REASON_STORED in summary["explanation"]
    result = summary["trainingJob"]
    assert result["trainingJobStatus"] == "Completed"
    assert result["finalMetrics"] == {
        "train:loss": None,
        "validation:auc": None,
        "validation:accuracy": 0.9,
    }
    assert result["finalMetricsNonFinite"] == {"train:loss": "NaN", "validation:auc": "Infinity"}
    assert math.isnan(float(result["finalMetricsNonFinite"]["train:loss"]))


def test_operator_own_wait_succeeds_and_pushes_only_storable_values(emu):
    context = new_context()
    op = submit_operator(
        emu, diverged_job(emu), wait_for_completion=True, retry_strategy={"attempts": 2}
    )
    op.execute(context)
    ti = context["ti"]
    assert_all_storable(ti)
    check_summary(ti.xcom["summary"])
    assert ti.xcom["training_job"] == ti.xcom["summary"]["trainingJob"]
    assert op.training_job_result == ti.xcom["training_job"]  # what lineage reports
    reasons = [t["reason"] for job in ti.xcom["batch_service_timeline"] for t in job["transitions"]]
    assert REASON_STORED in reasons


def test_deferred_operator_event_and_xcoms_are_storable(emu):
    context = new_context()
    op = submit_operator(
        emu,
        diverged_job(emu),
        wait_for_completion=True,
        deferrable=True,
        retry_strategy={"attempts": 2},
    )
    trigger = deferred(op, context)
    assert_storable(trigger.serialize()[1], "trigger kwargs")
    event = run_trigger(trigger)
    assert_storable(event, "trigger event")
    check_summary(event["summary"])
    op.execute_complete(context, event)
    assert_all_storable(context["ti"])
    check_summary(context["ti"].xcom["summary"])


def test_deferred_sensor_kwargs_with_aws_text_event_and_result_are_storable(emu):
    """The sensor defers after it saw the failed attempt: its wait state (the trigger's
    ``state`` kwarg) carries the job's status reason, NUL and all."""
    gate = unique("trained")
    job_id = submit_retried(emu, diverged_job(emu, gate=gate))
    emu.wait_at_gate(gate)  # the retry runs: the job's statusReason is the failed attempt's
    context = new_context()
    task = sensor(emu, job_id, deferrable=True)
    trigger = deferred(task, context)
    kwargs = trigger.serialize()[1]
    assert_storable(kwargs, "trigger kwargs")
    assert kwargs["state"]["watch"]["reason"] == REASON_STORED
    emu.open_gate(gate)
    event = run_trigger(trigger)
    assert_storable(event, "trigger event")
    summary = task.execute_complete(context, event)  # the sensor's return_value XCom
    check_summary(summary)
    assert_all_storable(context["ti"])
    assert context["ti"].xcom["training_job"] == summary["trainingJob"]


def test_reschedule_sensor_keeps_a_storable_wait_state(emu):
    job_id = submit_retried(emu, diverged_job(emu))
    store = FakeStateStore()
    context = new_context(task_state_store=store)
    summary = run_rescheduled(lambda: sensor(emu, job_id, mode="reschedule"), context)
    check_summary(summary)
    assert_all_storable(context["ti"])
    assert store.sets and store.data
    for key, text in store.data.items():
        assert_storable(json.loads(text), f"task state {key!r}")


def test_a_job_failing_with_a_nul_and_nan_metrics_fails_with_storable_xcoms(emu):
    name = unique("diverged-failed")
    emu.load_scenarios(scenario(name, failed(REASON, metrics=METRICS)))
    job_id = submit(emu, name)
    context = new_context()
    with pytest.raises(AirflowFailException):
        sensor(emu, job_id, stream_logs=False).execute(context)
    assert_all_storable(context["ti"])
    result = context["ti"].xcom["training_job"]
    assert result["failureReason"] == REASON_STORED
    assert result["finalMetricsNonFinite"] == {"train:loss": "NaN", "validation:auc": "Infinity"}
