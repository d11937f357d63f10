"""Cancel and reattach on a real scheduler and triggerer: kill, crash-and-retry, deferrable waits.

Each test writes its own small DAG (the settings come from the stack's environment: the
``batch_emulator`` connection and the emulator's queue). Where a test acts on a task while its
job is alive, the job waits at a named gate (``support.hold_jobs``) until the test has acted:
the job is alive because the test says so, not because the emulator was slowed down.
"""

from __future__ import annotations

from typing import Any

import pytest

from .stack import AirflowStack
from .support import (
    crash_and_retry,
    dag_source,
    hold_jobs,
    job_name,
    status_of,
    submitted_job,
    trigger_started,
    until,
)


def _deferred_dag(dag_id: str, kind: str) -> str:
    if kind == "sensor":
        body = f"""
submit = BatchSubmitServiceJobOperator(
    task_id="submit", aws_conn_id=CONN, job_name={job_name(dag_id)!r}, job_queue=QUEUE,
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
    task_id="wait", aws_conn_id=CONN, job_name={job_name(dag_id)!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD, wait_for_completion=True, deferrable=True, poll_interval=1,
)
"""
    return dag_source(dag_id, body)


def test_killing_a_running_submit_terminates_its_job(stack: AirflowStack, emulator: Any) -> None:
    """Marking the task failed while it waits on the worker runs on_kill: the job is terminated."""
    dag_id = "it_kill_running_submit"
    hold_jobs(emulator, job_name(dag_id), RUNNABLE="never")  # queued until terminated
    stack.add_dag_file(
        dag_source(
            dag_id,
            f"""
BatchSubmitServiceJobOperator(
    task_id="train", aws_conn_id=CONN, job_name={job_name(dag_id)!r}, job_queue=QUEUE,
    service_request_payload=PAYLOAD, wait_for_completion=True, poll_interval=1, retries=0,
)
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "train", {"running"}, fail_on={"failed", "success"})
    job_id = submitted_job(stack, emulator, dag_id, run_id, "train")
    assert emulator.wait_at_gate("never") == [job_id]

    stack.kill_task(dag_id, run_id, "train")

    until(
        "TerminateServiceJob called",
        lambda: emulator.stats().get("TerminateServiceJob", 0) >= 1,
        90,
        stack,
        dag_id,
        run_id,
    )
    until(
        f"job {job_id} FAILED after terminate",
        lambda: status_of(emulator, job_id) == "FAILED",
        60,
        stack,
        dag_id,
        run_id,
    )
    assert emulator.stats().get("SubmitServiceJob") == 1
    stack.wait_for_run(dag_id, run_id, states={"failed"}, timeout=60)
    # on_kill logs after TerminateServiceJob returns, and the line reaches the file through
    # the task's supervisor: poll, as the emulator may count the call before the line lands.
    until(
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
    """The first try is SIGKILLed after submitting; the retry must reattach, not submit again.
    The job runs on (at a gate) through the crash and the retry's reattach, then finishes."""
    dag_id = "it_crash_reattach"
    hold_jobs(emulator, job_name(dag_id), RUNNING="crash-reattach")
    stack.add_dag_file(
        dag_source(
            dag_id,
            f"""
BatchSubmitServiceJobOperator(
    task_id="train", aws_conn_id=CONN, job_name={job_name(dag_id)!r}, job_queue=QUEUE,
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
    job_id = submitted_job(stack, emulator, dag_id, run_id, "train")
    assert emulator.wait_at_gate("crash-reattach") == [job_id]

    crash_and_retry(stack, dag_id, run_id, "train", job_id)
    assert status_of(emulator, job_id) == "RUNNING"
    emulator.open_gate("crash-reattach")
    stack.wait_for_run(dag_id, run_id, timeout=300)
    ti = stack.task_instance(dag_id, run_id, "train")
    assert (ti["try_number"], ti["state"]) == (2, "success"), ti
    assert stack.xcom(dag_id, run_id, "train") == job_id
    stats = emulator.stats()
    assert stats.get("SubmitServiceJob") == 1, stats


@pytest.mark.parametrize("kind", ["sensor", "operator"])
def test_a_deferrable_wait_completes_in_the_triggerer(
    stack: AirflowStack, emulator: Any, kind: str
) -> None:
    """The job runs (at a gate) until the wait is running in the triggerer; then it finishes
    and the trigger's event completes the task."""
    dag_id = f"it_deferred_{kind}"
    gate = f"deferred-{kind}"
    hold_jobs(emulator, job_name(dag_id), RUNNING=gate)
    stack.add_dag_file(_deferred_dag(dag_id, kind), f"{dag_id}.py")
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)

    stack.wait_for_task(dag_id, run_id, "wait", {"deferred"}, fail_on={"failed", "success"})
    trigger_started(stack, dag_id, run_id, "wait")
    emulator.wait_at_gate(gate)
    emulator.open_gate(gate)
    stack.wait_for_run(dag_id, run_id, timeout=300)

    assert stack.task_instance(dag_id, run_id, "wait")["state"] == "success"
    assert emulator.stats().get("SubmitServiceJob") == 1


def _start_deferred(stack: AirflowStack, emulator: Any, kind: str) -> tuple[str, str, str]:
    dag_id = f"it_kill_deferred_{kind}"
    hold_jobs(emulator, job_name(dag_id), RUNNABLE="never")  # queued until terminated
    stack.add_dag_file(_deferred_dag(dag_id, kind), f"{dag_id}.py")
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "wait", {"deferred"}, fail_on={"failed", "success"})
    job_task = "submit" if kind == "sensor" else "wait"
    job_id = submitted_job(stack, emulator, dag_id, run_id, job_task)
    trigger_started(stack, dag_id, run_id, "wait")
    return dag_id, run_id, job_id


def test_killing_a_deferred_operator_terminates_its_job(stack: AirflowStack, emulator: Any) -> None:
    """The operator owns its job: marking it failed while deferred terminates the job through
    ``BaseTrigger.on_kill`` (Airflow 3.3+). Before 3.3 there is no such hook and the operator
    documents that the job keeps running: the trigger is just cancelled."""
    from airflow.triggers.base import BaseTrigger

    dag_id, run_id, job_id = _start_deferred(stack, emulator, "operator")

    stack.kill_task(dag_id, run_id, "wait")

    if "on_kill" in vars(BaseTrigger):
        until(
            f"job {job_id} FAILED after the deferred task was killed",
            lambda: status_of(emulator, job_id) == "FAILED",
            90,
            stack,
            dag_id,
            run_id,
        )
        assert emulator.stats().get("TerminateServiceJob", 0) >= 1
    else:
        until(
            "the operator's trigger finished in the triggerer",
            lambda: "trigger completed" in stack.trigger_log(dag_id, run_id, "wait"),
            90,
            stack,
            dag_id,
            run_id,
        )
        assert emulator.stats().get("TerminateServiceJob", 0) == 0
        assert status_of(emulator, job_id) == "RUNNABLE"
    stack.wait_for_run(dag_id, run_id, states={"failed"}, timeout=60)


def test_killing_a_deferred_sensor_leaves_the_job_to_its_owner(
    stack: AirflowStack, emulator: Any
) -> None:
    """The sensor documents that killing it never terminates the job (the submitting task owns
    it): once its trigger is gone, the job is still alive and nothing asked to terminate it."""
    dag_id, run_id, job_id = _start_deferred(stack, emulator, "sensor")

    stack.kill_task(dag_id, run_id, "wait")

    stack.wait_for_task(dag_id, run_id, "wait", {"failed"}, timeout=60)
    until(
        "the sensor's trigger finished in the triggerer",
        lambda: "trigger completed" in stack.trigger_log(dag_id, run_id, "wait"),
        90,
        stack,
        dag_id,
        run_id,
    )
    assert emulator.stats().get("TerminateServiceJob", 0) == 0
    assert status_of(emulator, job_id) == "RUNNABLE"
    assert emulator.gates()["waiting"] == {"never": [job_id]}
