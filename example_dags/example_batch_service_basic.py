"""Submit a SageMaker training job through an AWS Batch service job queue, then watch it.

The submit task returns the jobId; the sensor watches it (``job_id=submit.output``), logs each
state change and attempt with the retry rule that decided it, and returns a summary.

Names come from ``{{ run_id }}``, never ``{{ ds }}``: under a real scheduler a manual run has
no logical date in Airflow 3. The ``batch_name`` filter (``airflow_batch_service.naming``)
keeps the characters Batch allows; ``unique_training_job_name`` keeps the payload's
``TrainingJobName`` within 23 characters, because Batch adds 40 when it names each attempt's
training job (``AWSBatch<name><32 hex>``) and SageMaker allows 63.

Settings come from the environment so the same file runs on AWS and on the local emulator:
``BATCH_SERVICE_QUEUE``, ``BATCH_SERVICE_ROLE_ARN``, ``BATCH_SERVICE_OUTPUT``,
``BATCH_SERVICE_CONN_ID`` (an ``aws`` connection; set ``endpoint_url`` in its extra for the
emulator) and ``BATCH_SERVICE_POKE_INTERVAL``.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_batch_service.naming import TEMPLATE_FILTERS
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
POKE_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))


with DAG(
    dag_id="example_batch_service_basic",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker"],
    user_defined_filters=TEMPLATE_FILTERS,
) as dag:
    # [START howto_operator_batch_submit_service_job]
    submit = BatchSubmitServiceJobOperator(
        task_id="submit_training",
        aws_conn_id=CONN_ID,
        job_name="example-{{ run_id | batch_name }}",
        job_queue=QUEUE,
        service_request_payload={
            # At most 23 characters: "example-" + 10 hex of the run id.
            "TrainingJobName": "{{ 'example' | unique_training_job_name(run_id) }}",
            "RoleArn": ROLE_ARN,
            "AlgorithmSpecification": {
                "TrainingImage": (
                    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311"
                ),
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
            "attempts": 3,
            "evaluateOnExit": [
                {
                    "action": "RETRY",
                    "onStatusReason": "Received status from SageMaker: InternalServerError*",
                },
                {"action": "EXIT", "onStatusReason": "*"},
            ],
        },
        scheduling_priority=0,
        tags={"airflow-dag": "example_batch_service_basic"},
    )
    # [END howto_operator_batch_submit_service_job]

    # [START howto_sensor_batch_service_job]
    wait = BatchServiceJobSensor(
        task_id="wait_for_training",
        aws_conn_id=CONN_ID,
        job_id=submit.output,
        poke_interval=POKE_INTERVAL,
        timeout=6 * 3600,
        mode="reschedule",
    )
    # [END howto_sensor_batch_service_job]

    submit >> wait
