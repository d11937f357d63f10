"""A tiny DAG for the OpenLineage test: a submit that waits, and a sensor on a second job.

Both classes carry ``ServiceJobLineageMixin``; their waits read the final attempt's training
job themselves (``read_training_result``), which gives the output dataset. Settings:
``BATCH_SERVICE_CONN_ID``, ``BATCH_SERVICE_QUEUE``.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")


def payload(name: str) -> dict:
    return {
        "TrainingJobName": name,
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
        "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data-bucket/train/"}
                },
            },
            {
                "ChannelName": "validation",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://other-bucket/sets/validation.csv",
                    }
                },
            },
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://model-bucket/out/"},
        "ResourceConfig": {
            "InstanceType": "ml.g5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


with DAG("lineage_dag", schedule=None, catchup=False) as dag:
    train = BatchSubmitServiceJobOperator(
        task_id="train",
        aws_conn_id=CONN_ID,
        job_name="lineage-train-{{ run_id | replace(':', '-') | replace('+', '-') | replace('.', '-') }}",
        job_queue=QUEUE,
        service_request_payload=payload("lineage-train"),
        wait_for_completion=True,
        poll_interval=0.1,
        stream_logs=False,
    )
    submit_only = BatchSubmitServiceJobOperator(
        task_id="submit_only",
        aws_conn_id=CONN_ID,
        job_name="lineage-watch-{{ run_id | replace(':', '-') | replace('+', '-') | replace('.', '-') }}",
        job_queue=QUEUE,
        service_request_payload=payload("lineage-watch"),
    )
    watch = BatchServiceJobSensor(
        task_id="watch",
        aws_conn_id=CONN_ID,
        job_id=submit_only.output,
        poke_interval=0.1,
        timeout=120,
        stream_logs=False,
    )
    submit_only >> watch
