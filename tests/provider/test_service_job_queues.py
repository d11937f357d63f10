"""The queue operations against the emulator: ``BatchServiceJobQueueSensor`` and its trigger,
in-process under ``moto.mock_aws`` and over HTTP through an ``aws`` connection; bad input
refused before any call; the trigger run as the triggerer runs it (serialize, rebuild from
JSON, run).
"""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_batch_service.core.operations import ResourceStatus, check_job_queue
from airflow_batch_service.links.service_operations import BatchServiceJobQueueLink
from airflow_batch_service.sensors.service_operations import BatchServiceJobQueueSensor
from airflow_batch_service.triggers.service_operations import BatchServiceJobQueueTrigger

from .support import make_context
from .support_operations import (
    calls,
    rebuild_operations_trigger,
    run_operations_trigger,
    set_status,
    set_status_after_first_look,
    slow_emu_in_process,  # noqa: F401  (the ``in_process`` fixture)
    slow_emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
)


def test_queue_sensor_returns_the_queue_and_persists_its_link(emu):
    context = make_context()
    sensor = BatchServiceJobQueueSensor(
        task_id="queue", aws_conn_id="emu", job_queue=emu.queue_name, poke_interval=0.05, timeout=5
    )
    summary = sensor.execute(context)
    assert summary["name"] == emu.queue_name and summary["status"] == "VALID"
    assert summary["arn"] == emu.queue_arn and summary["state"] == "ENABLED"
    assert context["ti"].xcom["batch_service_job_queue"]["job_queue_arn"] == emu.queue_arn
    link = context["ti"].xcom["batch_service_job_queue"]
    url = BatchServiceJobQueueLink().format_link(**link)
    assert url.startswith(
        "https://console.aws.amazon.com/batch/home?region=us-east-1#queues/detail/"
    )


def test_queue_sensor_deferrable_and_its_trigger(emu):
    sensor = BatchServiceJobQueueSensor(
        task_id="queue",
        aws_conn_id="emu",
        job_queue=emu.queue_name,
        poke_interval=0.05,
        timeout=5,
        deferrable=True,
    )
    # Already VALID: the first look on the worker ends it without deferring.
    assert sensor.execute(make_context())["status"] == "VALID"
    trigger = BatchServiceJobQueueTrigger(
        job_queue=emu.queue_name,
        poll_interval=0.05,
        max_attempts=3,
        aws_conn_id="emu",
        region_name="us-east-1",
        verify=None,
        botocore_config={"read_timeout": 10},
    )
    assert rebuild_operations_trigger(trigger).serialize() == trigger.serialize()
    event = run_operations_trigger(trigger)
    assert event["status"] == "success" and event["value"]["arn"] == emu.queue_arn


def test_queue_sensor_waits_through_updating_deferred(in_process):
    set_status("queue", in_process.queue_name, "UPDATING")
    set_status_after_first_look(
        in_process, "DescribeJobQueues", "queue", in_process.queue_name, "VALID"
    )
    sensor = BatchServiceJobQueueSensor(
        task_id="queue",
        aws_conn_id="emu",
        job_queue=in_process.queue_name,
        poke_interval=0.05,
        timeout=10,
        deferrable=True,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(make_context())
    event = run_operations_trigger(deferred.value.trigger)
    assert event["status"] == "success"
    set_status("queue", in_process.queue_name, "INVALID", "no service environment")
    event = run_operations_trigger(deferred.value.trigger)
    assert event["status"] == "failure" and "no service environment" in event["message"]
    with pytest.raises(AirflowFailException, match="INVALID"):
        sensor.execute_complete(make_context(), event)


def test_queue_sensor_missing_queue_and_bad_input(emu):
    sensor = BatchServiceJobQueueSensor(
        task_id="queue", aws_conn_id="emu", job_queue="no-such-queue", poke_interval=0.05, timeout=5
    )
    with pytest.raises(AirflowFailException, match="job queue no-such-queue does not exist"):
        sensor.execute(make_context())
    emu.reset_stats()
    bad = BatchServiceJobQueueSensor(
        task_id="queue",
        aws_conn_id="emu",
        job_queue="q",
        poke_interval=0.05,
        max_retries=0,
        deferrable=True,
    )
    with pytest.raises(AirflowFailException, match="max_retries: must be a positive integer"):
        bad.execute(make_context())
    assert calls(emu) == 0


def test_queue_check_refuses_a_container_job_queue():
    check = check_job_queue("cq", {"jobQueueName": "cq", "status": "VALID", "state": "ENABLED"})
    assert check.outcome is ResourceStatus.FAILED
    assert "not a SAGEMAKER_TRAINING queue" in check.message
