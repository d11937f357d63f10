"""Small test doubles: a task instance and task state store, and runners for operator/sensor."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import Any

try:
    from airflow.sdk.exceptions import AirflowRescheduleException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import AirflowRescheduleException  # type: ignore[no-redef]

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


def unique(prefix: str) -> str:
    """A job name no other test uses."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"
