"""Operations on service jobs and their resources: what a platform team runs around a sweep.

1. Create a SAGEMAKER_TRAINING service environment and wait until it is ``VALID``
   (``BatchCreateServiceEnvironmentOperator`` + ``BatchServiceEnvironmentSensor``, deferrable).
2. Check that the training queue is ``VALID`` before submitting (``BatchServiceJobQueueSensor``).
3. Submit a baseline and two candidate configurations, then lower the first candidate's
   scheduling priority to 0 after submission (``BatchUpdateServiceJobPriorityOperator``: 0 is
   a real value, the lowest).
4. When the baseline fails, stop every job this DAG run submitted that is still queued or
   running: one ``BatchTerminateServiceJobsOperator`` with ``trigger_rule="one_failed"``,
   selecting by the run (the ``airflow-batch-service:task`` tag durable submission writes).

On the emulator the scenario file beside this DAG makes the baseline fail with a validation
error and the candidates run until stopped, so the cleanup has work to do. The DAG run succeeds
(its leaves are the cleanup and the environment sensor) while the baseline's task shows failed.

A service environment is a standing resource: this example names one per run so a rerun does not
collide; on AWS delete it afterwards (disable it, then DeleteServiceEnvironment) or give it a
fixed name with ``BATCH_SERVICE_ENVIRONMENT``. Settings come from the environment as in the
other examples: ``BATCH_SERVICE_CONN_ID``, ``BATCH_SERVICE_QUEUE``, ``BATCH_SERVICE_ROLE_ARN``,
``BATCH_SERVICE_OUTPUT``, ``BATCH_SERVICE_POKE_INTERVAL``.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG

from airflow_batch_service.naming import TEMPLATE_FILTERS
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.operators.service_operations import (
    BatchCreateServiceEnvironmentOperator,
    BatchTerminateServiceJobsOperator,
    BatchUpdateServiceJobPriorityOperator,
)
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor
from airflow_batch_service.sensors.service_operations import (
    BatchServiceEnvironmentSensor,
    BatchServiceJobQueueSensor,
)

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
ENVIRONMENT = os.environ.get("BATCH_SERVICE_ENVIRONMENT", "ops-example-{{ run_id | batch_name }}")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
POKE_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))


def payload(name: str, learning_rate: str) -> dict:
    return {
        "TrainingJobName": "{{ '" + name + "' | unique_training_job_name(run_id) }}",
        "RoleArn": ROLE_ARN,
        "AlgorithmSpecification": {
            "TrainingImage": (
                "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311"
            ),
            "TrainingInputMode": "File",
        },
        "HyperParameters": {"learning_rate": learning_rate},
        "OutputDataConfig": {"S3OutputPath": OUTPUT},
        "ResourceConfig": {
            "InstanceType": "ml.g5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


with DAG(
    dag_id="example_batch_service_operations",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker"],
    user_defined_filters=TEMPLATE_FILTERS,
) as dag:
    # [START howto_operator_batch_create_service_environment]
    create_environment = BatchCreateServiceEnvironmentOperator(
        task_id="create_environment",
        aws_conn_id=CONN_ID,
        service_environment_name=ENVIRONMENT,
        capacity_limits=[{"maxCapacity": 2, "capacityUnit": "NUM_INSTANCES"}],
        tags={"team": "ml-platform"},
    )
    environment_ready = BatchServiceEnvironmentSensor(
        task_id="environment_ready",
        aws_conn_id=CONN_ID,
        service_environment=create_environment.output,  # the ARN
        poke_interval=POKE_INTERVAL,
        timeout=3600,
        deferrable=True,
    )
    # [END howto_operator_batch_create_service_environment]

    # [START howto_sensor_batch_service_job_queue]
    queue_ready = BatchServiceJobQueueSensor(
        task_id="queue_ready",
        aws_conn_id=CONN_ID,
        job_queue=QUEUE,
        poke_interval=POKE_INTERVAL,
        timeout=600,
    )
    # [END howto_sensor_batch_service_job_queue]

    submit_baseline = BatchSubmitServiceJobOperator(
        task_id="submit_baseline",
        aws_conn_id=CONN_ID,
        job_name="ops-baseline-{{ run_id | batch_name }}",
        job_queue=QUEUE,
        service_request_payload=payload("ops-base", "0.01"),
    )
    submit_candidates = BatchSubmitServiceJobOperator.partial(
        task_id="submit_candidates",
        aws_conn_id=CONN_ID,
        job_queue=QUEUE,
    ).expand_kwargs(
        [
            {
                "job_name": f"ops-candidate-{i}-{{{{ run_id | batch_name }}}}",
                "service_request_payload": payload(f"ops-cand{i}", lr),
            }
            for i, lr in enumerate(("0.1", "0.001"))
        ]
    )

    # [START howto_operator_batch_update_service_job_priority]
    deprioritize = BatchUpdateServiceJobPriorityOperator(
        task_id="deprioritize_first_candidate",
        aws_conn_id=CONN_ID,
        job_id="{{ ti.xcom_pull(task_ids='submit_candidates', map_indexes=0) }}",
        scheduling_priority=0,  # sent as 0: the lowest priority, not "unset"
    )
    # [END howto_operator_batch_update_service_job_priority]

    watch_baseline = BatchServiceJobSensor(
        task_id="watch_baseline",
        aws_conn_id=CONN_ID,
        job_id=submit_baseline.output,
        poke_interval=POKE_INTERVAL,
        timeout=6 * 3600,
    )

    # [START howto_operator_batch_terminate_service_jobs]
    stop_sweep = BatchTerminateServiceJobsOperator(
        task_id="stop_sweep",
        aws_conn_id=CONN_ID,
        job_queue=QUEUE,
        run_id="{{ run_id }}",  # every unfinished job a task of this DAG run submitted
        job_name_prefix="ops-",  # optional: fewer jobs to describe on a busy queue
        reason="Airflow: the sweep's baseline failed in run {{ run_id }}",
        trigger_rule="one_failed",
    )
    # [END howto_operator_batch_terminate_service_jobs]

    create_environment >> environment_ready
    queue_ready >> [submit_baseline, submit_candidates]
    submit_candidates >> deprioritize
    [submit_baseline, deprioritize] >> watch_baseline >> stop_sweep
