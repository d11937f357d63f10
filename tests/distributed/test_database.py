"""PostgreSQL as the metadata database: it restarts under deferred waits, and its JSON columns
refuse what SQLite accepts.

- PostgreSQL restarted (a fast shutdown that cuts every session, a few seconds down, started
  again) while operator and sensor waits are deferred: the waits survive; every task succeeds,
  one job each, none terminated. Components that exit on the lost database are started again,
  as their supervisor would.
- A job that succeeds with final metrics ``NaN`` and ``Infinity`` and a status reason with a
  NUL on an earlier attempt: the deferred operator, the operator waiting itself and the
  deferred sensor all succeed (before strict JSON, PostgreSQL refused the event and the XComs),
  and the summary carries the documented representation (``null`` in ``finalMetrics``, the
  spelling in ``finalMetricsNonFinite``).
"""

from __future__ import annotations

import json
from typing import Any

from .cluster import DistributedStack
from .support import (
    deferred_and_running,
    hold_jobs,
    job_name,
    jobs_named,
    operator_tasks,
    sensor_tasks,
    write_dag,
)


def test_deferred_waits_survive_a_postgres_restart(stack: DistributedStack, emulator: Any) -> None:
    dag_id = "dist_pg_restart"
    name = job_name(dag_id)[:18]
    gate = "pg-restarted"
    hold_jobs(emulator, name, RUNNING=gate)
    write_dag(stack, dag_id, operator_tasks(3, name, 2) + "\n" + sensor_tasks(2, name, 2))
    run_id = stack.trigger(dag_id)
    waits = [f"train_{i}" for i in range(3)] + [f"wait_{i}" for i in range(2)]
    deferred_and_running(stack, dag_id, run_id, waits)
    # Airflow's components exit when they lose the database (a scheduler or a triggerer
    # whose heartbeat cannot commit); in production their supervisor (Kubernetes, systemd,
    # MWAA) starts them again, as ``supervised`` does. The waits must not care either way.
    with stack.supervised() as restarted:
        stack.postgres.restart(down_seconds=3)
        stack.wait_for_triggerers(2, timeout=120)
        emulator.open_gate(gate)
        stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)
    print(f"components that exited on the lost database and were started again: {restarted}")
    jobs = jobs_named(emulator, name)
    assert len(jobs) == 5 and all(j["status"] == "SUCCEEDED" for j in jobs), jobs
    assert emulator.stats().get("TerminateServiceJob", 0) == 0


METRICS = {"train:loss": "NaN", "validation:auc": "Infinity", "validation:accuracy": 0.9}


def test_nan_and_infinite_metrics_and_a_nul_reach_postgres_as_strict_json(
    stack: DistributedStack, emulator: Any
) -> None:
    dag_id = "dist_nan_metrics"
    name = job_name(dag_id)[:18]
    emulator.load_scenarios(
        {
            "jobs": [
                {
                    "jobName": f"{name}*",
                    "attempts": [
                        {"result": "FAILED", "statusReason": "OOM\u0000 in rank 0"},
                        {"result": "SUCCEEDED", "metrics": METRICS},
                    ],
                }
            ]
        }
    )
    body = f"""
BatchSubmitServiceJobOperator(
    task_id="deferred", aws_conn_id=CONN, job_queue=QUEUE, job_name="{name}-d",
    service_request_payload=PAYLOAD, retry_strategy={{"attempts": 2}},
    wait_for_completion=True, deferrable=True, poll_interval=1,
)
BatchSubmitServiceJobOperator(
    task_id="waiting", aws_conn_id=CONN, job_queue=QUEUE, job_name="{name}-w",
    service_request_payload=PAYLOAD, retry_strategy={{"attempts": 2}},
    wait_for_completion=True, poll_interval=1,
)
{sensor_tasks(1, name, 1).replace("wait_for_completion=False", "wait_for_completion=False, retry_strategy={'attempts': 2}")}
"""
    write_dag(stack, dag_id, body)
    run_id = stack.trigger(dag_id)
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=300)
    for task in ("deferred", "waiting"):
        summary = stack.xcom(dag_id, run_id, task, "summary")
        result = summary["trainingJob"]
        assert result["finalMetrics"] == {
            "train:loss": None,
            "validation:auc": None,
            "validation:accuracy": 0.9,
        }, result
        assert result["finalMetricsNonFinite"] == {
            "train:loss": "NaN",
            "validation:auc": "Infinity",
        }, result
        json.dumps(summary, allow_nan=False)
    sensed = stack.xcom(dag_id, run_id, "wait_0")
    assert sensed["trainingJob"]["finalMetricsNonFinite"]["train:loss"] == "NaN", sensed
