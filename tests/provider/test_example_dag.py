"""The example DAG, end to end with ``dag.test()``, against the emulator's HTTP server through
an ``aws`` connection with ``endpoint_url`` (what a user's local setup looks like)."""

from __future__ import annotations

import json

from .support import set_aws_connection


def test_example_dag_runs_end_to_end(airflow_home, batch_emulator_server, monkeypatch, capsys):
    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.1)
    emu.reset_stats()
    set_aws_connection(monkeypatch, "emu_example", emu.region, emu.endpoint_url)
    monkeypatch.setenv("BATCH_SERVICE_CONN_ID", "emu_example")
    monkeypatch.setenv("BATCH_SERVICE_QUEUE", emu.queue_name)
    monkeypatch.setenv("BATCH_SERVICE_POKE_INTERVAL", "0.1")

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=str(airflow_home / "dags"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("example_batch_service_basic")
    dag_run = dag.test()

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert emu.stats()["SubmitServiceJob"] == 1
    out = capsys.readouterr().out
    (airflow_home / "example_dag_test.log").write_text(out)
    assert "SUCCEEDED after 1 attempt(s)" in out
    assert "Submitting service job example-manual" in out  # once submitted: see the stats
    sensor_ti = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "wait_for_training")
    summary = sensor_ti.xcom_pull(task_ids="wait_for_training")
    if isinstance(summary, str):
        summary = json.loads(summary)
    assert summary["status"] == "SUCCEEDED"

    # Tasks that succeeded log nothing at error level: the submit-only task never has a
    # training job, yet its links must not read XComs that were never pushed.
    assert "XCom not found" not in out
    errors = [line for line in out.splitlines() if "[error" in line]
    assert errors == [], errors

    # The reschedule-mode sensor (one operator object reused between pokes by dag.test(),
    # while Airflow clears its XComs) still has all three links after its success.
    for key, field in (
        ("batch_service_job_details", "job_id"),
        ("batch_service_training_job", "training_job_name"),
        ("batch_service_training_job_logs", "training_job_name"),
    ):
        value = sensor_ti.xcom_pull(task_ids="wait_for_training", key=key)
        if isinstance(value, str):
            value = json.loads(value)
        assert value and value.get(field), (key, value)
