"""Submit a SageMaker training job through an AWS Batch service job queue, then watch it.

The submit task returns the jobId; the sensor watches it (``job_id=submit.output``), logs each
state change and attempt with the retry rule that decided it, and returns a summary.

Names come from ``{{ run_id }}``, never ``{{ ds }}``: under a real scheduler a manual run has
no logical date in Airflow 3. The ``batch_name`` filter keeps the characters Batch allows; the
payload's ``TrainingJobName`` gets at most 23 characters because Batch adds 40 when it names
each attempt's training job (``AWSBatch<name><32 hex>``) and SageMaker allows 63.

Settings come from the environment so the same file runs on AWS and on the local emulator:
``BATCH_SERVICE_QUEUE``, ``BATCH_SERVICE_ROLE_ARN``, ``BATCH_SERVICE_OUTPUT``,
``BATCH_SERVICE_CONN_ID`` (an ``aws`` connection; set ``endpoint_url`` in its extra for the
emulator) and ``BATCH_SERVICE_POKE_INTERVAL``.
"""

from __future__ import annotations

import hashlib
import os
import re

from airflow.sdk import DAG

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
POKE_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))


def batch_name(value: str, limit: int = 100) -> str:
    """``manual__2026-11-24T06:42:30+00:00`` -> ``manual-2026-11-24T06-42-30-00-00``."""
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", value)).strip("-")[:limit]


def short_hash(value: str, length: int = 10) -> str:
    return hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()[:length]


with DAG(
    dag_id="example_batch_service_basic",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker"],
    user_defined_filters={"batch_name": batch_name, "short_hash": short_hash},
) as dag:
    submit = BatchSubmitServiceJobOperator(
        task_id="submit_training",
        aws_conn_id=CONN_ID,
        job_name="example-{{ run_id | batch_name }}",
        job_queue=QUEUE,
        service_request_payload={
            # <= 23 characters: "ex-" + 10 hex = 13.
            "TrainingJobName": "ex-{{ run_id | short_hash }}",
            "RoleArn": ROLE_ARN,
            "AlgorithmSpecification": {
                "TrainingImage": (
                    "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
                    "pytorch-training:2.5-gpu-py311"
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

    wait = BatchServiceJobSensor(
        task_id="wait_for_training",
        aws_conn_id=CONN_ID,
        job_id=submit.output,
        poke_interval=POKE_INTERVAL,
        timeout=6 * 3600,
        mode="reschedule",
    )

    submit >> wait
