"""A tiny DAG for the OpenLineage test: a submit that waits, and a sensor on a second job, both
with ``ServiceJobLineageMixin`` (test-local subclasses, as the mixin lives in its own module).

Until the waits fill ``training_job_result`` themselves (issue 12 item 1), these subclasses
read it after the wait: DescribeServiceJob, then DescribeTrainingJob of the latest attempt,
through ``core.training_result``. Settings: ``BATCH_SERVICE_CONN_ID``, ``BATCH_SERVICE_QUEUE``.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_batch_service.lineage import ServiceJobLineageMixin
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


def read_result(task, job_id: str):
    """What the wait will record: the final attempt's training job, as core.training_result."""
    from airflow_batch_service.core.training_result import training_result

    described = task.hook.describe_service_job(job_id)
    arn = described["latestAttempt"]["serviceResourceId"]["value"]
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    sagemaker = SageMakerHook(aws_conn_id=task.aws_conn_id)
    return described, training_result(sagemaker.describe_training_job(arn.rsplit("/", 1)[-1]))


class LineageSubmitOperator(ServiceJobLineageMixin, BatchSubmitServiceJobOperator):
    def execute(self, context):
        job_id = super().execute(context)
        _, self.training_job_result = read_result(self, job_id)
        return job_id


class LineageSensor(ServiceJobLineageMixin, BatchServiceJobSensor):
    def execute(self, context):
        summary = super().execute(context)
        described, self.training_job_result = read_result(self, self.job_id)
        self.service_request_payload_seen = described["serviceRequestPayload"]
        return summary


with DAG("lineage_dag", schedule=None, catchup=False) as dag:
    train = LineageSubmitOperator(
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
    watch = LineageSensor(
        task_id="watch",
        aws_conn_id=CONN_ID,
        job_id=submit_only.output,
        poke_interval=0.1,
        timeout=120,
        stream_logs=False,
    )
    submit_only >> watch
