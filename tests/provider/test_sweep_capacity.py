"""A 12-job sweep (the sweep example) on a queue with 4 instances, run with ``dag.test()``
through the provider against the emulator's HTTP server: Batch's capacity rules hold the
rest back, at most 4 jobs are active at once, and all 12 succeed (three rounds of 10 s runs:
twice the submissions the queue can hold, at half the wall time of the 20-job version)."""

from __future__ import annotations

from typing import Any

import pytest

from .support import scenario, set_aws_connection, succeeded
from .support_dags import example_dag, xcom

SWEEP = 12
CAPACITY = 4


def active_intervals(jobs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """[scheduledAt, stoppedAt) of each job: when it held capacity (one try per job here)."""
    return [(j["scheduledAt"], j["stoppedAt"]) for j in jobs]


def peak(intervals: list[tuple[int, int]]) -> int:
    """Most intervals overlapping at any instant (an end and a start at the same ms do not)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, delta in edges:
        current += delta
        best = max(best, current)
    return best


def test_peak_helper() -> None:
    assert peak([(0, 10), (10, 20)]) == 1
    assert peak([(0, 10), (5, 20), (6, 7)]) == 3


def test_a_twelve_job_sweep_on_four_instances(
    airflow_home: Any, batch_emulator_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.2)
    # Each training run lasts 10 s, so the sweep is submitted faster than it drains, even where
    # dag.test() submits slowly (Airflow 3.1.8 starts a mapped task every ~1.7 s: 6 s runs
    # then never overlapped more than 4, and nobody waited; at 1.7 s the 5th of 12 jobs is
    # submitted at ~7 s, before the first 10 s run frees an instance).
    emu.load_scenarios(scenario("sweep-*", succeeded(seconds=10)))
    emu.create_queue("sweep-small", fair_share=True, max_capacity=CAPACITY)
    set_aws_connection(monkeypatch, "emu_sweep", emu.region, emu.endpoint_url)
    monkeypatch.setenv("BATCH_SERVICE_CONN_ID", "emu_sweep")
    monkeypatch.setenv("BATCH_SERVICE_FAIR_SHARE_QUEUE", "sweep-small")
    monkeypatch.setenv("BATCH_SERVICE_POKE_INTERVAL", "0.2")
    monkeypatch.setenv("BATCH_SERVICE_SWEEP_SIZE", str(SWEEP))

    dag_run = example_dag(airflow_home, "example_batch_service_sweep").test()
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("success"), out[-3000:]

    batch = emu.client("batch")
    pages = batch.get_paginator("list_service_jobs").paginate(
        jobQueue="sweep-small", filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}]
    )
    ids = [s["jobId"] for page in pages for s in page["jobSummaryList"]]
    jobs = [batch.describe_service_job(jobId=job_id) for job_id in ids]
    assert len(jobs) == SWEEP
    assert [j["status"] for j in jobs] == ["SUCCEEDED"] * SWEEP
    assert all(len(j["attempts"]) == 1 and "preemptionSummary" not in j for j in jobs)
    # Never more than the service environment's 4 instances at once, and the queue was full:
    # jobs waited in RUNNABLE for capacity and started as others finished.
    assert peak(active_intervals(jobs)) == CAPACITY
    # Someone waited for capacity: far longer than the 0.4 s (two states) a job takes to be
    # scheduled when capacity is free; and every job that waited started the instant another
    # job ended and freed its instance. (How many waited depends on how fast dag.test()
    # submits, which differs between Airflow versions; that some did, and how they started,
    # does not.)
    ends = {j["stoppedAt"] for j in jobs}
    waited = [j for j in jobs if j["scheduledAt"] - j["createdAt"] > 1000]
    assert waited, [(j["createdAt"], j["scheduledAt"], j["stoppedAt"]) for j in jobs]
    late = [j["jobName"] for j in waited if j["scheduledAt"] not in ends]
    assert not late, f"jobs that waited for capacity should start the instant it frees: {late}"
    assert batch.get_job_queue_snapshot(jobQueue="sweep-small")["frontOfQueue"]["jobs"] == []
    collect = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "collect_models")
    assert len(xcom(collect, task_ids="collect_models")) == SWEEP
