"""The operations operators and sensors against the emulator: in-process under
``moto.mock_aws`` and over HTTP through an ``aws`` connection; bad input refused before any
call; the deferrable ones through their triggers as the triggerer runs them (serialize, rebuild
from JSON, run); and the example DAG end to end with ``dag.test()``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow.sdk import DAG

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.operators.service_operations import (
    BatchCreateServiceEnvironmentOperator,
    BatchTerminateServiceJobsOperator,
    BatchUpdateServiceJobPriorityOperator,
)
from airflow_batch_service.sensors.service_operations import (
    BatchServiceEnvironmentSensor,
    BatchServiceJobQueueSensor,
)
from airflow_batch_service.triggers.service_operations import (
    BatchServiceEnvironmentTrigger,
    BatchServiceJobQueueTrigger,
)

from .conftest import REPO
from .support import PAYLOAD, make_context, set_aws_connection, unique, until_counted

# Jobs stay queued/running long enough to be updated and terminated.
SLOW = 30.0
LIMITS = [{"maxCapacity": 2, "capacityUnit": "NUM_INSTANCES"}]


@pytest.fixture(params=["in_process", "http"])
def emu(request, monkeypatch):
    from .support import connect_emulator

    return connect_emulator(request, monkeypatch, request.param, SLOW)


@pytest.fixture
def in_process(request, monkeypatch):
    from .support import connect_emulator

    return connect_emulator(request, monkeypatch, "in_process", SLOW)


def client(emu, service: str = "batch") -> Any:
    kwargs = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if getattr(emu, "endpoint_url", None):
        kwargs["endpoint_url"] = emu.endpoint_url
    return emu.client(service, **kwargs)


def calls(emu) -> int:
    return sum(v for k, v in emu.stats().items() if isinstance(v, int))


def submit(
    emu,
    name: str,
    *,
    dag_id: str = "ops_dag",
    task_id: str = "submit",
    run_id: str = "manual__run-1",
    map_index: int = -1,
) -> str:
    """Submit as a task of ``dag_id`` in ``run_id`` would (durable tags included)."""
    with DAG(dag_id, schedule=None):
        op = BatchSubmitServiceJobOperator(
            task_id=task_id,
            aws_conn_id="emu",
            job_name=name,
            job_queue=emu.queue_name,
            service_request_payload=PAYLOAD,
        )
    context = make_context(run_id=run_id)
    context["ti"].map_index = map_index
    return op.execute(context)


def rebuild(trigger: Any) -> Any:
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    assert module == "airflow_batch_service.triggers.service_operations"
    import importlib

    cls = getattr(importlib.import_module(module), name)
    return cls(**json.loads(json.dumps(kwargs)))


def run_trigger(trigger: Any) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        return (await anext(rebuild(trigger).run())).payload

    return asyncio.run(first())


def set_status_after_first_look(
    emu: Any, operation: str, kind: str, name: str, status: str, delay: float = 0.5
) -> threading.Thread:
    """Put the environment or queue into ``status`` ``delay`` seconds after the first
    ``operation`` call from now: a fixed timer races the wait's first look on a loaded
    machine (its client build can take longer than the timer), and then nothing is waited."""
    emu.reset_stats()

    def flip() -> None:
        until_counted(emu, operation)
        time.sleep(delay)
        set_status(kind, name, status)

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    return thread


def set_status(kind: str, name: str, status: str, reason: str | None = None) -> None:
    """In-process only: put an environment or queue into a status the emulator never picks
    by itself (it creates them VALID)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    from airflow_batch_service.emulator.backend import service_job_backends
    from airflow_batch_service.emulator.responses import STATE_LOCK

    with STATE_LOCK:
        backend = service_job_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        thing = backend.find_environment(name) if kind == "env" else backend.find_queue(name)
        assert thing is not None
        thing.status = status
        if kind == "queue":
            thing.status_reason = reason


# -- BatchUpdateServiceJobPriorityOperator -------------------------------------------------


def test_update_priority_sends_zero_and_persists_the_job_link(emu):
    job_id = submit(emu, unique("prio"))
    emu.reset_stats()
    context = make_context()
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=0
    )
    assert op.execute(context) == job_id
    assert emu.stats().get("UpdateServiceJob") == 1
    assert client(emu).describe_service_job(jobId=job_id)["schedulingPriority"] == 0
    assert context["ti"].xcom["batch_service_job_details"]["job_id"] == job_id
    # A rendered template of digits works too.
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=" 42 "
    )
    op.execute(make_context())
    assert client(emu).describe_service_job(jobId=job_id)["schedulingPriority"] == 42


@pytest.mark.parametrize(
    ("job_id", "priority", "words"),
    [
        ("j", 10000, "scheduling_priority (schedulingPriority): must be between 0 and 9999"),
        ("j", -1, "must be between 0 and 9999, got -1"),
        ("j", None, "scheduling_priority (schedulingPriority): is required"),
        ("j", "high", "must be an integer"),
        ("", 5, "job_id (jobId): must be a non-empty string"),
    ],
)
def test_update_priority_refuses_bad_input_before_any_call(emu, job_id, priority, words):
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=priority
    )
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    assert "nothing was called" in str(err.value)
    assert words in str(err.value)
    assert calls(emu) == 0


def test_update_priority_of_a_finished_job_fails_with_aws_message(emu):
    job_id = submit(emu, unique("done"))
    client(emu).terminate_service_job(jobId=job_id, reason="test")
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=5
    )
    with pytest.raises(AirflowFailException, match=r"UpdateServiceJob of .* was refused"):
        op.execute(make_context())


# -- BatchTerminateServiceJobsOperator -----------------------------------------------------


def statuses(emu, ids) -> dict[str, tuple[str, bool]]:
    batch = client(emu)
    out = {}
    for job_id in ids:
        d = batch.describe_service_job(jobId=job_id)
        out[job_id] = (d["status"], bool(d.get("isTerminated")))
    return out


def test_terminate_by_ids_flattens_lists_and_reports(emu):
    a, b, c = (submit(emu, unique("ids")) for _ in range(3))
    op = BatchTerminateServiceJobsOperator(
        task_id="stop", aws_conn_id="emu", job_ids=[[a, b], c, a], reason="enough"
    )
    report = op.execute(make_context())
    assert sorted(report["terminated"]) == sorted([a, b, c])
    assert report["errors"] == [] and report["reportOnly"] is False
    assert [j["selectedBy"] for j in report["jobs"]] == ["job_ids"] * 3
    assert set(statuses(emu, [a, b, c]).values()) == {("FAILED", True)}
    assert client(emu).describe_service_job(jobId=a)["statusReason"] == "enough"


def test_terminate_by_prefix_leaves_other_names_and_finished_jobs(emu):
    prefix = unique("sweep")
    mine = [submit(emu, f"{prefix}-{i}") for i in range(3)]
    other = submit(emu, unique("other"))
    client(emu).terminate_service_job(jobId=mine[0], reason="already stopped")
    emu.reset_stats()
    op = BatchTerminateServiceJobsOperator(
        task_id="stop", aws_conn_id="emu", job_queue=emu.queue_name, job_name_prefix=prefix
    )
    report = op.execute(make_context(run_id="r1"))
    assert sorted(report["terminated"]) == sorted(mine[1:])
    assert {j["jobName"] for j in report["jobs"]} == {f"{prefix}-1", f"{prefix}-2"}
    assert emu.stats().get("TerminateServiceJobs") == 1
    assert emu.stats().get("DescribeServiceJob", 0) == 0  # the prefix needs no describes
    assert statuses(emu, [other])[other][0] != "FAILED"
    reason = client(emu).describe_service_job(jobId=mine[1])["statusReason"]
    assert reason.startswith("Airflow task ") and reason.endswith(".stop (run r1) terminated it")


def test_terminate_by_run_reads_the_durable_task_tag(emu):
    run1_t1 = submit(
        emu, unique("r"), task_id="train", run_id="manual__2026-11-24T08:17:26+00:00", map_index=0
    )
    run1_t1b = submit(
        emu, unique("r"), task_id="train", run_id="manual__2026-11-24T08:17:26+00:00", map_index=1
    )
    run1_t2 = submit(emu, unique("r"), task_id="eval", run_id="manual__2026-11-24T08:17:26+00:00")
    run2 = submit(emu, unique("r"), task_id="train", run_id="manual__other")
    other_dag = submit(
        emu,
        unique("r"),
        dag_id="another_dag",
        task_id="train",
        run_id="manual__2026-11-24T08:17:26+00:00",
    )

    with DAG("ops_dag", schedule=None):
        only_train = BatchTerminateServiceJobsOperator(
            task_id="stop",
            aws_conn_id="emu",
            job_queue=emu.queue_name,
            run_id="manual__2026-11-24T08:17:26+00:00",
            submitting_task_ids=["train"],
            report_only=True,
        )
        whole_run = BatchTerminateServiceJobsOperator(
            task_id="stop2",
            aws_conn_id="emu",
            job_queue=emu.queue_name,
            run_id="manual__2026-11-24T08:17:26+00:00",
        )
    preview = only_train.execute(make_context())
    assert sorted(j["jobId"] for j in preview["jobs"]) == sorted([run1_t1, run1_t1b])
    assert preview["terminated"] == [] and preview["reportOnly"] is True
    assert emu.stats().get("TerminateServiceJobs", 0) == 0

    report = whole_run.execute(make_context())
    assert sorted(report["terminated"]) == sorted([run1_t1, run1_t1b, run1_t2])
    after = statuses(emu, [run1_t1, run1_t2, run2, other_dag])
    assert after[run1_t1] == ("FAILED", True) and after[run1_t2] == ("FAILED", True)
    assert after[run2][0] != "FAILED" and after[other_dag][0] != "FAILED"


def test_terminate_with_nothing_selected_calls_nothing_to_terminate(emu):
    op = BatchTerminateServiceJobsOperator(
        task_id="stop", aws_conn_id="emu", job_queue=emu.queue_name, job_name_prefix="nobody"
    )
    report = op.execute(make_context())
    assert report == {"terminated": [], "errors": [], "jobs": [], "reportOnly": False}
    assert emu.stats().get("TerminateServiceJobs", 0) == 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "job_ids (jobs): nothing selects a job"),
        ({"job_name_prefix": "sweep"}, "job_queue (jobQueue): is required"),
        (
            {"job_queue": "q", "job_name_prefix": "sweep-*"},
            "job_name_prefix (jobNamePrefix): must be 1-127",
        ),
        ({"job_ids": ["a", ""]}, "job_ids (jobs[1]): must be a non-empty job id string"),
        ({"job_ids": {"a": 1}}, "job_ids (jobs): must be a job id or a list"),
        ({"job_queue": "q", "run_id": ""}, "run_id (runId): must be a non-empty string"),
        ({"job_ids": ["a"], "submitting_task_ids": ["t"]}, "give run_id (runId) too"),
        ({"job_ids": ["a"], "reason": "x" * 1001}, "reason: at most 1000 characters"),
    ],
)
def test_terminate_refuses_bad_input_before_any_call(emu, kwargs, words):
    op = BatchTerminateServiceJobsOperator(task_id="stop", aws_conn_id="emu", **kwargs)
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    assert words in str(err.value), str(err.value)
    assert calls(emu) == 0


def test_terminate_chunks_by_fifty(in_process):
    ids = [f"unknown-{i}" for i in range(120)]  # unknown ids count as successful (documented)
    op = BatchTerminateServiceJobsOperator(task_id="stop", aws_conn_id="emu", job_ids=ids)
    report = op.execute(make_context())
    assert report["terminated"] == ids
    assert in_process.stats()["TerminateServiceJobs"] == 3


# -- BatchCreateServiceEnvironmentOperator and BatchServiceEnvironmentSensor ----------------


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
    env = client(emu).describe_service_environments(serviceEnvironments=[name])[
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
    event = run_trigger(trigger)
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
    event = run_trigger(trigger)
    assert event["status"] == "success"
    assert sensor.execute_complete(make_context(), event)["status"] == "VALID"

    set_status("env", name, "CREATING")
    short = BatchServiceEnvironmentTrigger(
        service_environment=name, poll_interval=0.01, max_attempts=3, aws_conn_id="emu"
    )
    event = run_trigger(short)
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
    event = run_trigger(deleted.trigger(3))
    assert event["status"] == "success" and event["value"]["status"] == "DELETED"


def test_environment_sensor_refuses_an_empty_name_before_any_call(emu):
    sensor = BatchServiceEnvironmentSensor(
        task_id="env", aws_conn_id="emu", service_environment="", poke_interval=0.05
    )
    with pytest.raises(AirflowFailException, match="service_environment: must be a non-empty"):
        sensor.execute(make_context())
    assert calls(emu) == 0


def aws_error(code: str, status: int, message: str = "no") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "DescribeServiceEnvironments",
    )


def scripted_describes(monkeypatch, *answers: Any) -> list[Any]:
    """DescribeServiceEnvironments answers in turn (an exception is raised); the last repeats."""
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

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
    return {
        "serviceEnvironmentName": name,
        "serviceEnvironmentArn": f"arn:{name}",
        "status": status,
    }


def test_environment_waits_go_through_a_throttle_and_stop_at_a_refusal(in_process, monkeypatch):
    """The same rule in the three waits: a throttle is asked again, a refusal ends the wait
    (on the worker the AWS exception itself propagates; in the triggerer it is the event)."""
    from botocore.exceptions import ClientError

    throttle, denied = aws_error("ThrottlingException", 400), aws_error("AccessDenied", 403)
    scripted_describes(monkeypatch, throttle, creating("e"), creating("e", "VALID"))
    sensor = BatchServiceEnvironmentSensor(
        task_id="env", aws_conn_id="emu", service_environment="e", poke_interval=0.01, timeout=5
    )
    assert sensor.execute(make_context())["status"] == "VALID"
    event = run_trigger(sensor.trigger(5))
    assert event["status"] == "success"

    scripted_describes(monkeypatch, throttle, denied)
    with pytest.raises(ClientError, match="AccessDenied"):
        sensor.execute(make_context())
    event = run_trigger(sensor.trigger(5))
    assert event["status"] == "failure" and "AccessDenied" in event["message"]
    with pytest.raises(AirflowFailException, match="describing service environment e failed"):
        sensor.execute_complete(make_context(), event)

    scripted_describes(monkeypatch, RuntimeError("no connection"))
    event = run_trigger(sensor.trigger(5))
    assert event["status"] == "failure" and "no connection" in event["message"]


def test_create_environment_sync_wait_gives_up_after_max_retries(in_process, monkeypatch):
    from airflow.providers.common.compat.sdk import AirflowException

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


# -- BatchServiceJobQueueSensor ------------------------------------------------------------


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
    from airflow_batch_service.links.service_operations import BatchServiceJobQueueLink

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
    assert rebuild(trigger).serialize() == trigger.serialize()
    event = run_trigger(trigger)
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
    event = run_trigger(deferred.value.trigger)
    assert event["status"] == "success"
    set_status("queue", in_process.queue_name, "INVALID", "no service environment")
    event = run_trigger(deferred.value.trigger)
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
    from airflow_batch_service.core.operations import ResourceStatus, check_job_queue

    check = check_job_queue("cq", {"jobQueueName": "cq", "status": "VALID", "state": "ENABLED"})
    assert check.outcome is ResourceStatus.FAILED
    assert "not a SAGEMAKER_TRAINING queue" in check.message


# -- provider registration -----------------------------------------------------------------


def test_registered_in_provider_info():
    from airflow_batch_service.get_provider_info import get_provider_info

    info = get_provider_info()
    modules = {
        m
        for section in ("operators", "sensors", "triggers")
        for e in info[section]
        for m in e["python-modules"]
    }
    assert {
        "airflow_batch_service.operators.service_operations",
        "airflow_batch_service.sensors.service_operations",
        "airflow_batch_service.triggers.service_operations",
    } <= modules
    assert {
        "airflow_batch_service.links.service_operations.BatchServiceEnvironmentLink",
        "airflow_batch_service.links.service_operations.BatchServiceJobQueueLink",
    } <= set(info["extra-links"])


# -- the example DAG, end to end -----------------------------------------------------------


SCENARIOS = REPO / "example_dags" / "scenarios" / "emulator.json"


def test_operations_example_dag(airflow_home, batch_emulator_server, monkeypatch, capsys):
    from .test_example_dags_more import _dag, _xcom

    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.1)
    emu.load_scenarios(SCENARIOS)
    emu.reset_stats()
    set_aws_connection(monkeypatch, "emu_examples", emu.region, emu.endpoint_url)
    monkeypatch.setenv("BATCH_SERVICE_CONN_ID", "emu_examples")
    monkeypatch.setenv("BATCH_SERVICE_QUEUE", emu.queue_name)
    monkeypatch.setenv("BATCH_SERVICE_POKE_INTERVAL", "0.1")

    dag_run = _dag(airflow_home, "example_batch_service_operations").test()
    out = capsys.readouterr().out
    tis = {(ti.task_id, ti.map_index): ti for ti in dag_run.get_task_instances()}
    states = {key: str(ti.state).rsplit(".", 1)[-1] for key, ti in tis.items()}

    assert str(dag_run.state).endswith("success"), (states, out[-3000:])
    assert states[("watch_baseline", -1)] == "failed"  # the scripted validation error
    for task in (
        "create_environment",
        "environment_ready",
        "queue_ready",
        "stop_sweep",
        "deprioritize_first_candidate",
    ):
        assert states[(task, -1)] == "success", (task, states)

    batch = emu.client("batch", endpoint_url=emu.endpoint_url)
    arn = tis[("create_environment", -1)].xcom_pull(task_ids="create_environment")
    env = _xcom(tis[("environment_ready", -1)], task_ids="environment_ready")
    assert env["arn"] == arn and env["status"] == "VALID"
    queue = _xcom(tis[("queue_ready", -1)], task_ids="queue_ready")
    assert queue["name"] == emu.queue_name and queue["status"] == "VALID"

    candidates = [
        tis[("submit_candidates", i)].xcom_pull(task_ids="submit_candidates", map_indexes=i)
        for i in (0, 1)
    ]
    assert batch.describe_service_job(jobId=candidates[0])["schedulingPriority"] == 0
    report = _xcom(tis[("stop_sweep", -1)], task_ids="stop_sweep")
    assert sorted(report["terminated"]) == sorted(candidates)
    for job_id in candidates:
        described = batch.describe_service_job(jobId=job_id)
        assert described["status"] == "FAILED" and described["isTerminated"] is True
        assert described["statusReason"].startswith("Airflow: the sweep's baseline failed in run ")
    assert emu.stats()["TerminateServiceJobs"] == 1


def test_importing_the_operations_modules_stays_cheap():
    import subprocess
    import sys

    code = """
import sys, json, boto3
import airflow_batch_service.operators.service_operations
import airflow_batch_service.sensors.service_operations
import airflow_batch_service.triggers.service_operations
import airflow_batch_service._shared.lineage
print(json.dumps({
    "default_session": boto3.DEFAULT_SESSION is not None,
    "validation": "airflow_batch_service.core.validation" in sys.modules,
    "openlineage": any(m.startswith("openlineage") for m in sys.modules),
    "moto": "moto" in sys.modules,
}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "default_session": False,
        "validation": False,
        "openlineage": False,
        "moto": False,
    }
