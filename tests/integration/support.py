"""What the real-stack tests share: their DAG files, bounded waits, and gated jobs.

A real scheduler and triggerer take the time they take, so nothing here bets on it:

- :func:`until` waits for a named condition with a generous bound; when the bound passes, the
  error says what was awaited, what was last seen, and the run's diagnostics.
- :func:`hold_jobs` scripts the emulator so a DAG's jobs wait at a named gate in a status
  (``holdUntilReleased``): the job stays there, however slow the machine, until the test has
  done what it tests and opens the gate (``emulator.open_gate``). No test slows the emulator
  down to keep a job alive "long enough".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

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


#: The ``aws`` connection the real stacks' DAGs use, pointing at the emulator's HTTP server.
EMULATOR_CONN_ID = "batch_emulator"


def emulator_env(server: Any, poke_interval: str = "2") -> dict[str, str]:
    """A real stack's environment for the emulator ``server``: the ``batch_emulator`` aws
    connection pointing at it, dummy credentials, and the settings the example DAGs read."""
    from airflow_batch_service.emulator.connection import (  # lazy: boto3 only with a stack
        aws_connection_json,
    )
    from airflow_batch_service.emulator.pytest_plugin import QUEUE_NAME  # lazy: as above

    return {
        f"AIRFLOW_CONN_{EMULATOR_CONN_ID.upper()}": aws_connection_json(
            server.endpoint_url, server.region
        ),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": server.region,
        "BATCH_SERVICE_CONN_ID": EMULATOR_CONN_ID,
        "BATCH_SERVICE_QUEUE": QUEUE_NAME,
        "BATCH_SERVICE_POKE_INTERVAL": poke_interval,
    }


def job_name(dag_id: str) -> str:
    """The job name a test DAG submits under: its DAG id, as Batch allows it."""
    return dag_id.replace("_", "-")


def dag_source(dag_id: str, body: str) -> str:
    """A DAG file: ``DAG_HEAD``, the payload, and ``body`` (the tasks) inside the DAG."""
    payload = PAYLOAD % {"name": job_name(dag_id)[:23]}
    return (
        DAG_HEAD
        + f"PAYLOAD = {payload}\n\n"
        + f"with DAG(dag_id={dag_id!r}, schedule=None, catchup=False) as dag:\n"
        + "\n".join("    " + line for line in body.strip().splitlines())
        + "\n"
    )


def until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    stack: AirflowStack,
    dag_id: str,
    run_id: str,
) -> Any:
    """``check()``'s first truthy value; an AssertionError naming ``what`` and the last value
    seen, with the run's diagnostics, if none came within ``timeout`` seconds."""
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


def job_id_of(arn_or_id: str) -> str:
    return arn_or_id.rsplit("/", 1)[-1]


def status_of(emulator: Any, job_id: str) -> str:
    return str(emulator.client().describe_service_job(jobId=job_id)["status"])


def hold_jobs(emulator: Any, name: str, **gates: str) -> None:
    """Every job whose name starts with ``name`` waits, in each status given, at the gate
    named (``hold_jobs(emulator, "it-x", RUNNING="it-x-trained")``), then succeeds."""
    emulator.load_scenarios(
        {
            "jobs": [
                {
                    "jobName": f"{name}*",
                    "attempts": [{"result": "SUCCEEDED", "holdUntilReleased": dict(gates)}],
                }
            ]
        }
    )


def submitted_job(stack: AirflowStack, emulator: Any, dag_id: str, run_id: str, task: str) -> str:
    """The id of the job ``task`` submitted, once the emulator counted the submit and the task
    pushed its ``job_arn`` XCom."""
    until(
        "one SubmitServiceJob",
        lambda: emulator.stats().get("SubmitServiceJob", 0) >= 1,
        90,
        stack,
        dag_id,
        run_id,
    )
    arn = until(
        f"job_arn XCom of {task}",
        lambda: stack.xcom(dag_id, run_id, task, "job_arn"),
        60,
        stack,
        dag_id,
        run_id,
    )
    return job_id_of(str(arn))


def trigger_started(
    stack: AirflowStack, dag_id: str, run_id: str, task: str, map_indexes: Sequence[int] = (-1,)
) -> None:
    """Wait until ``task``'s trigger (each mapped instance's, for ``map_indexes``) runs in the
    triggerer ("deferred" in the database is not yet that: a task killed before the triggerer
    picks its trigger up gets no ``on_kill``), and the scheduler has heard from the executor
    that each deferring process ended.

    The second half matters when a test then lets the job finish: on a loaded machine the
    deferring process can outlive a short job, and Airflow 3.0.6 fails a task whose trigger
    fired before the executor's "success" for that process arrived (the task is queued again
    by then, and the late event is taken for an external state change)."""
    until(
        f"{len(map_indexes)} trigger(s) running in the triggerer",
        lambda: stack.trigger_log(dag_id, run_id, task).count(" starting") >= len(map_indexes),
        60,
        stack,
        dag_id,
        run_id,
    )
    key = f"TaskInstanceKey(dag_id='{dag_id}', task_id='{task}', run_id='{run_id}'"

    def heard(map_index: int) -> bool:
        return any(
            "Received executor event" in line and key in line and f"map_index={map_index})" in line
            for line in stack.component_log("scheduler").splitlines()
        )

    until(
        "the scheduler receiving the executor's event for each deferring process",
        lambda: all(heard(index) for index in map_indexes),
        120,
        stack,
        dag_id,
        run_id,
    )


def crash_and_retry(stack: AirflowStack, dag_id: str, run_id: str, task: str, job_id: str) -> None:
    """SIGKILL ``task``'s running try and wait until its second try has reattached to
    ``job_id``. Airflow 3.3 retries a crashed try (the task needs ``retries``); 3.0.6 fails the
    task outright, retries or not, and a user clears it: the same second try as far as durable
    submission is concerned."""
    stack.crash_task(dag_id, run_id, task)

    def next_try_or_failed() -> dict[str, Any] | None:
        ti = stack.task_instance(dag_id, run_id, task)
        return ti if ti["try_number"] >= 2 or ti["state"] == "failed" else None

    ti = until("a second try (or a failed first)", next_try_or_failed, 90, stack, dag_id, run_id)
    if ti["try_number"] < 2:
        # Clear only once the run has failed too. Clearing while the scheduler is still ending
        # the run loses the race on 3.0.6: the clear resets the task, then the scheduler (which
        # read the failed task a moment before) marks the run failed, and nothing runs the try.
        stack.wait_for_run(dag_id, run_id, states=("failed",), timeout=60)
        stack.clear_task(dag_id, run_id, task)
    until(
        "the second try reattached to the running job",
        lambda: (
            f"reattaching to job {job_id}" in stack.task_log(dag_id, run_id, task, try_number=2)
        ),
        120,
        stack,
        dag_id,
        run_id,
    )
