"""SageMaker Python SDK (``sagemaker-train``) against the emulator, unmodified.

Run by ``scripts/interop.sh`` inside its own venv, with ``AWS_ENDPOINT_URL`` pointing at an
emulator server (dummy credentials). Exercises ``TrainingQueue.submit / map / list_jobs /
get_job`` and ``TrainingQueuedJob.describe / update / wait / result / get_model_trainer /
terminate``; exits non-zero on the first thing that does not hold. Not imported by anything.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import time

import boto3
from sagemaker.train.aws_batch.training_queue import TrainingQueue
from sagemaker.train.configs import Compute, StoppingCondition
from sagemaker.train.model_trainer import ModelTrainer

ROLE = "arn:aws:iam::123456789012:role/SageMakerTrainingRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/interop-train:latest"
checks: list[str] = []


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"interop FAILED: {what}")
    checks.append(what)
    print(f"  ok  {what}", flush=True)


def create_role() -> None:
    """The account state a real user has: a SageMaker execution role that trusts SageMaker.
    (ModelTrainer reads its trust policy with iam:GetRole and its permissions with
    iam:SimulatePrincipalPolicy, which the emulator answers "allowed".)"""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam = boto3.client("iam")
    iam.create_role(RoleName=ROLE.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(trust))


def trainer() -> ModelTrainer:
    return ModelTrainer(
        training_image=IMAGE,
        role=ROLE,  # ModelTrainer checks it with iam:SimulatePrincipalPolicy
        base_job_name="interop",
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=3600),
    )


def main(queue_name: str) -> None:
    version = importlib.metadata.version("sagemaker-train")
    print(f"sagemaker-train {version} against the emulator, queue {queue_name}", flush=True)
    create_role()
    queue = TrainingQueue(queue_name)

    job = queue.submit(trainer(), None, job_name="interop-single")
    check(
        job.job_arn.startswith("arn:aws:batch:") and job.job_name == "interop-single",
        "TrainingQueue.submit",
    )
    mapped = queue.map(trainer(), [None, None], job_names=["interop-map-0", "interop-map-1"])
    check(
        [j.job_name for j in mapped] == ["interop-map-0", "interop-map-1"],
        "TrainingQueue.map (2 jobs)",
    )
    hang = queue.submit(trainer(), None, job_name="interop-hang")

    described = job.describe()
    check(
        described["jobArn"] == job.job_arn and described["jobName"] == "interop-single",
        "TrainingQueuedJob.describe",
    )
    check(
        described["status"] != "SUCCEEDED",
        f"still running ({described['status']}): the scenario keeps it RUNNING 15 s",
    )
    updated = job.update(7)
    check(
        updated["jobArn"] == job.job_arn and job.describe()["schedulingPriority"] == 7,
        "TrainingQueuedJob.update (schedulingPriority 7)",
    )

    found = queue.get_job("interop-map-1")
    check(found.job_arn == mapped[1].job_arn, "TrainingQueue.get_job (JOB_NAME filter)")
    check(
        {j.job_name for j in queue.list_jobs(job_name="interop-map*")}
        == {"interop-map-0", "interop-map-1"},
        "TrainingQueue.list_jobs(job_name=...)",
    )

    final = job.wait(timeout=120)
    check(final["status"] == "SUCCEEDED", f"TrainingQueuedJob.wait -> {final['status']}")
    result = job.result(timeout=60)
    check(result["status"] == "SUCCEEDED" and result["attempts"], "TrainingQueuedJob.result")
    check(
        job.job_name in {j.job_name for j in queue.list_jobs(status="SUCCEEDED")},
        "TrainingQueue.list_jobs(status=SUCCEEDED)",
    )

    model_trainer = job.get_model_trainer()
    latest = model_trainer._latest_training_job
    check(
        latest is not None and latest.training_job_status == "Completed",
        "TrainingQueuedJob.get_model_trainer (DescribeTrainingJob parsed by sagemaker-core)",
    )
    artifacts = latest.model_artifacts.s3_model_artifacts
    check(
        artifacts.endswith(f"/{latest.training_job_name}/output/model.tar.gz"),
        f"ModelArtifacts.S3ModelArtifacts = {artifacts}",
    )
    metrics = {m.metric_name: m.value for m in latest.final_metric_data_list}
    check(metrics == {"validation:accuracy": 0.93}, f"FinalMetricDataList = {metrics}")
    check(
        latest.training_time_in_seconds >= 0 and latest.billable_time_in_seconds >= 0,
        "TrainingTimeInSeconds / BillableTimeInSeconds",
    )
    check(
        [t.status for t in latest.secondary_status_transitions][-1] == "Completed",
        "SecondaryStatusTransitions",
    )
    check(
        model_trainer.role == ROLE and model_trainer.training_image == IMAGE,
        "the ModelTrainer is rebuilt from the training job",
    )

    for _ in range(60):  # the hanging job gets a training job, then we stop it
        if hang.describe()["status"] == "RUNNING":
            break
        time.sleep(0.5)
    hang.terminate("interop: stop it")
    stopped = hang.describe()
    check(
        (stopped["status"], stopped["isTerminated"], stopped["statusReason"])
        == ("FAILED", True, "interop: stop it"),
        "TrainingQueuedJob.terminate",
    )
    for queued in mapped:
        check(queued.wait(timeout=120)["status"] == "SUCCEEDED", f"{queued.job_name} SUCCEEDED")
    print(f"interop PASSED: sagemaker-train {version}, {len(checks)} checks", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "interop-q")
