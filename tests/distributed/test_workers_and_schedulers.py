"""Workers and schedulers that die as they do in production.

- A Celery worker SIGKILLed (with every task process it ran) while a submit is inside its AWS
  call, and again while a reschedule-mode sensor is inside its poke: no worker acknowledges
  the tasks, the scheduler fails each try once its heartbeat stops
  (``task_instance_heartbeat_timeout``), and the retry on a new worker reattaches to the job
  the dead try submitted: one job, every task succeeds.
- One of two schedulers SIGKILLed while deferred tasks resume: the other resumes every one,
  exactly once.
"""

from __future__ import annotations

from typing import Any

from .cluster import DistributedStack
from .support import (
    deferred_and_running,
    hold_jobs,
    job_name,
    jobs_named,
    operator_tasks,
    until,
    write_dag,
)


def _held(emulator: Any, operation: str) -> int:
    return int(emulator.stats().get("held", {}).get(operation, 0))


def _task_state(stack: DistributedStack, dag_id: str, run_id: str, task: str) -> str | None:
    return stack.task_instance(dag_id, run_id, task).get("state")


def test_a_killed_worker_s_submit_and_sensor_finish_on_a_new_worker(
    stack: DistributedStack, emulator: Any
) -> None:
    dag_id = "dist_worker_kill"
    name = job_name(dag_id)
    gate = "worker-sensor-poked"
    hold_jobs(emulator, name, RUNNING=gate)
    write_dag(
        stack,
        dag_id,
        f"""
submit = BatchSubmitServiceJobOperator(
    task_id="submit", aws_conn_id=CONN, job_queue=QUEUE, job_name={name!r},
    service_request_payload=PAYLOAD, wait_for_completion=False, retries=2,
    retry_delay=timedelta(seconds=1),
)
submit >> BatchServiceJobSensor(
    task_id="wait", aws_conn_id=CONN, job_id=submit.output, mode="reschedule",
    poke_interval=2, timeout=1800, retries=2, retry_delay=timedelta(seconds=1),
)
""",
    )
    emulator.set_faults({"SubmitServiceJob": {"hold": True}})
    run_id = stack.trigger(dag_id)
    try:
        until("the submit inside its call", lambda: _held(emulator, "SubmitServiceJob") >= 1,
              180, stack, dag_id, run_id)  # fmt: skip
        stack.kill("celery-worker")
    finally:
        emulator.clear_faults()  # the held submit goes on: the job exists, nobody heard back
    stack.start_component("celery-worker")
    until("the submit task done on the new worker",
          lambda: _task_state(stack, dag_id, run_id, "submit") == "success",
          240, stack, dag_id, run_id)  # fmt: skip

    emulator.set_faults({"DescribeServiceJob": {"hold": True}})
    try:
        until("the sensor's poke inside its call",
              lambda: _held(emulator, "DescribeServiceJob") >= 1
              and _task_state(stack, dag_id, run_id, "wait") == "running",
              180, stack, dag_id, run_id)  # fmt: skip
        stack.kill("celery-worker")
    finally:
        emulator.clear_faults()
    stack.start_component("celery-worker")
    emulator.open_gate(gate)
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)

    jobs = jobs_named(emulator, name)
    assert len(jobs) == 1 and jobs[0]["status"] == "SUCCEEDED", jobs  # 0 duplicates
    tries = {t: stack.task_instance(dag_id, run_id, t)["try_number"] for t in ("submit", "wait")}
    assert tries["submit"] >= 2 and tries["wait"] >= 2, tries  # both tries died with the worker
    assert emulator.stats().get("TerminateServiceJob", 0) == 0


def test_a_killed_scheduler_loses_and_repeats_no_resume(
    stack: DistributedStack, emulator: Any
) -> None:
    dag_id = "dist_scheduler_kill"
    name = job_name(dag_id)[:18]
    gate = "scheduler-resume"
    hold_jobs(emulator, name, RUNNING=gate)
    write_dag(stack, dag_id, operator_tasks(6, name, 1))
    run_id = stack.trigger(dag_id)
    tasks = [f"train_{i}" for i in range(6)]
    deferred_and_running(stack, dag_id, run_id, tasks)
    emulator.open_gate(gate)
    try:
        until("the first task resuming",
              lambda: any(_task_state(stack, dag_id, run_id, t) != "deferred" for t in tasks),
              120, stack, dag_id, run_id)  # fmt: skip
        stack.kill("scheduler")
        stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)
    finally:
        stack.start_component("scheduler")
    assert emulator.stats()["SubmitServiceJob"] == 6
    for task in tasks:
        ti = stack.task_instance(dag_id, run_id, task)
        assert ti["state"] == "success" and ti["try_number"] == 1, ti
        worker_log = "\n".join(
            p.read_text(errors="replace")
            for p in stack.task_log_files(dag_id, run_id, task)
            if ".log.trigger." not in p.name
        )
        # Ran twice in a worker, no more: the submit and one resumption after the event,
        # however many schedulers looked at the event.
        assert worker_log.count("::group::Pre Execute") == 2, worker_log
