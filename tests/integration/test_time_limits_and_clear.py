"""Time limits in the deferred wait, and a clear, on a real scheduler and triggerer.

1. ``execution_timeout`` bounds a deferred operator: Airflow does not apply it to a deferred
   task, so the trigger carries it, terminates the job when it passes and fails the task.
2. A clear of a deferred operator task ends as a clear of a running one does: at most one job
   running afterwards, and the new try succeeding. On Airflow 3.3 the old try's trigger kill
   terminates the job (possibly after the new try reattached to it: the new try then submits a
   fresh one); before 3.3 no trigger kill exists, the old job keeps running and the new try
   reattaches to it.
3. The new-try-first order of that race, made certain by pausing the triggerer: the kill
   still terminates the job the new try reattached to, and the new try submits a fresh one.

The jobs wait at named gates (``support.hold_jobs``) instead of in a slowed-down emulator, so
each is alive exactly as long as the test needs it.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

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


def _deferred_train(stack: AirflowStack, dag_id: str, name: str) -> str:
    """Run ``dag_id``: one deferrable operator task ``train`` submitting ``name``, no Airflow
    retries; its run id once the task is deferred."""
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
    return run_id


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
    run_id = _deferred_train(stack, dag_id, name)
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


def test_a_clear_whose_new_try_reattaches_before_the_kill_still_restarts_the_job(
    stack: AirflowStack, emulator: Any
) -> None:
    """The other order of the race above, made certain: the triggerer is paused while the task
    is cleared, so the new try reattaches to the running job and defers on it before the old
    try's trigger is cancelled. The task then reads ``deferred`` on that very job, as after a
    hand-over between triggerers; the ``try_number`` XCom tells the clear apart, the kill
    terminates the job, and the new try submits a fresh one."""
    from airflow.triggers.base import BaseTrigger

    if "on_kill" not in vars(BaseTrigger):
        pytest.skip("Airflow < 3.3 calls no trigger on_kill: the old job is simply reattached")
    dag_id = "it_clear_new_try_first"
    name = job_name(dag_id)
    hold_jobs(emulator, name, RUNNABLE="restarted")
    run_id = _deferred_train(stack, dag_id, name)
    first_job = submitted_job(stack, emulator, dag_id, run_id, "train")
    trigger_started(stack, dag_id, run_id, "train")

    triggerer = stack.procs["triggerer"].proc
    assert triggerer is not None
    stack._signal(triggerer.pid, signal.SIGSTOP, group=True)
    try:
        stack.clear_task(dag_id, run_id, "train")
        until(
            "the new try deferred again while the triggerer is paused",
            lambda: (
                (ti := stack.task_instance(dag_id, run_id, "train"))["try_number"] >= 2
                and ti["state"] == "deferred"
            ),
            180,
            stack,
            dag_id,
            run_id,
        )
        assert f"reattaching to job {first_job}" in stack.task_log(dag_id, run_id, "train")
        assert status_of(emulator, first_job) == "RUNNABLE"
    finally:
        stack._signal(triggerer.pid, signal.SIGCONT, group=True)

    job = until(
        "the old try's kill terminating the job the new try reattached to",
        lambda: (lambda j: j if j["status"] == "FAILED" else None)(
            emulator.client().describe_service_job(jobId=first_job)
        ),
        120,
        stack,
        dag_id,
        run_id,
    )
    assert job.get("isTerminated") is True and "try 1) was killed" in job["statusReason"], job
    assert "new try 2 reattached to this job" in stack.trigger_log(dag_id, run_id, "train")
    emulator.open_gate("restarted")
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)

    ti = stack.task_instance(dag_id, run_id, "train")
    assert ti["try_number"] == 2, ti
    result = stack.xcom(dag_id, run_id, "train")
    assert result != first_job and status_of(emulator, str(result)) == "SUCCEEDED"
    assert emulator.stats().get("SubmitServiceJob") == 2
    assert "submits a fresh job instead of failing" in stack.task_log(dag_id, run_id, "train")
