"""Retry strategies: RETRY on SageMaker internal errors, EXIT on validation errors.

Batch (not Airflow) retries a service job: ``retry_strategy`` is applied by Batch after each
attempt, rules in order, first match wins. This DAG submits two jobs with the same strategy:

- ``recovers_from_internal_error``: its first attempt fails with ``InternalServerError``; rule 1
  (RETRY) matches, Batch runs attempt 2, which succeeds. The task log explains each attempt.
- ``stops_on_validation_error``: its attempt fails with ``ValidationException``; rule 2 (EXIT)
  matches and the job fails for good. The task fails at once with ``AirflowFailException``
  (the user said that failure is final), so Airflow's own ``retries`` are not spent on it.

``explain`` runs either way (``trigger_rule="all_done"``) and prints both verdicts.

On the local emulator, ``example_dags/scenarios/emulator.json`` makes the jobs fail this way
(jobs named ``retry-ise-*`` and ``retry-validation-*``); on AWS, real failures do.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, task

from airflow_batch_service.naming import TEMPLATE_FILTERS
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_QUEUE", "ml-training")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
POLL_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))

# [START howto_retry_strategy]
RETRY_STRATEGY = {
    "attempts": 3,  # counts the first try: one try and up to two retries
    "evaluateOnExit": [
        # Note the space after the colon: real reasons have it (the SageMaker SDK's constant
        # does not, and a rule written with it can never match).
        {
            "action": "RETRY",
            "onStatusReason": "Received status from SageMaker: InternalServerError*",
        },
        {
            "action": "EXIT",
            "onStatusReason": "Received status from SageMaker: ValidationException*",
        },
        {"action": "EXIT", "onStatusReason": "*"},  # anything else: don't burn GPU hours retrying
    ],
}
# [END howto_retry_strategy]


def payload(prefix: str) -> dict:
    return {
        "TrainingJobName": "{{ '" + prefix + "' | unique_training_job_name(run_id) }}",
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
    }


with DAG(
    dag_id="example_batch_service_retry_strategies",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker"],
    user_defined_filters=TEMPLATE_FILTERS,
) as dag:
    # [START howto_operator_wait_for_completion]
    recovers = BatchSubmitServiceJobOperator(
        task_id="recovers_from_internal_error",
        aws_conn_id=CONN_ID,
        job_name="retry-ise-{{ run_id | batch_name }}",
        job_queue=QUEUE,
        service_request_payload=payload("retry-ise"),
        retry_strategy=RETRY_STRATEGY,
        wait_for_completion=True,
        poll_interval=POLL_INTERVAL,
    )

    stops = BatchSubmitServiceJobOperator(
        task_id="stops_on_validation_error",
        aws_conn_id=CONN_ID,
        job_name="retry-validation-{{ run_id | batch_name }}",
        job_queue=QUEUE,
        service_request_payload=payload("retry-val"),
        retry_strategy=RETRY_STRATEGY,
        wait_for_completion=True,
        poll_interval=POLL_INTERVAL,
        retries=2,  # not used: an EXIT-rule failure raises AirflowFailException
    )
    # [END howto_operator_wait_for_completion]

    @task(trigger_rule="all_done")
    def explain(ti=None) -> dict:
        """Print what Batch did with each job, read back and explained by the core."""
        from airflow_batch_service.core.verdict import interpret
        from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

        hook = BatchServiceJobHook(aws_conn_id=CONN_ID)
        outcomes = {}
        for task_id in ("recovers_from_internal_error", "stops_on_validation_error"):
            job_arn = ti.xcom_pull(task_ids=task_id, key="job_arn")  # pushed right after submit
            if not job_arn:
                print(f"{task_id}: no job was submitted")
                continue
            verdict = interpret(hook.describe_service_job(job_arn))
            print(f"{task_id}:\n{verdict.explain()}")
            outcomes[task_id] = {
                "status": verdict.status,
                "attempts": len(verdict.attempts),
                "cause": verdict.cause.value if verdict.cause else None,
            }
        return outcomes

    [recovers, stops] >> explain()
