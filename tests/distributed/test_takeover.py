"""Deferred waits moving between two triggerers: adopted after a crash, handed back after a
stall, and never a healthy job terminated by the hand-over.

- A SIGKILLed triggerer stops heartbeating; after ``triggerer_health_check_threshold`` the
  other adopts its triggers, rebuilds each from its kwargs and waits on: every task succeeds,
  one job each, none terminated, and the adopted wait does not repeat its log.
- A triggerer stalled (SIGSTOP) past the threshold loses its triggers to the other; resumed,
  Airflow 3.3.2 cancels its copies with the "user action" message that calls ``on_kill``. The
  operator's trigger asks Airflow, finds the task still deferred, and leaves the job to the
  triggerer that owns it now: whether the cancel lands while the wait sleeps or while it is
  inside an AWS call (held open by the emulator until the test releases it).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from .cluster import DistributedStack
from .support import (
    busiest,
    component_says,
    deferred_and_running,
    hold_jobs,
    host_component,
    job_name,
    jobs_named,
    operator_tasks,
    sensor_tasks,
    triggerer_log,
    until,
    write_dag,
)


def _needs_trigger_on_kill() -> None:
    from airflow.triggers.base import BaseTrigger

    if "on_kill" not in vars(BaseTrigger):
        pytest.skip("Airflow < 3.3 calls no on_kill: a hand-over cannot terminate anything")


def _adopted(
    stack: DistributedStack, dag_id: str, run_id: str, moved: list[str], survivor: str
) -> None:
    until(
        f"{moved} adopted by {survivor}",
        lambda: all(stack.trigger_owners(dag_id, run_id).get(t) == survivor for t in moved),
        120,
        stack,
        dag_id,
        run_id,
    )


def test_a_killed_triggerers_waits_are_adopted(stack: DistributedStack, emulator: Any) -> None:
    dag_id = "dist_triggerer_sigkill"
    name = job_name(dag_id)[:18]
    gate = "sigkill-adopted"
    hold_jobs(emulator, name, RUNNING=gate)
    write_dag(stack, dag_id, operator_tasks(5, name, 2) + "\n" + sensor_tasks(5, name, 2))
    run_id = stack.trigger(dag_id)
    waits = [f"train_{i}" for i in range(5)] + [f"wait_{i}" for i in range(5)]
    owners = deferred_and_running(stack, dag_id, run_id, waits)
    victim = busiest(owners)
    survivor = next(h for h in stack.live_triggerers() if h != victim)
    moved = [t for t, h in owners.items() if h == victim]
    survivor_job = stack.live_triggerers()[survivor]

    started = time.monotonic()
    stack.kill(host_component(victim))
    try:
        _adopted(stack, dag_id, run_id, moved, survivor)
        adoption = time.monotonic() - started
        until(
            "the adopted triggers running in the survivor",
            lambda: all(
                " starting" in triggerer_log(stack, dag_id, run_id, t, survivor_job) for t in moved
            ),
            120,
            stack,
            dag_id,
            run_id,
        )
        print(f"{len(moved)} of 10 waits adopted {adoption:.1f}s after the SIGKILL")
        emulator.open_gate(gate)
        stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)
    finally:
        stack.start_component(host_component(victim))

    jobs = jobs_named(emulator, name)
    assert len(jobs) == 10 and all(j["status"] == "SUCCEEDED" for j in jobs), jobs
    stats = emulator.stats()
    assert stats["SubmitServiceJob"] == 10, stats
    assert stats.get("TerminateServiceJob", 0) == 0, stats
    # Rebuilt from its kwargs, an adopted wait goes on from where it was: its log in the
    # survivor is a few lines, not a replay of everything or a flood of repeats.
    for task in moved:
        lines = triggerer_log(stack, dag_id, run_id, task, survivor_job).splitlines()
        assert len(lines) < 40, (task, lines)


@pytest.mark.parametrize("where", ["sleeping", "in_aws_call"])
def test_a_stalled_triggerer_that_resumes_leaves_the_adopted_jobs(
    stack: DistributedStack, emulator: Any, where: str
) -> None:
    _needs_trigger_on_kill()
    dag_id = f"dist_stall_{where}"
    name = job_name(dag_id)[:18]
    gate = f"stall-{where}"
    hold_jobs(emulator, name, RUNNING=gate)
    # Sleeping: an 8 s poll interval puts each wait in its sleep all but a few milliseconds
    # of it. Inside a call: a 1 s interval, then every DescribeServiceJob is held open until
    # released.
    poll = 8 if where == "sleeping" else 1
    write_dag(stack, dag_id, operator_tasks(3, name, poll))
    run_id = stack.trigger(dag_id)
    tasks = [f"train_{i}" for i in range(3)]
    owners = deferred_and_running(stack, dag_id, run_id, tasks)
    victim = busiest(owners)
    survivor = next(h for h in stack.live_triggerers() if h != victim)
    victim_job = stack.live_triggerers()[victim]
    moved = [t for t, h in owners.items() if h == victim]
    component = host_component(victim)

    if where == "in_aws_call":
        emulator.set_faults({"DescribeServiceJob": {"hold": True}})
        until(
            "every wait inside a held DescribeServiceJob",
            lambda: emulator.stats().get("held", {}).get("DescribeServiceJob", 0) >= 3,
            90,
            stack,
            dag_id,
            run_id,
        )
    stack.pause(component)
    try:
        _adopted(stack, dag_id, run_id, moved, survivor)
    finally:
        stack.resume(component)
    # The resumed triggerer's log of the trigger, or its process's own output: the decision
    # runs in a task of its own that Airflow's repeated cancel does not stop, and when it ends
    # after Airflow closed the trigger's log file, its line lands in the process's log.
    left = "cancelled as a kill, but the task is still deferred"

    def says_left(task: str) -> bool:
        return left in triggerer_log(stack, dag_id, run_id, task, victim_job) or component_says(
            stack, component, left, dag_id, task
        )

    try:
        until(
            f"the resumed {component} leaving each job it lost",
            lambda: all(says_left(t) for t in moved),
            120,
            stack,
            dag_id,
            run_id,
        )
    finally:
        emulator.clear_faults()  # releases the held calls
    emulator.open_gate(gate)
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)

    stats = emulator.stats()
    assert stats.get("TerminateServiceJob", 0) == 0, stats
    jobs = jobs_named(emulator, name)
    assert len(jobs) == 3 and all(j["status"] == "SUCCEEDED" for j in jobs), jobs
    for task in moved:
        log = triggerer_log(stack, dag_id, run_id, task, victim_job)
        assert "invoking on_kill" in log, log  # Airflow did take it for a kill
    assert (
        not [  # the process's log holds earlier tests' lines too: this DAG's only
            line
            for line in stack.component_log(component).splitlines()
            if "Terminated service job" in line and f"dag_id={dag_id} " in line
        ]
    )
