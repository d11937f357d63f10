"""A user's kill, clear and mark of deferred operator tasks terminate their jobs on two
triggerers, also when they land while every wait is inside an AWS call (held open by the
emulator until the test releases it): the takeover rule (``core.kill_rule``) leaves a job alone
only while its task is still deferred, and a killed, cleared or marked task is not. The same
on one triggerer is ``tests/integration/test_kill_inside_aws_call.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from .cluster import DistributedStack
from .support import component_says, deferred_and_running, host_component, until, write_dag

ACTIONS = {"marked_failed": "failed", "cleared": None, "marked_success": "success"}
SHORT = {"marked_failed": "mf", "cleared": "cl", "marked_success": "ms"}


def _body(prefix: str) -> str:
    return "\n".join(
        f"BatchSubmitServiceJobOperator(task_id={task!r}, aws_conn_id=CONN, job_queue=QUEUE, "
        f'job_name="{prefix}-{SHORT[task]}-try{{{{ ti.try_number }}}}", '
        f'service_request_payload={{**PAYLOAD, "TrainingJobName": "{prefix}-{SHORT[task]}"}}, '
        f"wait_for_completion=True, deferrable=True, poll_interval=1, retries=0)"
        for task in ACTIONS
    )


def test_kill_clear_and_mark_inside_an_aws_call_terminate_on_two_triggerers(
    stack: DistributedStack, emulator: Any
) -> None:
    from airflow.triggers.base import BaseTrigger

    if "on_kill" not in vars(BaseTrigger):
        pytest.skip("Airflow < 3.3 calls no on_kill")
    dag_id, prefix = "dist_kill_in_call", "dkic"
    emulator.load_scenarios(
        {
            "jobs": [
                {"jobName": f"{prefix}-*-try1*", "attempts": [{"result": "HANG"}]},
                {"jobName": f"{prefix}-*", "attempts": [{"result": "SUCCEEDED", "seconds": 1}]},
            ]
        }
    )
    write_dag(stack, dag_id, _body(prefix))
    run_id = stack.trigger(dag_id)
    owners = deferred_and_running(stack, dag_id, run_id, list(ACTIONS))
    print(f"triggers on: {owners}")
    jobs = {
        task: str(stack.xcom(dag_id, run_id, task, "job_arn")).rsplit("/", 1)[-1]
        for task in ACTIONS
    }
    emulator.set_faults({"DescribeServiceJob": {"hold": True}, "ListServiceJobs": {"hold": True}})
    try:
        until(
            "every wait inside a held DescribeServiceJob",
            lambda: emulator.stats().get("held", {}).get("DescribeServiceJob", 0) >= 3,
            90,
            stack,
            dag_id,
            run_id,
        )
        for task, state in ACTIONS.items():
            if state is None:
                stack.clear_task(dag_id, run_id, task)
            else:
                stack.set_task_state(dag_id, run_id, task, state)
        for task in ACTIONS:  # said by on_kill before any await: always in the task's log
            until(
                f"{task}'s on_kill to start",
                lambda task=task: (
                    "asking Airflow whether its task is still deferred"
                    in stack.trigger_log(dag_id, run_id, task)
                ),
                60,
                stack,
                dag_id,
                run_id,
            )

        # The decision: in the task's trigger log, or in its triggerer's own log when Airflow
        # closed the trigger's log first (its repeated cancel cuts on_kill short; the decision
        # runs on in a task of its own).
        def decided(task: str) -> bool:
            needle = "no longer deferred"
            return needle in stack.trigger_log(dag_id, run_id, task) or component_says(
                stack, host_component(owners[task]), needle, dag_id, task
            )

        until(
            "each trigger's on_kill deciding",
            lambda: all(decided(t) for t in ACTIONS),
            120,
            stack,
            dag_id,
            run_id,
        )
    finally:
        emulator.clear_faults()  # releases the held calls
    batch = emulator.client()
    for task, job_id in jobs.items():
        job = until(
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
    stack.wait_for_run(dag_id, run_id, states={"failed", "success"}, timeout=240)
