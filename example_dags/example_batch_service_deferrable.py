"""One task that submits a training job and waits for it in the triggerer (deferrable).

``wait_for_completion=True`` with ``deferrable=True``: the worker slot is released as soon as
the job is submitted; the triggerer polls it (one shared client per connection, backoff and
jitter on throttling), streams the training job's CloudWatch log lines into this task's log,
and hands the verdict back. The task returns the jobId and pushes the summary as ``summary``.

``wait_timeout`` bounds the wait in every mode; when it passes, the operator terminates the job
it owns and fails. Killing the task while it is deferred terminates the job too (Airflow 3.3+;
see the docs for 3.0.x). A retry reattaches to the job instead of submitting a second one.

Settings: those of the basic example (``BATCH_SERVICE_*``).
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_batch_service.naming import TEMPLATE_FILTERS
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
POLL_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))

with DAG(
    dag_id="example_batch_service_deferrable",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker"],
    user_defined_filters=TEMPLATE_FILTERS,
) as dag:
    # [START howto_operator_deferrable]
    train = BatchSubmitServiceJobOperator(
        task_id="train_deferred",
        aws_conn_id=CONN_ID,
        job_name="deferred-{{ run_id | batch_name }}",
        job_queue=QUEUE,
        service_request_payload={
            "TrainingJobName": "{{ 'deferred' | unique_training_job_name(run_id) }}",
            "RoleArn": ROLE_ARN,
            "AlgorithmSpecification": {
                "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311",
                "TrainingInputMode": "File",
            },
            "OutputDataConfig": {"S3OutputPath": OUTPUT},
            "ResourceConfig": {
                "InstanceType": "ml.g5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
        retry_strategy={
            "attempts": 2,
            "evaluateOnExit": [
                {
                    "action": "RETRY",
                    "onStatusReason": "Received status from SageMaker: InternalServerError*",
                },
                {"action": "EXIT", "onStatusReason": "*"},
            ],
        },
        wait_for_completion=True,
        deferrable=True,  # free the worker slot: the triggerer waits
        poll_interval=POLL_INTERVAL,
        wait_timeout=12 * 3600,  # then terminate the job and fail
        stream_logs=True,  # training log lines in this task's log, labelled by attempt
    )
    # [END howto_operator_deferrable]
