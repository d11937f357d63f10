"""Builders the capacity, quota-share and snapshot tests share: payloads of a given size,
submits, a second-by-second trace of every job's status, and quota-share queues."""

from __future__ import annotations

import json
from typing import Any

from .helpers import (
    PAYLOAD,
    all_jobs,
    hang,
    scenarios,
    script,
)

GPU = "ml.g5.xlarge"
ACTIVE = ("SCHEDULED", "STARTING", "RUNNING")


def payload(instances: int = 1, instance_type: str = GPU) -> str:
    body = dict(PAYLOAD)
    body["ResourceConfig"] = {
        "InstanceType": instance_type,
        "InstanceCount": instances,
        "VolumeSizeInGB": 10,
    }
    return json.dumps(body)


def submit(batch: Any, queue: str, name: str, instances: int = 1, **extra: Any) -> str:
    return batch.submit_service_job(
        jobName=name,
        jobQueue=queue,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload=payload(instances),
        **extra,
    )["jobId"]


class Trace:
    """Steps the frozen clock one second at a time, recording every job's status."""

    def __init__(self, emu: Any, batch: Any, queue: str) -> None:
        self.emu, self.batch, self.queue = emu, batch, queue
        self.peak_instances = 0.0
        self.peak_jobs = 0
        self.started: list[str] = []  # job names in the order they first got capacity
        self.last: dict[str, dict[str, Any]] = {}

    def step(self, seconds: int = 1) -> dict[str, dict[str, Any]]:
        for _ in range(seconds):
            self.emu.advance(1)
            self.observe()
        return self.last

    def observe(self) -> dict[str, dict[str, Any]]:
        jobs = {j["jobName"]: j for j in all_jobs(self.batch, self.queue)}
        active = [j for j in jobs.values() if j["status"] in ACTIVE]
        for job in sorted(active, key=lambda j: (j.get("scheduledAt", 0), j["createdAt"])):
            if job["jobName"] not in self.started:
                self.started.append(job["jobName"])
        instances = sum(u["quantity"] for j in active for u in j.get("capacityUsage", []))
        self.peak_instances = max(self.peak_instances, instances)
        self.peak_jobs = max(self.peak_jobs, len(active))
        self.last = jobs
        return jobs

    def statuses(self) -> dict[str, str]:
        return {name: j["status"] for name, j in self.last.items()}


HANG = [hang()]


def scripted(emu: Any, **by_name: list[dict[str, Any]]) -> None:
    """Script each job name (glob) with its attempts."""
    emu.load_scenarios(scenarios(*(script(name, *tries) for name, tries in by_name.items())))


def quota_queue(
    batch: Any, name: str, env_capacity: int, shares: dict[str, tuple[int, dict[str, Any], str]]
) -> None:
    env = batch.create_service_environment(
        serviceEnvironmentName=f"{name}-env",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": env_capacity, "capacityUnit": GPU}],
    )
    policy = batch.create_scheduling_policy(
        name=f"{name}-policy", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"}
    )
    batch.create_job_queue(
        jobQueueName=name,
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": env["serviceEnvironmentArn"]}],
        schedulingPolicyArn=policy["arn"],
    )
    for share, (capacity, sharing, in_share) in shares.items():
        batch.create_quota_share(
            quotaShareName=share,
            jobQueue=name,
            capacityLimits=[{"maxCapacity": capacity, "capacityUnit": GPU}],
            resourceSharingConfiguration=sharing,
            preemptionConfiguration={"inSharePreemption": in_share},
        )


BORROW = {"strategy": "LEND_AND_BORROW", "borrowLimit": -1}
