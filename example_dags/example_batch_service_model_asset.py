"""The trained model as an Airflow asset: one DAG trains, the next is scheduled by its model.

``example_batch_service_train_model`` submits a training job and waits for it
(``wait_for_completion=True``) with ``model_asset``: the asset is one of the task's outlets,
and when the job succeeded the asset event's ``extra`` says what it produced (the job, the
training job, the model artifact's S3 URI, the final metrics, the billable seconds, the
attempts).

``example_batch_service_evaluate_model`` is scheduled on that asset (``schedule=[MODEL]``): the
scheduler starts it after each successful training run, and its task reads the event from
``triggering_asset_events`` -- no XCom crosses the DAGs. A failed training run emits no event,
so nothing evaluates a model that was never trained.

``model_asset`` also takes a URI string, where ``{output_path}`` stands for the payload's
``OutputDataConfig.S3OutputPath``, or ``True`` for the output path itself; an explicit
``Asset`` is used here so that both DAGs name the same one.

Settings: those of the basic example (``BATCH_SERVICE_*``).
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import DAG, Asset, task

from airflow_batch_service.naming import TEMPLATE_FILTERS
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
POLL_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))

# --8<-- [start:howto_model_asset_train]
#: Where the training jobs write their models: the asset both DAGs name.
MODEL_OUTPUT = OUTPUT.rstrip("/") + "/model-asset"
MODEL = Asset(name="example_batch_service_model", uri=MODEL_OUTPUT)

with DAG(
    dag_id="example_batch_service_train_model",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker", "asset"],
    user_defined_filters=TEMPLATE_FILTERS,
):
    BatchSubmitServiceJobOperator(
        task_id="train_model",
        aws_conn_id=CONN_ID,
        job_name="train-model-{{ run_id | batch_name }}",
        job_queue=QUEUE,
        service_request_payload={
            "TrainingJobName": "{{ 'model' | unique_training_job_name(run_id) }}",
            "RoleArn": ROLE_ARN,
            "AlgorithmSpecification": {
                "TrainingImage": (
                    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311"
                ),
                "TrainingInputMode": "File",
            },
            "OutputDataConfig": {"S3OutputPath": MODEL_OUTPUT + "/"},
            "ResourceConfig": {
                "InstanceType": "ml.g5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
        wait_for_completion=True,  # the event announces a trained model: the task must wait
        poll_interval=POLL_INTERVAL,
        model_asset=MODEL,  # or "{output_path}", or True: the same URI here
    )
# --8<-- [end:howto_model_asset_train]

# --8<-- [start:howto_model_asset_evaluate]
with DAG(
    dag_id="example_batch_service_evaluate_model",
    schedule=[MODEL],  # a run after each successful training run
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker", "asset"],
):

    @task
    def evaluate_model(*, triggering_asset_events: Any = None) -> dict[str, Any]:
        """The newest model the training DAG announced (several may have queued up)."""
        events = list(triggering_asset_events[MODEL])
        for event in events:
            extra = event.extra
            print(
                f"model {extra['model_uri']} from training job {extra['training_job_name']} "
                f"(service job {extra['job_id']}, {extra['attempts']} attempt(s)): "
                f"metrics {extra['final_metrics']}, {extra['billable_seconds']} billable seconds"
            )
        newest = events[-1].extra
        return {
            "model_uri": newest["model_uri"],
            "final_metrics": newest["final_metrics"],
            "billable_seconds": newest["billable_seconds"],
            "job_id": newest["job_id"],
            "training_job_name": newest["training_job_name"],
        }

    evaluate_model()
# --8<-- [end:howto_model_asset_evaluate]
