"""What the provider tests share: test doubles (a task instance, a task state store), the
emulator connection and its ``emu`` fixture, constants, the submit operator and sensor built as
the tests build them, trigger helpers, and (from the emulator tests' ``helpers``) the scenario
builders and reasons, so each is written once. (Running the example DAGs with ``dag.test()``
has its own module, ``support_dags``.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from emulator.helpers import (  # tests/emulator/helpers.py: the emulator's own test builders
    ISE,
    VALIDATION,
    attempt,
    capacity,
    failed,
    hang,
    preempted,
    scenario,
    scenarios,
    script,
    succeeded,
)

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor
from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

try:
    from airflow.sdk.exceptions import AirflowRescheduleException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import AirflowRescheduleException  # type: ignore[no-redef]

__all__ = [
    "ISE",
    "PAYLOAD",
    "POKE",
    "RETRY_ISE_THEN_EXIT",
    "STATE_SECONDS",
    "VALIDATION",
    "FakeStateStore",
    "FakeTI",
    "attempt",
    "batch_client",
    "capacity",
    "connect_emulator",
    "deferred",
    "describe",
    "emu_in_process_and_http",
    "failed",
    "hang",
    "hanging_job",
    "make_context",
    "output",
    "preempted",
    "rebuild",
    "run_rescheduled",
    "run_trigger",
    "scenario",
    "scenarios",
    "script",
    "sensor",
    "set_aws_connection",
    "submit",
    "submit_operator",
    "succeeded",
    "thawed_at_first_look",
    "unique",
    "until_counted",
]

#: Poll and poke interval of the tasks under test (seconds).
POKE = 0.05
#: The emulator's pace: several pokes per state, so every state is seen (log assertions count
#: them).
STATE_SECONDS = 0.25

PAYLOAD: dict[str, Any] = {
    "TrainingJobName": "unit-train",
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
    "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
    "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}

RETRY_ISE_THEN_EXIT = {
    "attempts": 3,
    "evaluateOnExit": [
        {
            "action": "RETRY",
            "onStatusReason": "Received status from SageMaker: InternalServerError*",
        },
        {
            "action": "EXIT",
            "onStatusReason": "Received status from SageMaker: ValidationException*",
        },
    ],
}


class FakeTI:
    """Enough of a task instance for execute(): XCom pushes, try number, reschedule date."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}
        self.try_number = 1
        self.first_reschedule_date = None

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-able
        self.xcom[key] = value

    def get_first_reschedule_date(self, context: Any) -> Any:
        return self.first_reschedule_date


class FakeStateStore:
    """``context["task_state_store"]``: JSON values that survive across pokes."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sets = 0

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.data[key]) if key in self.data else default

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.sets += 1
        self.data[key] = json.dumps(value)


def make_context(**extra: Any) -> dict[str, Any]:
    return {"ti": FakeTI(), "run_id": "manual__test", **extra}


def run_rescheduled(make_sensor, context: dict[str, Any], max_pokes: int = 500) -> Any:
    """Run a reschedule-mode sensor as Airflow does: a fresh operator object per poke."""
    for _ in range(max_pokes):
        sensor = make_sensor()
        try:
            return sensor.execute(context)
        except AirflowRescheduleException as resched:
            now = datetime.now(UTC)
            if context["ti"].first_reschedule_date is None:
                context["ti"].first_reschedule_date = now
            time.sleep(max(0.0, (resched.reschedule_date - now).total_seconds()))
    raise AssertionError("sensor never finished")


def set_aws_connection(monkeypatch, conn_id: str, region: str, endpoint_url: str | None) -> None:
    extra: dict[str, Any] = {"region_name": region}
    if endpoint_url:
        extra["endpoint_url"] = endpoint_url
    value = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    assert os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]


def connect_emulator(request: Any, monkeypatch: Any, where: str, seconds_per_state: float) -> Any:
    """The in-process (``batch_emulator``) or HTTP (``batch_emulator_server``) emulator, with
    an ``aws`` connection ``emu`` pointing at it, fresh stats and the given pace."""
    if where == "in_process":
        emulator = request.getfixturevalue("batch_emulator")
        set_aws_connection(monkeypatch, "emu", emulator.region, None)
    else:
        emulator = request.getfixturevalue("batch_emulator_server")
        set_aws_connection(monkeypatch, "emu", emulator.region, emulator.endpoint_url)
    emulator.configure(seconds_per_state=seconds_per_state)
    emulator.reset_stats()
    return emulator


@pytest.fixture(name="emu", params=["in_process", "http"])
def emu_in_process_and_http(request: Any, monkeypatch: Any) -> Any:
    """The ``emu`` fixture of most modules: the emulator in-process and over HTTP, at the
    ``STATE_SECONDS`` pace, behind the ``aws`` connection ``emu``. A module takes it with
    ``from .support import emu_in_process_and_http  # noqa: F401`` (registered as ``emu``)."""
    return connect_emulator(request, monkeypatch, request.param, STATE_SECONDS)


def until_counted(emu: Any, operation: str, count: int = 1, timeout: float = 60) -> None:
    """Wait (bounded) until the emulator has answered ``operation`` ``count`` times since its
    stats were last reset: a test that must act after a wait's first look says so with this,
    instead of a timer that a loaded machine outruns."""
    deadline = time.monotonic() + timeout
    while emu.stats().get(operation, 0) < count and time.monotonic() < deadline:
        time.sleep(0.02)


@contextlib.contextmanager
def thawed_at_first_look(emu: Any, operation: str = "DescribeServiceJob") -> Iterator[None]:
    """Run the body with the emulator's (already frozen) clock, and let it run again once the
    body's wait has answered ``operation`` once: a test that asserts what a wait sees from
    the start (the first states, each change logged once) must not depend on the wait's
    first look coming before a loaded machine has moved the job on (building the sensor's
    client took longer than the job's first states in CI). Always thawed on the way out."""
    before = emu.stats().get(operation, 0)  # counted from here, not reset: tests check totals
    done = threading.Event()

    def thaw() -> None:
        deadline = time.monotonic() + 60
        while (
            not done.is_set()
            and emu.stats().get(operation, 0) <= before
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        emu.configure(freeze_clock=False)

    thread = threading.Thread(target=thaw, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def unique(prefix: str) -> str:
    """A job name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- submitting, describing ----------------------------------------------------------------------


def submit_operator(
    emu: Any, name: str, *, task_id: str = "submit", **kwargs: Any
) -> BatchSubmitServiceJobOperator:
    """The operator submitting ``PAYLOAD`` as ``name`` to the emulator's queue (unless
    ``job_queue`` is given) through the ``emu`` connection, polling every ``POKE``."""
    kwargs.setdefault("job_queue", emu.queue_name)
    kwargs.setdefault("service_request_payload", PAYLOAD)
    kwargs.setdefault("poll_interval", POKE)
    return BatchSubmitServiceJobOperator(
        task_id=task_id, aws_conn_id="emu", job_name=name, **kwargs
    )


def submit(emu: Any, name: str, context: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """Run :func:`submit_operator` once (in ``context``, else a fresh one): the job id."""
    return submit_operator(emu, name, **kwargs).execute(
        make_context() if context is None else context
    )


def hanging_job(emu: Any) -> str:
    """A job that runs until terminated, submitted: its id."""
    name = unique("hang")
    emu.load_scenarios(scenario(name, hang()))
    return submit(emu, name)


def sensor(emu: Any, job_id: str, *, task_id: str = "wait", **kwargs: Any) -> BatchServiceJobSensor:
    """The sensor waiting for ``job_id`` through the ``emu`` connection (the one pointing at
    ``emu``), poking every ``POKE``, timing out after 60 s unless told otherwise."""
    kwargs.setdefault("poke_interval", POKE)
    kwargs.setdefault("timeout", 60)
    return BatchServiceJobSensor(task_id=task_id, aws_conn_id="emu", job_id=job_id, **kwargs)


def batch_client(emu: Any) -> Any:
    """A boto3 Batch client of the emulator, as a user outside Airflow would make it."""
    kwargs = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if getattr(emu, "endpoint_url", None):
        kwargs["endpoint_url"] = emu.endpoint_url
    return emu.client("batch", **kwargs)


def describe(emu: Any, job_id: str) -> dict[str, Any]:
    return batch_client(emu).describe_service_job(jobId=job_id)


def output(capsys: Any, caplog: Any) -> str:
    """Task log lines: stdout on Airflow 3.3 (structlog), the logging records on 3.0."""
    captured = capsys.readouterr()
    return captured.out + captured.err + caplog.text


# -- deferring -----------------------------------------------------------------------------------


def deferred(task: Any, context: dict[str, Any]) -> BatchServiceJobTrigger:
    """Run ``task`` until it defers: the trigger it hands over."""
    with pytest.raises(TaskDeferred) as exc:
        task.execute(context)
    assert exc.value.method_name == "execute_complete"
    return exc.value.trigger


def rebuild(trigger: BatchServiceJobTrigger) -> BatchServiceJobTrigger:
    """What the triggerer does: import the classpath, call it with the kwargs (JSON-able)."""
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_batch_service.triggers.batch_service.BatchServiceJobTrigger"
    kwargs = json.loads(json.dumps(kwargs))
    return BatchServiceJobTrigger(**kwargs)


def run_trigger(trigger: BatchServiceJobTrigger) -> dict[str, Any]:
    """Rebuild ``trigger`` as the triggerer would and run it to its first event's payload."""

    async def first_event() -> dict[str, Any]:
        event = await anext(rebuild(trigger).run())
        return event.payload

    return asyncio.run(first_event())
