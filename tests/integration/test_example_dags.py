"""The example DAGs on a real scheduler, against the emulator's HTTP server.

The stack's environment carries ``AIRFLOW_CONN_BATCH_EMULATOR`` (an ``aws`` connection whose
extra has the emulator's ``endpoint_url`` and ``region_name``, login/password ``testing``) and the
settings the example DAGs read (``BATCH_SERVICE_CONN_ID``, ``BATCH_SERVICE_QUEUE``,
``BATCH_SERVICE_POKE_INTERVAL``), so the DAG files are copied in unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from .conftest import REPO
from .stack import AirflowStack

EXAMPLES = REPO / "example_dags"


def test_basic_example_dag_succeeds_with_exactly_one_submit(
    stack: AirflowStack, emulator: Any
) -> None:
    dag_id = "example_batch_service_basic"
    stack.add_dag_file(EXAMPLES / "example_batch_service_basic.py")
    stack.wait_for_dag(dag_id)
    stack.unpause(dag_id)

    started = time.monotonic()
    run_id = stack.trigger(dag_id)
    stack.wait_for_run(dag_id, run_id, timeout=300)
    print(f"\nAirflow {stack.version()}: {dag_id} run took {time.monotonic() - started:.1f}s")

    states = {ti["task_id"]: ti["state"] for ti in stack.task_instances(dag_id, run_id)}
    assert states == {"submit_training": "success", "wait_for_training": "success"}
    stats = emulator.stats()
    assert stats.get("SubmitServiceJob") == 1, stats
    submit_log = stack.task_log(dag_id, run_id, "submit_training")
    assert submit_log.count("Submitting service job example-manual") == 1, submit_log[-3000:]
    sensor_log = stack.task_log(dag_id, run_id, "wait_for_training")
    assert "SUCCEEDED" in sensor_log, sensor_log[-3000:]
