"""The retry-strategies and sweep example DAGs, end to end with ``dag.test()`` against the
emulator's HTTP server, driven by the scenario file that ships beside them."""

from __future__ import annotations

from typing import Any

import pytest

from .support_dags import EXAMPLE_SCENARIOS, example_dag, point_example_dags_at, xcom


@pytest.fixture
def example_env(batch_emulator_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.1)
    emu.load_scenarios(EXAMPLE_SCENARIOS)
    emu.reset_stats()
    point_example_dags_at(monkeypatch, emu, "emu_examples")
    return emu


def test_retry_strategies_example(airflow_home: Any, example_env: Any, capsys: Any) -> None:
    dag_run = example_dag(airflow_home, "example_batch_service_retry_strategies").test()
    out = capsys.readouterr().out
    tis = {ti.task_id: ti for ti in dag_run.get_task_instances()}

    # The EXIT-rule failure fails its task for good, with no Airflow retry despite retries=2;
    # the explain task (all_done) still runs, so the run as a whole succeeds.
    assert str(tis["stops_on_validation_error"].state).endswith("failed")
    assert tis["stops_on_validation_error"].try_number == 1
    assert str(tis["recovers_from_internal_error"].state).endswith("success")
    assert str(dag_run.state).endswith("success")
    assert example_env.stats()["SubmitServiceJob"] == 2

    outcomes = xcom(tis["explain"], task_ids="explain")
    assert outcomes["recovers_from_internal_error"] == {
        "status": "SUCCEEDED",
        "attempts": 2,
        "cause": None,
    }
    assert outcomes["stops_on_validation_error"] == {
        "status": "FAILED",
        "attempts": 1,
        "cause": "exit_rule",
    }
    assert (
        'rule 1 RETRY ("Received status from SageMaker: InternalServerError*") matched; Batch queued attempt 2'
        in out
    )
    assert (
        'rule 2 EXIT ("Received status from SageMaker: ValidationException*") matched; the job failed for good'
        in out
    )


def test_sweep_example(
    airflow_home: Any, example_env: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    example_env.create_queue("sweep-fair", fair_share=True)
    monkeypatch.setenv("BATCH_SERVICE_FAIR_SHARE_QUEUE", "sweep-fair")
    # The shipped scenario, as the demo runs it: the lr=0.001 job stays RUNNABLE until its wait
    # has seen it so, loses capacity, and stays RUNNABLE again until its wait has seen that
    # (holdUntilSeen), however late dag.test() reaches that wait.
    dag_run = example_dag(airflow_home, "example_batch_service_sweep").test()
    out = capsys.readouterr().out

    assert str(dag_run.state).endswith("success"), out[-3000:]
    assert example_env.stats()["SubmitServiceJob"] == 3
    collect = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "collect_models")
    models = xcom(collect, task_ids="collect_models")
    assert len(models) == 3
    assert all(uri.startswith("s3://my-bucket/batch-service-example/") for uri in models.values())
    # The best run, picked from XCom alone by the final metric the scenario file scripts.
    pick = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "pick_best")
    best = xcom(pick, task_ids="pick_best")
    assert best["jobName"].startswith("sweep-lr-0-001-") and best["validation:accuracy"] == 0.94
    assert best["model"] == models[best["jobId"]] and best["billableSeconds"] >= 0
    # The scenario file makes the lr=0.001 job lose capacity once; its task log says so.
    assert "Batch requeued it without using an attempt" in out
    batch = example_env.client("batch")
    shares = {batch.describe_service_job(jobId=job_id)["shareIdentifier"] for job_id in models}
    assert shares == {"exploration", "baseline"}


def test_deferrable_example(airflow_home: Any, example_env: Any, capsys: Any, caplog: Any) -> None:
    caplog.set_level("INFO")
    dag_run = example_dag(airflow_home, "example_batch_service_deferrable").test()
    out = capsys.readouterr().out

    assert str(dag_run.state).endswith("success"), out[-3000:]
    assert example_env.stats()["SubmitServiceJob"] == 1
    ti = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "train_deferred")
    summary = xcom(ti, task_ids="train_deferred", key="summary")
    assert summary["status"] == "SUCCEEDED"
    assert ti.xcom_pull(task_ids="train_deferred") == summary["jobId"]
    # dag.test() runs the trigger inline: the deferral happened and the training log came through.
    assert "running trigger in line" in caplog.text
    assert "[attempt 1 algo-1]" in out


def test_function_sweep_example(airflow_home: Any, example_env: Any, capsys: Any) -> None:
    """The decorated sweep: the emulator runs each call of the function; the pick comes from
    the return values alone."""
    example_env.client("s3").create_bucket(Bucket="my-bucket")  # the DAG's default output
    dag_run = example_dag(airflow_home, "example_batch_service_function_sweep").test()
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("success"), out[-3000:]
    assert example_env.stats()["SubmitServiceJob"] == 4
    tis = {(ti.task_id, ti.map_index): ti for ti in dag_run.get_task_instances()}
    runs = [xcom(tis["train", i], task_ids="train", map_indexes=i) for i in range(4)]
    assert [r["learning_rate"] for r in runs] == [0.3, 0.1, 0.03, 0.01]
    assert runs[0]["loss"] < runs[1]["loss"] < runs[2]["loss"] < runs[3]["loss"]
    best = xcom(tis["pick_best", -1], task_ids="pick_best")
    assert best == runs[0]
    assert "epoch 10: weight" in out  # the function's own print, streamed from its job's log
