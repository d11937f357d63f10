"""The example DAG, end to end with ``dag.test()``, against the emulator's HTTP server through
an ``aws`` connection with ``endpoint_url`` (what a user's local setup looks like)."""

from __future__ import annotations

from .support_dags import example_dag, point_example_dags_at, xcom


def test_example_dag_runs_end_to_end(airflow_home, batch_emulator_server, monkeypatch, capsys):
    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.1)
    emu.reset_stats()
    point_example_dags_at(monkeypatch, emu, "emu_example")

    dag_run = example_dag(airflow_home, "example_batch_service_basic").test()

    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS")
    assert emu.stats()["SubmitServiceJob"] == 1
    out = capsys.readouterr().out
    (airflow_home / "example_dag_test.log").write_text(out)
    assert "SUCCEEDED after 1 attempt(s)" in out
    assert "Submitting service job example-manual" in out  # once submitted: see the stats
    sensor_ti = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "wait_for_training")
    summary = xcom(sensor_ti, task_ids="wait_for_training")
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
        value = xcom(sensor_ti, task_ids="wait_for_training", key=key)
        assert value and value.get(field), (key, value)
