"""The model asset on a real scheduler: the training DAG's success schedules the evaluation
DAG by itself, and the evaluation task reads the asset event's extra.

The example file (``example_dags/example_batch_service_model_asset.py``) is copied in
unchanged; the emulator's scenario gives the training job final metrics, one of them NaN, so
the extra's strict-JSON form goes through Airflow's database, the scheduler and the evaluation
task's XCom.
"""

from __future__ import annotations

from typing import Any

from .conftest import REPO
from .stack import AirflowStack
from .support import until

EXAMPLE = REPO / "example_dags" / "example_batch_service_model_asset.py"
TRAIN, EVALUATE = "example_batch_service_train_model", "example_batch_service_evaluate_model"
MODEL = "s3://my-bucket/batch-service-example/model-asset"


def _asset_runs(stack: AirflowStack) -> list[dict[str, Any]]:
    got = stack.api("GET", f"/api/v2/dags/{EVALUATE}/dagRuns", params={"limit": 100})
    return [r for r in got.get("dag_runs", []) if r.get("run_type") == "asset_triggered"]


def test_a_trained_model_schedules_its_evaluation(stack: AirflowStack, emulator: Any) -> None:
    emulator.load_scenarios(
        {
            "jobs": [
                {
                    "jobName": "train-model-*",
                    "attempts": [
                        {
                            "result": "SUCCEEDED",
                            "metrics": {"validation:accuracy": 0.93, "train:loss": "NaN"},
                        }
                    ],
                }
            ]
        }
    )
    stack.add_dag_file(EXAMPLE)
    stack.wait_for_dag(TRAIN)
    stack.wait_for_dag(EVALUATE)
    stack.unpause(EVALUATE)
    stack.unpause(TRAIN)
    assert _asset_runs(stack) == []

    run_id = stack.trigger(TRAIN)
    stack.wait_for_run(TRAIN, run_id, timeout=300)
    job_id = stack.xcom(TRAIN, run_id, "train_model")
    training = stack.xcom(TRAIN, run_id, "train_model", "training_job")
    assert job_id and training, (job_id, training)

    # The scheduler starts the evaluation on its own, from the asset event.
    (evaluation,) = until(
        "an asset-triggered run of the evaluation DAG",
        lambda: _asset_runs(stack),
        180,
        stack,
        TRAIN,
        run_id,
    )
    eval_run = evaluation["dag_run_id"]
    stack.wait_for_run(EVALUATE, eval_run, timeout=300)

    result = stack.xcom(EVALUATE, eval_run, "evaluate_model")
    assert result == {
        "model_uri": training["modelArtifacts"],
        "final_metrics": {"validation:accuracy": 0.93, "train:loss": None},
        "billable_seconds": training["billableTimeInSeconds"],
        "job_id": job_id,
        "training_job_name": training["trainingJobName"],
    }, result
    assert result["model_uri"].startswith(MODEL + "/")
    log = stack.task_log(EVALUATE, eval_run, "evaluate_model")
    assert f"model {training['modelArtifacts']} from training job" in log, log[-3000:]

    # The event as Airflow stored it: the extra, strict JSON (the NaN metric spelled apart).
    events = stack.api(
        "GET", "/api/v2/assets/events", params={"source_dag_id": TRAIN, "source_run_id": run_id}
    )["asset_events"]
    (event,) = events
    assert event["uri"] == MODEL and event["source_task_id"] == "train_model"
    extra = event["extra"]
    assert extra["job_id"] == job_id and extra["status"] == "SUCCEEDED"
    assert extra["final_metrics_non_finite"] == {"train:loss": "NaN"}
    assert extra["attempts"] == 1 and extra["job_queue"] == "test-queue"
    assert emulator.stats().get("SubmitServiceJob") == 1
