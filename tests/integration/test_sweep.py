"""Sweeps on a real scheduler and triggerer: a mapped deferrable sweep of 50 jobs on a queue
with capacity for 8, with AWS's API quotas on in the emulator. Every task succeeds, exactly one
job per task, and the emulator's counters show the triggerer's waits sharing listing rounds
instead of describing every job every interval.

The first eight jobs hold their instances (RUNNING, at a gate) until all fifty tasks are
deferred, so the waits overlap in the triggerer however slowly the workers start the mapped
tasks; then the gate opens and the sweep drains."""

from __future__ import annotations

from typing import Any

from .stack import AirflowStack
from .support import dag_source, hold_jobs, until

SWEEP = 50
CAPACITY = 8
POLL = 0.5  # short against the jobs (2 s a state), so sharing rounds shows in the counts


def test_a_50_job_deferrable_sweep_on_8_instances(stack: AirflowStack, emulator: Any) -> None:
    dag_id = "it_sweep_50"
    queue = "it-sweep-8"
    emulator.create_queue(queue, max_capacity=CAPACITY)
    emulator.configure(seconds_per_state=2, api_quotas="aws")
    hold_jobs(emulator, "it-sweep-", RUNNING="sweep-all-deferred")
    stack.add_dag_file(
        dag_source(
            dag_id,
            f"""
BatchSubmitServiceJobOperator.partial(
    task_id="train", aws_conn_id=CONN, job_queue={queue!r}, service_request_payload=PAYLOAD,
    wait_for_completion=True, deferrable=True, poll_interval={POLL}, stream_logs=False,
).expand(job_name=[f"it-sweep-{{i}}" for i in range({SWEEP})])
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)

    def deferred() -> int:
        tis = stack.task_instances(dag_id, run_id)
        return sum(1 for ti in tis if ti["task_id"] == "train" and ti["state"] == "deferred")

    until(f"all {SWEEP} tasks deferred", lambda: deferred() == SWEEP, 600, stack, dag_id, run_id)
    assert len(emulator.wait_at_gate("sweep-all-deferred", CAPACITY)) == CAPACITY
    emulator.open_gate("sweep-all-deferred")
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=780)

    tis = [ti for ti in stack.task_instances(dag_id, run_id) if ti["task_id"] == "train"]
    assert len(tis) == SWEEP and all(ti["state"] == "success" for ti in tis), tis
    client = emulator.client()
    pages = client.get_paginator("list_service_jobs").paginate(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["it-sweep-*"]}]
    )
    jobs = [job for page in pages for job in page["jobSummaryList"]]
    names = sorted(job["jobName"] for job in jobs)
    assert names == sorted(f"it-sweep-{i}" for i in range(SWEEP))  # one job per task
    assert all(job["status"] == "SUCCEEDED" for job in jobs)
    stats = emulator.stats()
    assert stats["SubmitServiceJob"] == SWEEP, stats

    # Coalesced: listing rounds happened, and the waits described less than one call per job
    # per poll interval (what each wait alone spends over its job's lifetime): all fifty waits
    # overlapped in the triggerer while the gate held the sweep, sharing one round an interval.
    polls = sum((job["stoppedAt"] - job["createdAt"]) / 1000 / POLL for job in jobs)
    assert stats.get("ListServiceJobs", 0) >= 6, stats
    assert stats["DescribeServiceJob"] < 0.8 * polls, (stats, polls)
