"""Cancel and reattach on a real scheduler and triggerer: kill, crash-and-retry, deferrable waits.

Each test writes its own small DAG (the settings come from the stack's environment: the
``batch_emulator`` connection and the emulator's queue) and slows the emulator down so the job
is still alive when the test acts on the task.

Tests whose provider feature has not landed yet skip, naming the missing feature; they start
running by themselves once it exists (the probes below look for it).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest

from .stack import AirflowStack

PAYLOAD = """{
    "TrainingJobName": "%(name)s",
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
    "AlgorithmSpecification": {
        "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311",
        "TrainingInputMode": "File",
    },
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/it/"},
    "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}"""

DAG_HEAD = """
import os
from datetime import timedelta

from airflow.sdk import DAG

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

CONN = os.environ["BATCH_SERVICE_CONN_ID"]
QUEUE = os.environ["BATCH_SERVICE_QUEUE"]
"""


def _dag(dag_id: str, body: str) -> str:
    payload = PAYLOAD % {"name": dag_id.replace("_", "-")[:23]}
    return (
        DAG_HEAD
        + f"PAYLOAD = {payload}\n\n"
        + f"with DAG(dag_id={dag_id!r}, schedule=None, catchup=False) as dag:\n"
        + "\n".join("    " + line for line in body.strip().splitlines())
        + "\n"
    )


def _until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    stack: AirflowStack,
    dag_id: str,
    run_id: str,
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(
        f"{what}: not true after {timeout:.0f}s (last {last!r})\n"
        + stack.run_diagnostics(dag_id, run_id)
    )


def _job_id(arn_or_id: str) -> str:
    return arn_or_id.rsplit("/", 1)[-1]


def _status(emulator: Any, job_id: str) -> str:
    return str(emulator.client().describe_service_job(jobId=job_id)["status"])


# ---------------------------------------------------------------- feature probes
def _operator_source() -> str:
    from airflow_batch_service.operators import batch_service

    return inspect.getsource(batch_service)


def _has_durable_submission() -> bool:
    src = _operator_source()
    return any(
        word in src for word in ("task_state_store", "ResumableJobMixin", "list_service_jobs")
    )


def _accepts(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.__init__).parameters


def _has_trigger() -> bool:
    try:
        from airflow_batch_service.triggers import BatchServiceJobTrigger  # noqa: F401
    except ImportError:
        return False
    return True


def _deferrable_missing(kind: str) -> str | None:
    from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
    from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

    if not _has_trigger():
        return "airflow_batch_service.triggers.BatchServiceJobTrigger not implemented yet"
    cls = BatchServiceJobSensor if kind == "sensor" else BatchSubmitServiceJobOperator
    if not _accepts(cls, "deferrable"):
        return f"{cls.__name__} has no deferrable=True yet"
    return None


def _deferred_dag(dag_id: str, kind: str) -> str:
    if kind == "sensor":
        body = f"""
submit = BatchSubmitServiceJobOperator(
    task_id="submit", aws_conn_id=CONN, job_name={dag_id.replace("_", "-")!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD,
)
wait = BatchServiceJobSensor(
    task_id="wait", aws_conn_id=CONN, job_id=submit.output, deferrable=True, poke_interval=1,
    timeout=600,
)
submit >> wait
"""
    else:
        body = f"""
BatchSubmitServiceJobOperator(
    task_id="wait", aws_conn_id=CONN, job_name={dag_id.replace("_", "-")!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD, wait_for_completion=True, deferrable=True, poll_interval=1,
)
"""
    return _dag(dag_id, body)


def _submitted_job(stack: AirflowStack, emulator: Any, dag_id: str, run_id: str, task: str) -> str:
    _until(
        "one SubmitServiceJob",
        lambda: emulator.stats().get("SubmitServiceJob", 0) >= 1,
        90,
        stack,
        dag_id,
        run_id,
    )
    arn = _until(
        f"job_arn XCom of {task}",
        lambda: stack.xcom(dag_id, run_id, task, "job_arn"),
        60,
        stack,
        dag_id,
        run_id,
    )
    return _job_id(str(arn))


# ---------------------------------------------------------------- tests
def test_killing_a_running_submit_terminates_its_job(stack: AirflowStack, emulator: Any) -> None:
    """Marking the task failed while it waits on the worker runs on_kill: the job is terminated."""
    dag_id = "it_kill_running_submit"
    emulator.configure(seconds_per_state=60)  # the job stays queued for minutes
    stack.add_dag_file(
        _dag(
            dag_id,
            f"""
BatchSubmitServiceJobOperator(
    task_id="train", aws_conn_id=CONN, job_name={dag_id.replace("_", "-")!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD, wait_for_completion=True, poll_interval=1, retries=0,
)
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "train", {"running"}, fail_on={"failed", "success"})
    job_id = _submitted_job(stack, emulator, dag_id, run_id, "train")
    assert _status(emulator, job_id) not in ("SUCCEEDED", "FAILED")

    stack.kill_task(dag_id, run_id, "train")

    _until(
        "TerminateServiceJob called",
        lambda: emulator.stats().get("TerminateServiceJob", 0) >= 1,
        90,
        stack,
        dag_id,
        run_id,
    )
    _until(
        f"job {job_id} FAILED after terminate",
        lambda: _status(emulator, job_id) == "FAILED",
        60,
        stack,
        dag_id,
        run_id,
    )
    assert emulator.stats().get("SubmitServiceJob") == 1
    stack.wait_for_run(dag_id, run_id, states={"failed"}, timeout=60)
    # on_kill logs after TerminateServiceJob returns, and the line reaches the file through
    # the task's supervisor: poll, as the emulator may count the call before the line lands.
    _until(
        "on_kill's log line",
        lambda: f"Terminated service job {job_id}" in stack.task_log(dag_id, run_id, "train"),
        30,
        stack,
        dag_id,
        run_id,
    )


def test_a_worker_crash_after_submit_reattaches_on_retry(
    stack: AirflowStack, emulator: Any
) -> None:
    """The first try is SIGKILLed after submitting; the retry must reattach, not submit again."""
    if not _has_durable_submission():
        pytest.skip(
            "durable submission not implemented yet: the submit operator has no "
            "task_state_store / ResumableJobMixin / ListServiceJobs lookup"
        )
    dag_id = "it_crash_reattach"
    emulator.configure(seconds_per_state=2)
    stack.add_dag_file(
        _dag(
            dag_id,
            f"""
BatchSubmitServiceJobOperator(
    task_id="train", aws_conn_id=CONN, job_name={dag_id.replace("_", "-")!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD, wait_for_completion=True, poll_interval=1,
    retries=1, retry_delay=timedelta(seconds=1),
)
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "train", {"running"}, fail_on={"failed", "success"})
    _submitted_job(stack, emulator, dag_id, run_id, "train")

    stack.crash_task(dag_id, run_id, "train")

    # 3.3 fails the try and retries it. 3.0.6 fails the task outright, retries or not: a user
    # then clears it, which is the same second try as far as durable submission is concerned.
    def next_try_or_failed() -> dict[str, Any] | None:
        ti = stack.task_instance(dag_id, run_id, "train")
        return ti if ti["try_number"] >= 2 or ti["state"] == "failed" else None

    ti = _until("a second try (or a failed first)", next_try_or_failed, 90, stack, dag_id, run_id)
    if ti["try_number"] < 2:
        # Clear only once the run has failed too. Clearing while the scheduler is still ending the
        # run loses the race on 3.0.6: the clear resets the task, then the scheduler (which read
        # the failed task a moment before) marks the run failed, and nothing runs the new try.
        stack.wait_for_run(dag_id, run_id, states=("failed",), timeout=60)
        stack.clear_task(dag_id, run_id, "train")
    stack.wait_for_run(dag_id, run_id, timeout=300)
    ti = stack.task_instance(dag_id, run_id, "train")
    assert ti["try_number"] == 2, ti
    stats = emulator.stats()
    assert stats.get("SubmitServiceJob") == 1, stats


@pytest.mark.parametrize("kind", ["sensor", "operator"])
def test_a_deferrable_wait_completes_in_the_triggerer(
    stack: AirflowStack, emulator: Any, kind: str
) -> None:
    missing = _deferrable_missing(kind)
    if missing:
        pytest.skip(missing)
    dag_id = f"it_deferred_{kind}"
    emulator.configure(seconds_per_state=2)  # long enough to see the task deferred
    stack.add_dag_file(_deferred_dag(dag_id, kind), f"{dag_id}.py")
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)

    stack.wait_for_task(dag_id, run_id, "wait", {"deferred"}, fail_on={"failed", "success"})
    stack.wait_for_run(dag_id, run_id, timeout=300)

    assert stack.task_instance(dag_id, run_id, "wait")["state"] == "success"
    trigger_log = stack.trigger_log(dag_id, run_id, "wait")
    assert " starting" in trigger_log, "the wait never ran in the triggerer"
    assert emulator.stats().get("SubmitServiceJob") == 1


def _start_deferred(stack: AirflowStack, emulator: Any, kind: str) -> tuple[str, str, str]:
    dag_id = f"it_kill_deferred_{kind}"
    emulator.configure(seconds_per_state=60)  # the job stays queued for minutes
    stack.add_dag_file(_deferred_dag(dag_id, kind), f"{dag_id}.py")
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "wait", {"deferred"}, fail_on={"failed", "success"})
    job_task = "submit" if kind == "sensor" else "wait"
    job_id = _submitted_job(stack, emulator, dag_id, run_id, job_task)
    # "Deferred" in the database is not yet "running in the triggerer": a task marked failed
    # before the triggerer picks its trigger up gets no on_kill at all (the trigger never ran).
    _until(
        "the trigger running in the triggerer",
        lambda: " starting" in stack.trigger_log(dag_id, run_id, "wait"),
        60,
        stack,
        dag_id,
        run_id,
    )
    return dag_id, run_id, job_id


def test_killing_a_deferred_operator_terminates_its_job(stack: AirflowStack, emulator: Any) -> None:
    """The operator owns its job: marking it failed while deferred terminates the job through
    ``BaseTrigger.on_kill`` (Airflow 3.3+). Before 3.3 there is no such hook and the operator
    documents that the job keeps running: the trigger is just cancelled."""
    missing = _deferrable_missing("operator")
    if missing:
        pytest.skip(missing)
    from airflow.triggers.base import BaseTrigger

    dag_id, run_id, job_id = _start_deferred(stack, emulator, "operator")

    stack.kill_task(dag_id, run_id, "wait")

    if "on_kill" in vars(BaseTrigger):
        _until(
            f"job {job_id} FAILED after the deferred task was killed",
            lambda: _status(emulator, job_id) == "FAILED",
            90,
            stack,
            dag_id,
            run_id,
        )
        assert emulator.stats().get("TerminateServiceJob", 0) >= 1
    else:
        _until(
            "the operator's trigger finished in the triggerer",
            lambda: "trigger completed" in stack.trigger_log(dag_id, run_id, "wait"),
            90,
            stack,
            dag_id,
            run_id,
        )
        assert emulator.stats().get("TerminateServiceJob", 0) == 0
        assert _status(emulator, job_id) not in ("FAILED", "SUCCEEDED")
    stack.wait_for_run(dag_id, run_id, states={"failed"}, timeout=60)


def test_killing_a_deferred_sensor_leaves_the_job_to_its_owner(
    stack: AirflowStack, emulator: Any
) -> None:
    """The sensor documents that killing it never terminates the job (the submitting task owns
    it): once its trigger is gone, the job is still alive and nothing asked to terminate it."""
    missing = _deferrable_missing("sensor")
    if missing:
        pytest.skip(missing)
    dag_id, run_id, job_id = _start_deferred(stack, emulator, "sensor")

    stack.kill_task(dag_id, run_id, "wait")

    stack.wait_for_task(dag_id, run_id, "wait", {"failed"}, timeout=60)
    _until(
        "the sensor's trigger finished in the triggerer",
        lambda: "trigger completed" in stack.trigger_log(dag_id, run_id, "wait"),
        90,
        stack,
        dag_id,
        run_id,
    )
    assert emulator.stats().get("TerminateServiceJob", 0) == 0
    assert _status(emulator, job_id) not in ("FAILED", "SUCCEEDED")
