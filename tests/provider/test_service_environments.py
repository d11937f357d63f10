"""The environment operations against the emulator: ``BatchCreateServiceEnvironmentOperator``
and ``BatchServiceEnvironmentSensor``, in-process under ``moto.mock_aws`` and over HTTP through an
``aws`` connection; bad input refused before any call; the deferrable ones through their
trigger as the triggerer runs it (serialize, rebuild from JSON, run); the same wait rules on
the worker and in the triggerer.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from botocore.exceptions import ClientError

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.operators.service_operations import (
    BatchCreateServiceEnvironmentOperator,
)
from airflow_batch_service.sensors.service_operations import BatchServiceEnvironmentSensor
from airflow_batch_service.triggers.service_operations import BatchServiceEnvironmentTrigger

from .support import batch_client, make_context, unique
from .support_operations import (
    calls,
    run_operations_trigger,
    set_status,
    set_status_after_first_look,
    slow_emu_in_process,  # noqa: F401  (the ``in_process`` fixture)
    slow_emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
)

LIMITS = [{"maxCapacity": 2, "capacityUnit": "NUM_INSTANCES"}]


def test_create_environment_then_the_sensor_sees_it_valid(emu):
    name = unique("env")
    context = make_context()
    op = BatchCreateServiceEnvironmentOperator(
        task_id="create",
        aws_conn_id="emu",
        service_environment_name=name,
        capacity_limits=json.dumps(LIMITS),
        tags={"team": "ml"},
    )
    arn = op.execute(context)
    assert arn.endswith(f":service-environment/{name}")
    assert context["ti"].xcom["batch_service_environment"]["service_environment_arn"] == arn
    env = batch_client(emu).describe_service_environments(serviceEnvironments=[name])[
        "serviceEnvironments"
    ][0]
    assert env["capacityLimits"] == LIMITS and env["tags"] == {"team": "ml"}

    sensor = BatchServiceEnvironmentSensor(
        task_id="env_ready",
        aws_conn_id="emu",
        service_environment=arn,
        poke_interval=0.05,
        timeout=10,
    )
    summary = sensor.execute(make_context())
    assert summary == {
        "name": name,
        "arn": arn,
        "status": "VALID",
        "state": "ENABLED",
        "statusReason": None,
    }

    again = BatchCreateServiceEnvironmentOperator(
        task_id="create", aws_conn_id="emu", service_environment_name=name, capacity_limits=LIMITS
    )
    with pytest.raises(AirflowFailException, match="already exists"):
        again.execute(make_context())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (
            {"service_environment_name": "bad name"},
            "service_environment_name (serviceEnvironmentName): must be 1-128",
        ),
        ({"capacity_limits": []}, "capacity_limits (capacityLimits): must be a non-empty list"),
        (
            {"capacity_limits": [{"maxCapacity": 0, "capacityUnit": "NUM_INSTANCES"}]},
            "capacity_limits (capacityLimits[0].maxCapacity): must be at least 1",
        ),
        ({"capacity_limits": [{"maxCapacity": 1}]}, "capacityLimits[0].capacityUnit"),
        ({"state": "ON"}, "state: must be ENABLED or DISABLED"),
        ({"service_environment_type": "ECS"}, "service_environment_type (serviceEnvironmentType)"),
        ({"tags": {"k": "v" * 300}}, "tags"),
    ],
)
def test_create_environment_refuses_bad_input_before_any_call(emu, kwargs, words):
    args = {"service_environment_name": "ok-env", "capacity_limits": LIMITS, **kwargs}
    op = BatchCreateServiceEnvironmentOperator(task_id="create", aws_conn_id="emu", **args)
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    assert "nothing was called" in str(err.value) and words in str(err.value), str(err.value)
    assert calls(emu) == 0


def test_create_environment_deferrable_waits_in_its_trigger(emu):
    name = unique("denv")
    op = BatchCreateServiceEnvironmentOperator(
        task_id="create",
        aws_conn_id="emu",
        service_environment_name=name,
        capacity_limits=LIMITS,
        deferrable=True,
        poll_interval=0.05,
        max_retries=5,
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BatchServiceEnvironmentTrigger)
    event = run_operations_trigger(trigger)
    assert event["status"] == "success" and event["value"]["name"] == name
    assert op.execute_complete(make_context(), event).endswith(f"/{name}")


def test_create_environment_sync_wait(emu):
    op = BatchCreateServiceEnvironmentOperator(
        task_id="create",
        aws_conn_id="emu",
        service_environment_name=unique("senv"),
        capacity_limits=LIMITS,
        wait_for_completion=True,
        poll_interval=0.05,
    )
    assert ":service-environment/" in op.execute(make_context())


def test_environment_sensor_waits_through_creating_then_fails_on_invalid(
    in_process, caplog, capsys
):
    caplog.set_level("INFO")
    name = f"{in_process.queue_name}-env"
    set_status("env", name, "CREATING")
    timer = set_status_after_first_look(
        in_process, "DescribeServiceEnvironments", "env", name, "VALID", delay=1.5
    )
    sensor = BatchServiceEnvironmentSensor(
        task_id="env", aws_conn_id="emu", service_environment=name, poke_interval=0.1, timeout=10
    )
    start = time.monotonic()
    assert sensor.execute(make_context())["status"] == "VALID"
    assert time.monotonic() - start >= 1.5
    logged = capsys.readouterr()
    logged = logged.out + logged.err + caplog.text
    assert f"service environment {name} is CREATING: waiting" in logged, logged
    timer.join()

    set_status("env", name, "INVALID")  # DescribeServiceEnvironments has no statusReason
    with pytest.raises(AirflowFailException, match="is INVALID: it will not become VALID"):
        sensor.execute(make_context())
    soft = BatchServiceEnvironmentSensor(
        task_id="env",
        aws_conn_id="emu",
        service_environment=name,
        poke_interval=0.1,
        timeout=10,
        soft_fail=True,
    )
    with pytest.raises((AirflowSkipException, AirflowFailException)):
        soft.execute(make_context())


def test_environment_trigger_waits_then_succeeds_or_times_out(in_process):
    name = f"{in_process.queue_name}-env"
    set_status("env", name, "UPDATING")
    set_status_after_first_look(in_process, "DescribeServiceEnvironments", "env", name, "VALID")
    sensor = BatchServiceEnvironmentSensor(
        task_id="env",
        aws_conn_id="emu",
        service_environment=name,
        poke_interval=0.05,
        timeout=30,
        deferrable=True,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["service_environment"] == name
    assert trigger.serialize()[1]["max_attempts"] == 600  # timeout / poke_interval
    event = run_operations_trigger(trigger)
    assert event["status"] == "success"
    assert sensor.execute_complete(make_context(), event)["status"] == "VALID"

    set_status("env", name, "CREATING")
    short = BatchServiceEnvironmentTrigger(
        service_environment=name, poll_interval=0.01, max_attempts=3, aws_conn_id="emu"
    )
    event = run_operations_trigger(short)
    assert event["status"] == "timeout" and "3 polls" in event["message"]
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete(make_context(), event)


def test_environment_sensor_missing_fails_or_counts_as_deleted(emu):
    missing = BatchServiceEnvironmentSensor(
        task_id="env",
        aws_conn_id="emu",
        service_environment="no-such-env",
        poke_interval=0.05,
        timeout=5,
    )
    with pytest.raises(AirflowFailException, match="does not exist"):
        missing.execute(make_context())
    deleted = BatchServiceEnvironmentSensor(
        task_id="env",
        aws_conn_id="emu",
        service_environment="no-such-env",
        poke_interval=0.05,
        timeout=5,
        treat_non_existing_as_deleted=True,
    )
    assert deleted.execute(make_context())["status"] == "DELETED"
    event = run_operations_trigger(deleted.trigger(3))
    assert event["status"] == "success" and event["value"]["status"] == "DELETED"


def test_environment_sensor_refuses_an_empty_name_before_any_call(emu):
    sensor = BatchServiceEnvironmentSensor(
        task_id="env", aws_conn_id="emu", service_environment="", poke_interval=0.05
    )
    with pytest.raises(AirflowFailException, match="service_environment: must be a non-empty"):
        sensor.execute(make_context())
    assert calls(emu) == 0


def aws_error(code: str, status: int, message: str = "no") -> Exception:
    """What botocore raises when DescribeServiceEnvironments is answered with ``code``."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "DescribeServiceEnvironments",
    )


def scripted_describes(monkeypatch, *answers: Any) -> list[Any]:
    """DescribeServiceEnvironments answers in turn (an exception is raised); the last repeats."""
    left = list(answers)
    seen: list[Any] = []

    def describe(self, service_environment: str) -> Any:
        answer = left.pop(0) if len(left) > 1 else left[0]
        seen.append(answer)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(BatchServiceJobHook, "describe_service_environment", describe)
    return seen


def creating(name: str, status: str = "CREATING") -> dict[str, Any]:
    """The hook's description of environment ``name`` in ``status``."""
    return {
        "serviceEnvironmentName": name,
        "serviceEnvironmentArn": f"arn:{name}",
        "status": status,
    }


def test_environment_waits_go_through_a_throttle_and_stop_at_a_refusal(in_process, monkeypatch):
    """The same rule in the three waits: a throttle is asked again, a refusal ends the wait
    (on the worker the AWS exception itself propagates; in the triggerer it is the event)."""
    throttle, denied = aws_error("ThrottlingException", 400), aws_error("AccessDenied", 403)
    scripted_describes(monkeypatch, throttle, creating("e"), creating("e", "VALID"))
    sensor = BatchServiceEnvironmentSensor(
        task_id="env", aws_conn_id="emu", service_environment="e", poke_interval=0.01, timeout=5
    )
    assert sensor.execute(make_context())["status"] == "VALID"
    event = run_operations_trigger(sensor.trigger(5))
    assert event["status"] == "success"

    scripted_describes(monkeypatch, throttle, denied)
    with pytest.raises(ClientError, match="AccessDenied"):
        sensor.execute(make_context())
    event = run_operations_trigger(sensor.trigger(5))
    assert event["status"] == "failure" and "AccessDenied" in event["message"]
    with pytest.raises(AirflowFailException, match="describing service environment e failed"):
        sensor.execute_complete(make_context(), event)

    scripted_describes(monkeypatch, RuntimeError("no connection"))
    event = run_operations_trigger(sensor.trigger(5))
    assert event["status"] == "failure" and "no connection" in event["message"]


def test_create_environment_sync_wait_gives_up_after_max_retries(in_process, monkeypatch):
    name = unique("slow")
    op = BatchCreateServiceEnvironmentOperator(
        task_id="create",
        aws_conn_id="emu",
        service_environment_name=name,
        capacity_limits=LIMITS,
        wait_for_completion=True,
        poll_interval=0.01,
        max_retries=3,
    )
    seen = scripted_describes(monkeypatch, creating(name))
    with pytest.raises(AirflowException, match="did not become ready within 3 polls") as err:
        op.execute(make_context())
    assert not isinstance(err.value, AirflowFailException) and len(seen) == 3
    scripted_describes(monkeypatch, creating(name, "INVALID"))
    op.service_environment_name = unique("bad")
    with pytest.raises(AirflowFailException, match="will not become VALID"):
        op.execute(make_context())
