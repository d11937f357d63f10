"""A sweep of 100 mapped deferrable jobs on a queue with capacity for 8, the API quotas on in
the emulator, its waits split over both triggerers (each can hold 60: ``cluster.TIMINGS``):
0 failures, 0 duplicates, 0 orphans. Each triggerer coalesces its own waits into shared
listing rounds; the Batch calls per job per poll interval are printed (a figure, not a bound:
``docs/production.md`` keeps it)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from .cluster import DistributedStack
from .support import hold_jobs, until, write_dag

SWEEP = 100
CAPACITY = 8
POLL = 2.0


def test_a_100_job_sweep_split_over_two_triggerers(stack: DistributedStack, emulator: Any) -> None:
    dag_id = "dist_sweep_100"
    queue = "dist-sweep-8"
    gate = "dist-sweep-all-deferred"
    emulator.create_queue(queue, max_capacity=CAPACITY)
    emulator.configure(seconds_per_state=2, api_quotas="aws")
    hold_jobs(emulator, "dsw-", RUNNING=gate)
    write_dag(
        stack,
        dag_id,
        f"""
BatchSubmitServiceJobOperator.partial(
    task_id="train", aws_conn_id=CONN, job_queue={queue!r}, service_request_payload=PAYLOAD,
    wait_for_completion=True, deferrable=True, poll_interval={POLL}, stream_logs=False,
).expand(job_name=[f"dsw-{{i}}" for i in range({SWEEP})])
""",
    )
    run_id = stack.trigger(dag_id)

    def owners() -> dict[str, str | None]:
        return stack.trigger_owners(dag_id, run_id)

    split = until(
        f"all {SWEEP} tasks deferred, each trigger on a triggerer",
        lambda: (lambda o: o if len(o) == SWEEP and None not in o.values() else None)(owners()),
        900,
        stack,
        dag_id,
        run_id,
    )
    per_triggerer = Counter(split.values())
    assert len(per_triggerer) == 2, per_triggerer  # the waits really are split
    assert len(emulator.wait_at_gate(gate, CAPACITY)) == CAPACITY
    emulator.reset_stats()  # count the waits' calls from here: all 100 deferred, 8 running
    opened = time.time() * 1000
    emulator.open_gate(gate)
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=900)

    tis = [ti for ti in stack.task_instances(dag_id, run_id) if ti["task_id"] == "train"]
    assert len(tis) == SWEEP and all(ti["state"] == "success" for ti in tis), tis
    client = emulator.client()
    pages = client.get_paginator("list_service_jobs").paginate(
        jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["dsw-*"]}]
    )
    jobs = [job for page in pages for job in page["jobSummaryList"]]
    assert sorted(j["jobName"] for j in jobs) == sorted(f"dsw-{i}" for i in range(SWEEP))
    assert all(j["status"] == "SUCCEEDED" for j in jobs), [
        j for j in jobs if j["status"] != "SUCCEEDED"
    ]
    stats = emulator.stats()
    assert stats.get("SubmitServiceJob", 0) == 0, stats  # every submit was before the reset
    assert stats.get("TerminateServiceJob", 0) == 0, stats
    # Each job's wait from the gate's opening to its end, in poll intervals.
    intervals = sum(max(0.0, (j["stoppedAt"] - opened) / 1000 / POLL) for j in jobs)
    calls = stats.get("DescribeServiceJob", 0) + stats.get("ListServiceJobs", 0)
    print(
        f"two triggerers {dict(per_triggerer)}: {calls} Batch calls "
        f"(DescribeServiceJob {stats.get('DescribeServiceJob', 0)}, ListServiceJobs "
        f"{stats.get('ListServiceJobs', 0)}) over {intervals:.0f} job-intervals: "
        f"{calls / intervals:.3f} calls per job per poll interval"
    )
    assert stats.get("ListServiceJobs", 0) >= 2, stats  # each process shares its rounds
    assert calls < 0.5 * intervals, (calls, intervals)
