"""Event-woken waits on two triggerers that read one SQS queue.

SQS gives each message to one reader. Ten deferred waits (operator and sensor) read the
emulator's state-change events from one queue, split over both triggerers, with a
reconciliation poll an hour away: every task ends only because the event of its job reached
the triggerer that runs its wait, which takes the hand-back of messages nobody in the reading
process waits on (``core.events.disposition``).
"""

from __future__ import annotations

import time
from typing import Any

from .cluster import DistributedStack
from .support import (
    deferred_and_running,
    hold_jobs,
    job_name,
    jobs_named,
    operator_tasks,
    sensor_tasks,
    until,
    write_dag,
)

RECONCILE = 3600  # no task of this test may end by polling


def test_waits_on_both_triggerers_end_on_their_events(
    stack: DistributedStack, emulator: Any
) -> None:
    dag_id = "dist_event_waits"
    name = job_name(dag_id)[:18]
    gate = "events-both-triggerers"
    hold_jobs(emulator, name, RUNNING=gate)
    queue_url = emulator.event_queue("dist-events", job_queues=[emulator.queue_name])
    events = f"event_queue={queue_url!r}, reconcile_interval={RECONCILE}"
    body = (
        operator_tasks(5, name, 2).replace("poll_interval=2", f"poll_interval=2, {events}")
        + "\n"
        + sensor_tasks(5, name, 2).replace("poke_interval=2", f"poke_interval=2, {events}")
    )
    write_dag(stack, dag_id, body)
    run_id = stack.trigger(dag_id)
    waits = [f"train_{i}" for i in range(5)] + [f"wait_{i}" for i in range(5)]
    owners = deferred_and_running(stack, dag_id, run_id, waits)
    used = sorted(set(owners.values()))
    print(f"waits per triggerer: { {h: list(owners.values()).count(h) for h in used} }")
    assert len(emulator.wait_at_gate(gate, 10)) == 10
    opened = time.monotonic()
    emulator.open_gate(gate)
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)
    print(f"all 10 waits ended {time.monotonic() - opened:.1f}s after their jobs were let go")

    jobs = jobs_named(emulator, name)
    assert len(jobs) == 10 and all(j["status"] == "SUCCEEDED" for j in jobs), jobs
    for task in waits:
        log = stack.trigger_log(dag_id, run_id, task)
        assert "is SUCCEEDED (event" in log, (task, owners[task], log[-2000:])
    until(
        "each task's log to show the event that ended it",
        lambda: all(
            "Woken by a state-change event" in stack.trigger_log(dag_id, run_id, t) for t in waits
        ),
        60,
        stack,
        dag_id,
        run_id,
    )


def test_a_watcher_starts_a_dag_for_a_boto3_job_with_two_triggerers(
    stack: DistributedStack, emulator: Any
) -> None:
    """The watcher's trigger runs in one of the two triggerers, the other's feed may read
    the message first (its waits share the queue's consumer): the DAG still starts."""
    from integration.test_events import run_watcher

    run_watcher(stack, emulator, "dist_watch_jobs", "dist-watch-events")
