"""The world the UI plugin's routes run in for ``test_ui_routes.py``: a fake hook answering
like the Batch API, fake metadata reads, Airflow's real ``SimpleAuthManager`` with signed
tokens, and the plugin's app over them.

Apart from the tests because it is most of their length: the fakes and fixtures here, the
routes' behaviour there."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_batch_service.plugins.task_instances import TaskInstanceInfo, TryInfo
from airflow_batch_service.plugins.ui import ui_supported

from .support import ISE

__all__ = [
    "DAG",
    "RUN",
    "TAG",
    "TASK",
    "TI_PARAMS",
    "FakeHook",
    "FakeMetadata",
    "fake_ui_world",
    "get_page",
    "needs_31",
    "service_job",
    "signed_tokens",
    "task_instance_info",
]

needs_31 = pytest.mark.skipif(not ui_supported(), reason="the UI plugin needs Airflow >= 3.1")

DAG, TASK, RUN = "sweep", "train", "manual__2026-01-01T00:00:00+00:00"
TAG = f"{DAG}:{TASK}:{RUN}:0"
QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/ml"
ENV_ARN = "arn:aws:batch:us-east-1:123456789012:service-environment/ml-env"


def service_job(
    job_id: str, *, tag: str = TAG, created: int = 1_000, status: str = "SUCCEEDED"
) -> dict[str, Any]:
    """A DescribeServiceJob answer: a job of the task ``tag`` whose first attempt failed
    (retried by rule 1) and whose second ended in ``status``."""
    return {
        "jobId": job_id,
        "jobArn": f"arn:aws:batch:us-east-1:123456789012:service-job/{job_id}",
        "jobName": "sweep-lr-0-1",
        "jobQueue": QUEUE_ARN,
        "status": status,
        "statusReason": "Received status from SageMaker: Training job completed",
        "createdAt": created,
        "scheduledAt": created + 9_000,
        "startedAt": created + 11_000,
        "stoppedAt": created + 14_000,
        "retryStrategy": {
            "attempts": 2,
            "evaluateOnExit": [
                {
                    "action": "RETRY",
                    "onStatusReason": "Received status from SageMaker: InternalServerError*",
                },
                {"action": "EXIT", "onStatusReason": "*"},
            ],
        },
        "attempts": [
            {
                "startedAt": created + 4_000,
                "stoppedAt": created + 6_000,
                "statusReason": ISE,
                "serviceResourceId": {
                    "name": "TrainingJobArn",
                    "value": "arn:aws:sagemaker:us-east-1:1:training-job/AWSBatchA",
                },
            },
            {
                "startedAt": created + 11_000,
                "stoppedAt": created + 14_000,
                "statusReason": "Received status from SageMaker: Training job completed",
                "serviceResourceId": {
                    "name": "TrainingJobArn",
                    "value": "arn:aws:sagemaker:us-east-1:1:training-job/AWSBatchB",
                },
            },
        ],
        "latestAttempt": {
            "serviceResourceId": {
                "name": "TrainingJobArn",
                "value": "arn:aws:sagemaker:us-east-1:1:training-job/AWSBatchB",
            }
        },
        "tags": {"airflow-batch-service:task": tag},
    }


class FakeHook:
    """Counts calls; answers like the Batch API (already stripped of ResponseMetadata)."""

    def __init__(self, jobs: dict[str, dict[str, Any]]) -> None:
        self.jobs = jobs
        self.calls: list[str] = []

    def describe_service_job(self, job_id: str) -> dict[str, Any]:
        self.calls.append("DescribeServiceJob")
        return self.jobs[job_id.rsplit("/", 1)[-1]]

    def list_service_jobs(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append("ListServiceJobs")
        status = kwargs.get("job_status")
        for job in self.jobs.values():
            if status and job["status"] != status:
                continue
            if kwargs.get("filters") and job["jobName"] != kwargs["filters"][0]["values"][0]:
                continue
            yield {k: job[k] for k in ("jobId", "jobArn", "jobName", "status", "createdAt")}

    def describe_service_job_queues(self) -> list[dict[str, Any]]:
        self.calls.append("DescribeJobQueues")
        return [
            {
                "jobQueueName": "ml",
                "jobQueueArn": QUEUE_ARN,
                "state": "ENABLED",
                "status": "VALID",
                "jobQueueType": "SAGEMAKER_TRAINING",
                "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": ENV_ARN}],
            }
        ]

    def describe_service_environments(self, names: list[str]) -> list[dict[str, Any]]:
        self.calls.append("DescribeServiceEnvironments")
        return [
            {
                "serviceEnvironmentName": "ml-env",
                "serviceEnvironmentArn": ENV_ARN,
                "capacityLimits": [{"maxCapacity": 2, "capacityUnit": "NUM_INSTANCES"}],
            }
        ]

    def get_job_queue_snapshot(self, job_queue: str) -> dict[str, Any]:
        self.calls.append("GetJobQueueSnapshot")
        waiting = [j for j in self.jobs.values() if j["status"] == "RUNNABLE"]
        return {
            "frontOfQueue": {
                "jobs": [
                    {"jobArn": j["jobArn"], "earliestTimeAtPosition": j["createdAt"]}
                    for j in waiting
                ]
            },
            "queueUtilization": {
                "totalCapacityUsage": [{"capacityUnit": "ml.g5.xlarge", "quantity": 2.0}]
            },
        }

    def describe_scheduling_policy(self, arn: str) -> dict[str, Any]:
        return {}

    def list_quota_shares(self, job_queue: str) -> list[dict[str, Any]]:
        return []


class FakeMetadata:
    """The metadata reads: these task instances, these existing task keys, two connections."""

    def __init__(self, tis: list[Any], known: set[tuple[str, str, str, int]] | None = None) -> None:
        self.tis = tis
        self.known = known or set()

    def task_instances(
        self, dag_id: str, run_id: str, task_id: str, map_index: int | None
    ) -> list[Any]:
        return [
            ti
            for ti in self.tis
            if (ti.dag_id, ti.run_id, ti.task_id) == (dag_id, run_id, task_id)
            and (map_index is None or ti.map_index == map_index)
        ]

    def existing_tasks(self, keys: Any) -> set[tuple[str, str, str, int]]:
        return {k for k in keys if k in self.known}

    def aws_conn_ids(self) -> list[str]:
        return ["aws_default", "team_b_aws"]


@pytest.fixture(name="auth", scope="module")
def signed_tokens(airflow_home: Any) -> Iterator[dict[str, str]]:
    """``auth``: SimpleAuthManager with signed tokens for an admin, a viewer and a user without
    a role."""
    if not ui_supported():
        pytest.skip("the UI plugin needs Airflow >= 3.1")

    os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = "ui-plugin-test-secret-" + "x" * 32
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"
    from airflow.api_fastapi.app import (  # lazy: Airflow >= 3.1, read with the settings above
        create_auth_manager,
        purge_cached_app,
    )
    from airflow.api_fastapi.auth.managers.simple.user import (  # lazy: Airflow >= 3.1
        SimpleAuthManagerUser,
    )

    purge_cached_app()
    manager = create_auth_manager()
    tokens = {
        name: manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))
        for name, role in (("admin", "admin"), ("viewer", "viewer"), ("nobody", None))
    }
    yield tokens
    purge_cached_app()
    os.environ.pop("AIRFLOW__API_AUTH__JWT_SECRET", None)
    os.environ.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", None)


def task_instance_info(**overrides: Any) -> Any:
    """Try 2 of the mapped ``train`` task (index 0) as the metadata gives it: its rendered
    fields, XComs (the job, its observed transitions) and a failed try 1 before it."""
    values: dict[str, Any] = dict(
        dag_id=DAG,
        task_id=TASK,
        run_id=RUN,
        map_index=0,
        try_number=2,
        state="success",
        operator="BatchSubmitServiceJobOperator",
        start_ms=30_000,
        end_ms=60_000,
        rendered={
            "aws_conn_id": "emu",
            "region_name": "us-east-1",
            "job_name": "sweep-lr-0-1",
            "job_queue": "ml",
        },
        xcoms={
            "return_value": "job-2",
            "batch_service_job_details": {
                "region_name": "us-east-1",
                "aws_domain": "aws.amazon.com",
                "job_id": "job-2",
            },
            "batch_service_timeline": [
                {
                    "jobId": "job-2",
                    "jobName": "sweep-lr-0-1",
                    "transitions": [
                        {"status": "RUNNABLE", "atMs": 31_000, "exact": True, "reason": None},
                        {"status": "SCHEDULED", "atMs": 33_000, "exact": False, "reason": None},
                        {
                            "status": "RUNNABLE",
                            "atMs": 35_000,
                            "exact": False,
                            "reason": "Received status from SageMaker: CapacityError: no capacity",
                        },
                        {"status": "RUNNING", "atMs": 42_000, "exact": True, "reason": None},
                        {"status": "SUCCEEDED", "atMs": 45_000, "exact": True, "reason": None},
                    ],
                }
            ],
        },
        history=[TryInfo(1, "failed", 0, 20_000)],
    )
    values.update(overrides)
    return TaskInstanceInfo(**values)


@pytest.fixture(name="world")
def fake_ui_world(auth: dict[str, str]) -> dict[str, Any]:
    """``world``: the plugin's app over fakes (jobs of this task, a stranger's, two waiting),
    its test client, the fake hook, the tokens and the services."""
    from fastapi.testclient import TestClient  # lazy: with the app, Airflow >= 3.1 only

    from airflow_batch_service.plugins.app import Services, create_app  # lazy: Airflow >= 3.1

    jobs = {
        "job-1": service_job("job-1", created=1_000),  # try 1's job, found by its task tag
        "job-2": {
            **service_job("job-2", created=31_000),
            "attempts": service_job("job-2", created=31_000)["attempts"][1:],
        },
        "stranger": service_job("stranger", tag="other:t:r:-1", created=2_000),
        "w1": {**service_job("w1", created=50_000, status="RUNNABLE"), "jobName": "sweep-lr-0-01"},
        "w2": {
            **service_job("w2", tag="other_dag:t:r:-1", created=51_000, status="RUNNABLE"),
            "jobName": "x",
        },
    }
    hook = FakeHook(jobs)
    metadata = FakeMetadata(
        [
            task_instance_info(),
            task_instance_info(task_id="plain", operator="BashOperator", xcoms={}, rendered={}),
        ],
        known={(DAG, TASK, RUN, 0)},
    )
    jobs["w1"]["tags"] = {"airflow-batch-service:task": TAG}
    services = Services(
        metadata=metadata, hook_factory=lambda conn, region: hook, now_ms=lambda: 60_000
    )
    client = TestClient(create_app(services))
    return {"client": client, "hook": hook, "tokens": auth, "services": services}


def get_page(world: dict[str, Any], path: str, user: str | None, **params: Any) -> Any:
    """GET ``path`` as ``user`` (a bearer token), or anonymously when ``user`` is None."""
    headers = {"Authorization": f"Bearer {world['tokens'][user]}"} if user else {}
    return world["client"].get(path, params=params, headers=headers)


TI_PARAMS = {"dag_id": DAG, "run_id": RUN, "task_id": TASK, "map_index": "0"}
