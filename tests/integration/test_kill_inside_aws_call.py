"""A kill, a clear and a mark of a deferred operator that land while its wait is inside an AWS
call terminate the job, on the real triggerer (Airflow 3.3+, where ``BaseTrigger.on_kill``
exists).

The emulator holds the call open (``"hold": true``) until the test releases it, so the user's
action always lands inside it, whatever the machine's load:

- **cached client**: the triggers have looked at their jobs once (their client is built), then
  every DescribeServiceJob (and the queue's shared round, should one run) is held;
- **fresh client**: the triggerer is paused (SIGSTOP) while the tasks defer, STS AssumeRole is
  held, and the triggerer resumes: building the client of a connection with ``role_arn``
  calls AssumeRole inside asgiref's ``sync_to_async``, which dropped the kill's message.

Each case runs one DAG of three deferred operators: one is marked failed, one cleared, one
marked success; the three jobs must be terminated with the operator's kill reason.
"""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

from .stack import AirflowStack
from .support import EMULATOR_CONN_ID
from .support import until as _until

ROLE_CONN_ID = "batch_emulator_role"
ACTIONS = {"marked_failed": "failed", "cleared": None, "marked_success": "success"}
#: Each task's part of its job's name (unique, short: TrainingJobName has 23 characters).
SHORT = {"marked_failed": "mf", "cleared": "cl", "marked_success": "ms"}


def _dag(dag_id: str, conn_id: str, prefix: str) -> str:
    tasks = "\n".join(
        f"""
    BatchSubmitServiceJobOperator(
        task_id={task!r}, aws_conn_id={conn_id!r}, job_queue=QUEUE,
        job_name="{prefix}-{SHORT[task]}-try{{{{ ti.try_number }}}}",
        service_request_payload={{**PAYLOAD, "TrainingJobName": "{prefix}-{SHORT[task]}"}},
        wait_for_completion=True, deferrable=True, poll_interval=1, retries=0,
        stream_logs=False,
    )"""
        for task in ACTIONS
    )
    return f"""
import os

from airflow.sdk import DAG

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

QUEUE = os.environ["BATCH_SERVICE_QUEUE"]
PAYLOAD = {{
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
    "AlgorithmSpecification": {{"TrainingImage": "img", "TrainingInputMode": "File"}},
    "OutputDataConfig": {{"S3OutputPath": "s3://bucket/it/"}},
    "ResourceConfig": {{"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}},
    "StoppingCondition": {{"MaxRuntimeInSeconds": 3600}},
}}

with DAG(dag_id={dag_id!r}, schedule=None, catchup=False) as dag:
{tasks}
"""


def _needs_trigger_on_kill() -> None:
    from airflow.triggers.base import BaseTrigger

    if "on_kill" not in vars(BaseTrigger):
        pytest.skip("Airflow < 3.3 has no BaseTrigger.on_kill: a kill only cancels the wait")


def _role_connection(stack: AirflowStack, emulator: Any) -> None:
    """An ``aws`` connection to the emulator that assumes a role (through the emulator's STS)."""
    stack.api("DELETE", f"/api/v2/connections/{ROLE_CONN_ID}", ok=(200, 204, 404))
    extra = {
        "region_name": emulator.region,
        "endpoint_url": emulator.endpoint_url,
        "role_arn": "arn:aws:iam::123456789012:role/AirflowBatch",
        "service_config": {"sts": {"endpoint_url": emulator.endpoint_url}},
    }
    stack.api(
        "POST",
        "/api/v2/connections",
        {
            "connection_id": ROLE_CONN_ID,
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": json.dumps(extra),
        },
    )


def _job_of(stack: AirflowStack, dag_id: str, run_id: str, task: str) -> str:
    arn = _until(
        f"the job_arn XCom of {task}",
        lambda: stack.xcom(dag_id, run_id, task, "job_arn"),
        60,
        stack,
        dag_id,
        run_id,
    )
    return str(arn).rsplit("/", 1)[-1]


def _act(stack: AirflowStack, dag_id: str, run_id: str, task: str) -> None:
    state = ACTIONS[task]
    if state is None:
        stack.clear_task(dag_id, run_id, task)
    else:
        stack.set_task_state(dag_id, run_id, task, state)


def _run_case(stack: AirflowStack, emulator: Any, client: str) -> None:
    _needs_trigger_on_kill()
    dag_id = f"it_kill_in_call_{client}"
    prefix = f"kic-{client}"
    # Each try's job has its own name: the first tries' jobs hang (the wait must be cut short),
    # the cleared task's second try succeeds at once, so the run ends by itself.
    emulator.configure(seconds_per_state=0.5)
    emulator.load_scenarios(
        {
            "jobs": [
                {"jobName": f"{prefix}-*-try1*", "attempts": [{"result": "HANG"}]},
                {"jobName": f"{prefix}-*", "attempts": [{"result": "SUCCEEDED", "seconds": 1}]},
            ]
        }
    )
    conn_id = EMULATOR_CONN_ID
    if client == "fresh":
        _role_connection(stack, emulator)
        conn_id = ROLE_CONN_ID
    stack.add_dag_file(_dag(dag_id, conn_id, prefix), f"{dag_id}.py")
    stack.wait_for_dag(dag_id)
    triggerer = stack.procs["triggerer"].proc
    assert triggerer is not None
    paused = False
    if client == "fresh":
        # Paused while the tasks defer, so that the hold below is set before the triggerer
        # builds its first client for the connection (and only its AssumeRole is held).
        stack._signal(triggerer.pid, signal.SIGSTOP, group=True)
        paused = True
    try:
        run_id = stack.trigger(dag_id)
        for task in ACTIONS:
            stack.wait_for_task(dag_id, run_id, task, {"deferred"}, fail_on={"failed", "success"})
        jobs = {task: _job_of(stack, dag_id, run_id, task) for task in ACTIONS}
        if client == "fresh":
            emulator.set_faults({"sts:AssumeRole": {"hold": True}})
            stack._signal(triggerer.pid, signal.SIGCONT, group=True)
            paused = False
            _until(
                "the triggerer's AssumeRole held",
                lambda: emulator.stats().get("held", {}).get("sts:AssumeRole"),
                90,
                stack,
                dag_id,
                run_id,
            )
        else:
            # Each trigger has looked once: its client is built and cached.
            _until(
                "each trigger's first look at its job",
                lambda: all(
                    f"service job {prefix}-" in stack.trigger_log(dag_id, run_id, task)
                    for task in ACTIONS
                ),
                90,
                stack,
                dag_id,
                run_id,
            )
            emulator.set_faults(
                {"DescribeServiceJob": {"hold": True}, "ListServiceJobs": {"hold": True}}
            )
            _until(
                "the triggers' next look held",
                lambda: sum(emulator.stats().get("held", {}).values()) >= 1,
                90,
                stack,
                dag_id,
                run_id,
            )
        # Every trigger is past its start and inside the held call's await (or queued behind
        # it for the one shared client build).
        _until(
            "every trigger waiting in the triggerer",
            lambda: all(
                "Waiting for service job" in stack.trigger_log(dag_id, run_id, task)
                for task in ACTIONS
            ),
            60,
            stack,
            dag_id,
            run_id,
        )
        for task in ACTIONS:
            _act(stack, dag_id, run_id, task)
        # Release only once the triggerer has cancelled every trigger: a release before that
        # would let the waits leave the held call first, and the cancels land elsewhere.
        _until(
            "the triggerer cancelling every trigger",
            lambda: all(
                "cancelled by user action" in log or "trigger completed" in log
                for log in (stack.trigger_log(dag_id, run_id, task) for task in ACTIONS)
            ),
            90,
            stack,
            dag_id,
            run_id,
        )
        emulator.clear_faults()  # releases the held calls

        batch = emulator.client()
        for task, job_id in jobs.items():
            job = _until(
                f"{task}'s job {job_id} terminated",
                lambda job_id=job_id: (lambda j: j if j["status"] == "FAILED" else None)(
                    batch.describe_service_job(jobId=job_id)
                ),
                90,
                stack,
                dag_id,
                run_id,
            )
            assert job.get("isTerminated") is True, job
            assert "was killed" in job["statusReason"], job
            assert "invoking on_kill" in stack.trigger_log(dag_id, run_id, task), task
        stack.wait_for_run(dag_id, run_id, states={"failed", "success"}, timeout=180)
    finally:
        if paused:
            stack._signal(triggerer.pid, signal.SIGCONT, group=True)
        emulator.clear_faults()


@pytest.mark.parametrize("client", ["cached", "fresh"])
def test_kill_clear_and_mark_inside_an_aws_call_terminate_the_jobs(
    stack: AirflowStack, emulator: Any, client: str
) -> None:
    _run_case(stack, emulator, client)
