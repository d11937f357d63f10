"""A hyperparameter sweep on a fair-share queue, with dynamic task mapping.

One training job per config (``.expand_kwargs``), each with its own ``share_identifier`` and
``scheduling_priority`` so Batch's fair-share scheduler orders them. Every job is submitted
first and then waited for by a mapped sensor, so the whole sweep is in Batch's queue at once:
when the queue has less capacity than the sweep needs, Batch (or the emulator) holds the rest
in RUNNABLE and starts them as others finish. Then two tasks read what the training produced
from the sensors' XCom alone (``summary["trainingJob"]``: the final attempt's model artifact,
final metrics, billable seconds): every model, and the best run by validation accuracy.

Settings: ``BATCH_SERVICE_FAIR_SHARE_QUEUE`` (a SAGEMAKER_TRAINING queue with a fair-share
scheduling policy), ``BATCH_SERVICE_SWEEP_SIZE`` (how many configs; default the 3 below,
more add learning rates on a log grid), plus those of the basic example.
"""

from __future__ import annotations

import os

from airflow.sdk import DAG, task

from airflow_batch_service.naming import TEMPLATE_FILTERS, batch_name, unique_training_job_name
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

CONN_ID = os.environ.get("BATCH_SERVICE_CONN_ID", "aws_default")
QUEUE = os.environ.get("BATCH_SERVICE_FAIR_SHARE_QUEUE", "ml-training-fair-share")
ROLE_ARN = os.environ.get(
    "BATCH_SERVICE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
)
OUTPUT = os.environ.get("BATCH_SERVICE_OUTPUT", "s3://my-bucket/batch-service-example/")
POLL_INTERVAL = float(os.environ.get("BATCH_SERVICE_POKE_INTERVAL", "60"))
SWEEP_SIZE = int(os.environ.get("BATCH_SERVICE_SWEEP_SIZE", "3"))
#: The metric the best run is picked by (a name in the training job's FinalMetricDataList).
METRIC = "validation:accuracy"

# [START howto_sweep_configs]
CONFIGS = [
    {"learning_rate": "0.1", "share": "exploration", "priority": 10},
    {"learning_rate": "0.01", "share": "exploration", "priority": 10},
    {"learning_rate": "0.001", "share": "baseline", "priority": 90},  # the one we care most about
]
# [END howto_sweep_configs]
# A bigger sweep: more learning rates, 1e-1 .. 1e-4 on a log grid, alternating shares.
CONFIGS += [
    {
        "learning_rate": f"{10 ** (-1 - 3 * i / max(SWEEP_SIZE - 1, 1)):.3g}",
        "share": ("exploration", "baseline")[i % 2],
        "priority": 10,
    }
    for i in range(len(CONFIGS), SWEEP_SIZE)
]
CONFIGS = CONFIGS[:SWEEP_SIZE]


with DAG(
    dag_id="example_batch_service_sweep",
    schedule=None,
    catchup=False,
    tags=["example", "aws", "batch", "sagemaker"],
    user_defined_filters=TEMPLATE_FILTERS,
) as dag:

    @task
    def make_jobs(run_id=None) -> list[dict]:
        """One submit per config. Names come from run_id: manual runs have no logical date."""
        jobs = []
        for config in CONFIGS:
            tag = "lr-" + config["learning_rate"].replace(".", "-").replace("e-", "em")
            jobs.append(
                {
                    "job_name": batch_name(f"sweep-{tag}-{run_id}"),
                    "share_identifier": config["share"],
                    "scheduling_priority": config["priority"],
                    "service_request_payload": {
                        "TrainingJobName": unique_training_job_name(f"sw-{tag}", run_id),
                        "RoleArn": ROLE_ARN,
                        "AlgorithmSpecification": {
                            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311",
                            "TrainingInputMode": "File",
                        },
                        "HyperParameters": {
                            "learning_rate": config["learning_rate"],
                            "epochs": "10",
                        },
                        "OutputDataConfig": {"S3OutputPath": OUTPUT},
                        "ResourceConfig": {
                            "InstanceType": "ml.g5.xlarge",
                            "InstanceCount": 1,
                            "VolumeSizeInGB": 30,
                        },
                        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                    },
                }
            )
        return jobs

    # [START howto_sweep_mapping]
    train = BatchSubmitServiceJobOperator.partial(
        task_id="train",
        aws_conn_id=CONN_ID,
        job_queue=QUEUE,
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
        wait_for_completion=False,  # submit them all: Batch queues what does not fit yet
    ).expand_kwargs(make_jobs())

    wait = BatchServiceJobSensor.partial(
        task_id="wait",
        aws_conn_id=CONN_ID,
        poke_interval=POLL_INTERVAL,
        timeout=12 * 3600,
        deferrable=True,  # the waits sit in the triggerer, not in 20 worker slots
    ).expand(job_id=train.output)
    # [END howto_sweep_mapping]

    # [START howto_sweep_results]
    @task
    def collect_models(summaries: list[dict]) -> dict[str, str]:
        """jobId -> S3 URI of the model its final training job wrote: read from the waits'
        XCom (``summary["trainingJob"]``), no second hook, no ARN-to-name conversion."""
        return {s["jobId"]: (s.get("trainingJob") or {}).get("modelArtifacts") for s in summaries}

    @task
    def pick_best(summaries: list[dict]) -> dict:
        """The run with the best validation accuracy, from XCom alone. A run whose metric
        diverged (NaN, infinite) has it as null, with the original spelling in
        ``finalMetricsNonFinite``: it is skipped."""
        scored = [
            s
            for s in summaries
            if (s.get("trainingJob") or {}).get("finalMetrics", {}).get(METRIC) is not None
        ]
        if not scored:
            print(f"no run reported {METRIC}: nothing to pick")
            return {}
        best = max(scored, key=lambda s: s["trainingJob"]["finalMetrics"][METRIC])
        result = best["trainingJob"]
        print(f"best: {best['jobName']} {METRIC}={result['finalMetrics'][METRIC]}")
        return {
            "jobId": best["jobId"],
            "jobName": best["jobName"],
            "model": result["modelArtifacts"],
            METRIC: result["finalMetrics"][METRIC],
            "billableSeconds": sum(
                (s.get("trainingJob") or {}).get("billableTimeInSeconds") or 0 for s in summaries
            ),
        }

    collect_models(wait.output)
    pick_best(wait.output)
    # [END howto_sweep_results]
