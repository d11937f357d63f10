"""Every shape of task that reports OpenLineage, in one run, for ``test_lineage_real_run.py``.

The submit-only operator; the operator's own wait, sync and deferred; the sensor in poke,
reschedule and deferrable mode; each with ``read_training_result`` on and off; and jobs that
fail (their names start with ``lsfail-``, which the test's emulator scenario fails) for the
sensor and for the operator's own wait. Each sensor watches the job of the submit-only task
just before it.

One strict chain, every task ``all_done``: a failed task does not stop the run, and only one
task at a time talks to the emulator. The test moves the emulator's clock only when a task
looks at a job, so a job submitted just before its sensor has not finished at the sensor's
first look: the reschedule and deferrable sensors really reschedule and defer. The last task
succeeds, so the run does. Settings: ``BATCH_SERVICE_CONN_ID``, ``BATCH_SERVICE_QUEUE``.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import DAG, chain

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
RUN = "{{ run_id | replace(':', '-') | replace('+', '-') | replace('.', '-') }}"
FAST = 0.1


def payload(task_id: str) -> dict[str, Any]:
    """A training request reading two S3 channels and writing under ``s3://model-bucket``."""
    return {
        "TrainingJobName": task_id.replace("_", "-")[:23].rstrip("-"),
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


def operator(task_id: str, *, fails: bool = False, **kwargs: Any) -> BatchSubmitServiceJobOperator:
    prefix = "lsfail" if fails else "ls"
    return BatchSubmitServiceJobOperator(
        task_id=task_id,
        aws_conn_id=CONN_ID,
        job_name=f"{prefix}-{task_id.replace('_', '-')}-{RUN}",
        job_queue=QUEUE,
        service_request_payload=payload(task_id),
        poll_interval=FAST,
        stream_logs=False,
        **kwargs,
    )


def watched(task_id: str, *, fails: bool = False, **kwargs: Any) -> list[Any]:
    """A submit-only task and the sensor (``task_id``) on its job."""
    submit = operator(f"submit_for_{task_id}", fails=fails)
    sensor = BatchServiceJobSensor(
        task_id=task_id,
        aws_conn_id=CONN_ID,
        job_id=submit.output,
        poke_interval=FAST,
        timeout=600,
        stream_logs=False,
        **kwargs,
    )
    return [submit, sensor]


with DAG(
    "lineage_shapes_dag",
    schedule=None,
    catchup=False,
    default_args={"trigger_rule": "all_done", "retries": 0},
) as dag:
    chain(
        *watched("poke_result"),
        *watched("poke_no_result", read_training_result=False),
        *watched("reschedule_result", mode="reschedule"),
        *watched("reschedule_no_result", mode="reschedule", read_training_result=False),
        *watched("deferred_result", deferrable=True),
        *watched("deferred_no_result", deferrable=True, read_training_result=False),
        *watched("poke_fails", fails=True),
        *watched(
            "deferred_fails_no_result", fails=True, deferrable=True, read_training_result=False
        ),
        operator("wait_fails", fails=True, wait_for_completion=True),
        operator("wait_deferred_fails", fails=True, wait_for_completion=True, deferrable=True),
        operator("wait_result", wait_for_completion=True),
        operator("wait_no_result", wait_for_completion=True, read_training_result=False),
        operator(
            "wait_deferred_no_result",
            wait_for_completion=True,
            deferrable=True,
            read_training_result=False,
        ),
        operator("wait_deferred_result", wait_for_completion=True, deferrable=True),
    )
