"""Time limits in the deferred wait, and a clear, on a real scheduler and triggerer.

1. ``execution_timeout`` bounds a deferred operator: Airflow does not apply it to a deferred
   task, so the trigger carries it, terminates the job when it passes and fails the task.
2. A clear of a deferred operator task ends as a clear of a running one does: at most one job
   running afterwards, and the new try succeeding. On Airflow 3.3 the old try's trigger kill
   terminates the job (possibly after the new try reattached to it: the new try then submits a
   fresh one); before 3.3 no trigger kill exists, the old job keeps running and the new try
   reattaches to it.

The jobs wait at named gates (``support.hold_jobs``) instead of in a slowed-down emulator, so
each is alive exactly as long as the test needs it.
"""

from __future__ import annotations

from typing import Any

from .stack import AirflowStack
from .support import (
    dag_source,
    hold_jobs,
    job_name,
    status_of,
    submitted_job,
    trigger_started,
    until,
)


def _jobs(emulator: Any, name: str) -> list[dict[str, Any]]:
    client = emulator.client()
    pages = client.get_paginator("list_service_jobs").paginate(
        jobQueue=emulator.queue_name, filters=[{"name": "JOB_NAME", "values": [name]}]
    )
    return [job for page in pages for job in page["jobSummaryList"]]


def test_execution_timeout_bounds_a_deferred_operator(stack: AirflowStack, emulator: Any) -> None:
    dag_id = "it_exec_timeout_deferred"
    name = job_name(dag_id)
    hold_jobs(emulator, name, RUNNABLE="never")  # queued until something terminates it
    stack.add_dag_file(
        dag_source(
            dag_id,
            f"""
BatchSubmitServiceJobOperator(
    task_id="train", aws_conn_id=CONN, job_name={name!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD, wait_for_completion=True, deferrable=True,
    poll_interval=1, retries=0, execution_timeout=timedelta(seconds=8),
)
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "train", {"deferred"}, fail_on={"failed", "success"})
    job_id = submitted_job(stack, emulator, dag_id, run_id, "train")

    # The job would wait at its gate for ever: only the deadline can end this run.
    stack.wait_for_run(dag_id, run_id, states={"failed"}, timeout=180)
    job = emulator.client().describe_service_job(jobId=job_id)
    assert job["status"] == "FAILED" and job["isTerminated"] is True, job
    log = stack.task_log(dag_id, run_id, "train")
    assert "execution_timeout=0:00:08 applies" in log, log[-3000:]
    assert "exceeded execution_timeout=0:00:08" in log, log[-3000:]
    assert emulator.stats().get("SubmitServiceJob") == 1


def test_clearing_a_deferred_operator_leaves_one_job_and_the_new_try_succeeds(
    stack: AirflowStack, emulator: Any
) -> None:
    from airflow.triggers.base import BaseTrigger

    dag_id = "it_clear_deferred_operator"
    name = job_name(dag_id)
    hold_jobs(emulator, name, RUNNABLE="cleared")  # queued until the test has cleared the task
    stack.add_dag_file(
        dag_source(
            dag_id,
            f"""
BatchSubmitServiceJobOperator(
    task_id="train", aws_conn_id=CONN, job_name={name!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD, wait_for_completion=True, deferrable=True,
    poll_interval=1, retries=0,
)
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "train", {"deferred"}, fail_on={"failed", "success"})
    first_job = submitted_job(stack, emulator, dag_id, run_id, "train")
    trigger_started(stack, dag_id, run_id, "train")

    has_trigger_kill = "on_kill" in vars(BaseTrigger)
    if has_trigger_kill:
        # 3.3: the old try's trigger kill terminates the first job, while the new try looks for
        # it. Were the new try to find it still alive, it would defer on it and resume at once
        # when the kill lands, a resume so quick that a loaded scheduler may read the deferring
        # workload's exit as a task that "finished while running" and fail it (Airflow's race,
        # not ours). So the new try's lookup (and the old wait's poll) is held until the kill
        # has terminated the job: the new try then always submits a fresh one.
        emulator.set_faults(
            {"DescribeServiceJob": {"hold": True}, "ListServiceJobs": {"hold": True}}
        )

    stack.clear_task(dag_id, run_id, "train")

    if has_trigger_kill:
        until(
            "the old try's kill terminating the first job",
            lambda: emulator.stats().get("TerminateServiceJob", 0) >= 1,
            120,
            stack,
            dag_id,
            run_id,
        )
        emulator.clear_faults()  # releases the held calls
        assert status_of(emulator, first_job) == "FAILED"
    else:
        # 3.0-3.2: nothing terminates the old job; the new try reattaches to it.
        until(
            "the new try deferred again",
            lambda: (
                stack.task_instance(dag_id, run_id, "train")["try_number"] >= 2
                and stack.task_instance(dag_id, run_id, "train")["state"] == "deferred"
            ),
            120,
            stack,
            dag_id,
            run_id,
        )
    emulator.open_gate("cleared")
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)

    ti = stack.task_instance(dag_id, run_id, "train")
    assert ti["try_number"] == 2, ti
    jobs = {job["jobId"]: job for job in _jobs(emulator, name)}
    running = [j for j in jobs.values() if j["status"] not in ("SUCCEEDED", "FAILED")]
    assert running == [], running  # at most one job ran on; none is left behind
    result = stack.xcom(dag_id, run_id, "train")
    if has_trigger_kill:
        # The old job was terminated by the old try's kill; the new try ran a fresh one.
        assert status_of(emulator, first_job) == "FAILED"
        assert jobs[first_job].get("isTerminated") is True
        assert result != first_job and jobs[str(result)]["status"] == "SUCCEEDED"
        assert emulator.stats().get("SubmitServiceJob") == 2
    else:
        assert result == first_job and status_of(emulator, first_job) == "SUCCEEDED"
        assert emulator.stats().get("SubmitServiceJob") == 1
