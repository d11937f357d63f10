"""Service environments, SageMaker job queues and quota shares: records and their checks.

Ordinary (ECS/EKS/Fargate) queues stay in moto's own Batch backend; only the
``SAGEMAKER_TRAINING`` kinds live here, next to the service jobs that need them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_batch_service.core.validation import Problem

if TYPE_CHECKING:
    from airflow_batch_service.emulator.catalog import Catalog

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
NAME_RULE = "must be 1-128 letters, digits, hyphens or underscores"
STATES = ("ENABLED", "DISABLED")
SAGEMAKER_TRAINING = "SAGEMAKER_TRAINING"
#: Documented bounds of a jobStateTimeLimitActions entry.
MIN_TIME_LIMIT, MAX_TIME_LIMIT = 600, 86_400


def name_problems(value: Any, path: str) -> list[Problem]:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        return [Problem(path, f"{NAME_RULE}, got {value!r}")]
    return []


def state_problems(value: Any, path: str = "state") -> list[Problem]:
    if value is not None and value not in STATES:
        return [Problem(path, f"must be one of {', '.join(STATES)}, got {value!r}")]
    return []


def _objects(
    items: list[Any], path: str, out: list[Problem]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(path[i], item)`` for each object in ``items``; a problem in ``out`` for the rest."""
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]"
        if isinstance(item, Mapping):
            yield ipath, item
        else:
            out.append(Problem(ipath, "must be an object"))


def queue_priority_problems(value: Any, required: bool) -> list[Problem]:
    """A job queue's ``priority``: an integer 0-1000."""
    if value is None and not required:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        rule = "is required, between" if required else "must be between"
        return [Problem("priority", f"{rule} 0 and 1000, got {value!r}")]
    return []


def capacity_limits_problems(
    value: Any, path: str = "capacityLimits", required: bool = True
) -> list[Problem]:
    if value is None:
        return [Problem(path, "is required")] if required else []
    if not isinstance(value, list) or not value:
        return [Problem(path, "must be a non-empty list of {maxCapacity, capacityUnit}")]
    out: list[Problem] = []
    for ipath, item in _objects(value, path, out):
        cap = item.get("maxCapacity")
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            out.append(Problem(f"{ipath}.maxCapacity", f"must be a positive integer, got {cap!r}"))
        unit = item.get("capacityUnit")
        if unit is not None and not isinstance(unit, str):
            out.append(Problem(f"{ipath}.capacityUnit", "must be a string"))
    return out


def time_limit_actions_problems(
    value: Any, path: str = "jobStateTimeLimitActions"
) -> list[Problem]:
    if value is None:
        return []
    if not isinstance(value, list):
        return [Problem(path, "must be a list")]
    out: list[Problem] = []
    for ipath, item in _objects(value, path, out):
        if not isinstance(item.get("reason"), str) or not item.get("reason"):
            out.append(Problem(f"{ipath}.reason", "is required"))
        if item.get("state") != "RUNNABLE":
            out.append(Problem(f"{ipath}.state", f"must be RUNNABLE, got {item.get('state')!r}"))
        limit = item.get("maxTimeSeconds")
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not MIN_TIME_LIMIT <= limit <= MAX_TIME_LIMIT
        ):
            out.append(
                Problem(
                    f"{ipath}.maxTimeSeconds",
                    f"must be between {MIN_TIME_LIMIT} and {MAX_TIME_LIMIT}, got {limit!r}",
                )
            )
        if item.get("action") != "TERMINATE":
            out.append(
                Problem(
                    f"{ipath}.action",
                    f"must be TERMINATE on a SAGEMAKER_TRAINING queue, got {item.get('action')!r}",
                )
            )
    return out


@dataclass
class ServiceEnvironment:
    name: str
    arn: str
    capacity_limits: list[dict[str, Any]]
    state: str = "ENABLED"
    status: str = "VALID"

    def describe(self, tags: dict[str, str]) -> dict[str, Any]:
        return {
            "serviceEnvironmentName": self.name,
            "serviceEnvironmentArn": self.arn,
            "serviceEnvironmentType": SAGEMAKER_TRAINING,
            "state": self.state,
            "status": self.status,
            "capacityLimits": self.capacity_limits,
            "tags": tags,
        }


@dataclass
class ServiceQueue:
    """A SAGEMAKER_TRAINING job queue. Implements ``attempts.QueueView`` for its jobs; its
    capacity and order are the ``world`` scheduler's."""

    name: str
    arn: str
    priority: int
    env_order: list[dict[str, Any]]
    backend: Catalog
    state: str = "ENABLED"
    status: str = "VALID"
    scheduling_policy_arn: str | None = None
    time_limit_actions: list[dict[str, Any]] = field(default_factory=list)
    #: Set only by tests that put a queue into a status it never reaches by itself.
    status_reason: str | None = None

    def describe(self, tags: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "jobQueueName": self.name,
            "jobQueueArn": self.arn,
            "state": self.state,
            "status": self.status,
            "priority": self.priority,
            "computeEnvironmentOrder": [],  # required by the shape; empty on a service queue
            "serviceEnvironmentOrder": self.env_order,
            "jobQueueType": SAGEMAKER_TRAINING,
            "tags": tags,
            "jobStateTimeLimitActions": self.time_limit_actions,
        }
        if self.scheduling_policy_arn:
            out["schedulingPolicyArn"] = self.scheduling_policy_arn
        if self.status_reason:
            out["statusReason"] = self.status_reason
        return out

    def runnable_time_limits(self) -> list[dict[str, Any]]:
        return [a for a in self.time_limit_actions if a.get("state") == "RUNNABLE"]

    def has_capacity(self) -> bool:
        """Whether an ENABLED service environment serves the queue (the scheduler dispatches
        only into ENABLED environments, and only what fits their capacityLimits)."""
        for item in self.env_order:
            env = self.backend.find_environment(str(item.get("serviceEnvironment")))
            if env is not None and env.state == "ENABLED":
                return True
        return False

    def environment_arns(self) -> set[str]:
        out = set()
        for item in self.env_order:
            env = self.backend.find_environment(str(item.get("serviceEnvironment")))
            if env is not None:
                out.add(env.arn)
        return out


@dataclass
class QuotaShare:
    name: str
    arn: str
    queue_arn: str
    capacity_limits: list[dict[str, Any]]
    resource_sharing: dict[str, Any]
    preemption: dict[str, Any]
    state: str = "ENABLED"
    status: str = "VALID"

    def describe(self) -> dict[str, Any]:
        return {
            "quotaShareName": self.name,
            "quotaShareArn": self.arn,
            "jobQueueArn": self.queue_arn,
            "capacityLimits": self.capacity_limits,
            "resourceSharingConfiguration": self.resource_sharing,
            "preemptionConfiguration": self.preemption,
            "state": self.state,
            "status": self.status,
        }
