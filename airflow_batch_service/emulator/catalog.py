"""Service environments and SAGEMAKER_TRAINING queues (quota shares: ``quota_catalog``).

A mixin of :class:`~airflow_batch_service.emulator.backend.ServiceJobBackend`: the part of one
account-and-region's state that jobs run *in*. moto's own Batch backend keeps ordinary queues,
the scheduling policies themselves and the tags of these resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batch_service.core.validation import Problem
from airflow_batch_service.emulator import resources as res
from airflow_batch_service.emulator import status_reasons
from airflow_batch_service.emulator.errors import ClientException
from airflow_batch_service.emulator.paging import page
from airflow_batch_service.emulator.quota_catalog import QuotaShareCatalog
from airflow_batch_service.emulator.resources import ServiceEnvironment, ServiceQueue


class Catalog(QuotaShareCatalog):
    """Environments, queues and quota shares of one account and region."""

    # ------------------------------------------------------- service environments
    def create_environment(self, body: Mapping[str, Any]) -> ServiceEnvironment:
        name = body.get("serviceEnvironmentName")
        problems = res.name_problems(name, "serviceEnvironmentName")
        if body.get("serviceEnvironmentType") != res.SAGEMAKER_TRAINING:
            problems.append(
                Problem(
                    "serviceEnvironmentType",
                    f"must be SAGEMAKER_TRAINING, got {body.get('serviceEnvironmentType')!r}",
                )
            )
        problems += res.state_problems(body.get("state"))
        problems += res.capacity_limits_problems(body.get("capacityLimits"))
        self._refuse("CreateServiceEnvironment", problems, body.get("tags"))
        if self.find_environment(str(name)) is not None:
            raise ClientException(
                f"CreateServiceEnvironment: service environment {name} already exists"
            )
        env = ServiceEnvironment(
            name=str(name),
            arn=self._arn("service-environment", str(name)),
            capacity_limits=list(body["capacityLimits"]),
            state=body.get("state") or "ENABLED",
        )
        self.environments[env.arn] = env
        self._set_tags(env.arn, body.get("tags"))
        return env

    def get_environment(self, identifier: str, operation: str) -> ServiceEnvironment:
        env = self.find_environment(identifier)
        if env is None:
            raise ClientException(
                f"{operation}: service environment {identifier} does not exist (not found)"
            )
        return env

    def describe_environments(
        self, body: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], str | None]:
        wanted = body.get("serviceEnvironments")
        envs = list(self.environments.values())
        if wanted:
            envs = [e for e in envs if e.arn in wanted or e.name in wanted]
        items, token = page(
            "DescribeServiceEnvironments", envs, body.get("maxResults"), body.get("nextToken")
        )
        return [e.describe(self._tags(e.arn)) for e in items], token

    def update_environment(self, body: Mapping[str, Any]) -> ServiceEnvironment:
        env = self.get_environment(str(body.get("serviceEnvironment")), "UpdateServiceEnvironment")
        problems = res.state_problems(body.get("state"))
        problems += res.capacity_limits_problems(body.get("capacityLimits"), required=False)
        self._refuse("UpdateServiceEnvironment", problems)
        self._update(
            env, body, [("state", "state", str), ("capacityLimits", "capacity_limits", list)]
        )
        return env

    def delete_environment(self, identifier: str) -> None:
        env = self.get_environment(identifier, "DeleteServiceEnvironment")
        self._must_be_disabled(
            "DeleteServiceEnvironment", "service environment", env.name, env.state
        )
        users = [q.name for q in self.queues.values() if env.arn in q.environment_arns()]
        if users:
            raise ClientException(
                f"DeleteServiceEnvironment: service environment {env.name} is still used by job queue(s) {users}"
            )
        del self.environments[env.arn]

    # ------------------------------------------------------------------- queues
    def _env_order_problems(self, order: Any) -> list[Problem]:
        if not isinstance(order, list) or not order:
            return [
                Problem(
                    "serviceEnvironmentOrder",
                    "must be a non-empty list of {order, serviceEnvironment}",
                )
            ]
        out = []
        for i, item in enumerate(order):
            path = f"serviceEnvironmentOrder[{i}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("order"), int):
                out.append(Problem(f"{path}.order", "is required (an integer)"))
                continue
            env_id = item.get("serviceEnvironment")
            if not isinstance(env_id, str) or self.find_environment(env_id) is None:
                out.append(
                    Problem(
                        f"{path}.serviceEnvironment",
                        f"service environment {env_id!r} does not exist",
                    )
                )
        return out

    def _policy_problems(self, arn: Any) -> list[Problem]:
        if arn is None:
            return []
        if not isinstance(arn, str) or arn not in self.batch._scheduling_policies:
            return [Problem("schedulingPolicyArn", f"scheduling policy {arn!r} does not exist")]
        return []

    def create_queue(self, body: Mapping[str, Any]) -> ServiceQueue:
        name = body.get("jobQueueName")
        problems = res.name_problems(name, "jobQueueName")
        if body.get("computeEnvironmentOrder"):
            problems.append(
                Problem(
                    "computeEnvironmentOrder",
                    "cannot be given together with serviceEnvironmentOrder",
                )
            )
        priority = body.get("priority")
        problems += res.queue_priority_problems(priority, required=True)
        problems += res.state_problems(body.get("state"))
        problems += self._env_order_problems(body.get("serviceEnvironmentOrder"))
        problems += self._policy_problems(body.get("schedulingPolicyArn"))
        problems += res.time_limit_actions_problems(body.get("jobStateTimeLimitActions"))
        self._refuse("CreateJobQueue", problems, body.get("tags"))
        if (
            self.find_queue(str(name)) is not None
            or self.batch.get_job_queue_by_name(str(name)) is not None
        ):
            raise ClientException(f"CreateJobQueue: job queue {name} already exists")
        queue = ServiceQueue(
            name=str(name),
            arn=self._arn("job-queue", str(name)),
            priority=int(priority),  # type: ignore[arg-type]
            env_order=list(body["serviceEnvironmentOrder"]),
            backend=self,
            state=body.get("state") or "ENABLED",
            scheduling_policy_arn=body.get("schedulingPolicyArn"),
            time_limit_actions=list(body.get("jobStateTimeLimitActions") or []),
        )
        self.queues[queue.arn] = queue
        self._set_tags(queue.arn, body.get("tags"))
        return queue

    def update_queue(self, queue: ServiceQueue, body: Mapping[str, Any]) -> ServiceQueue:
        problems = res.state_problems(body.get("state"))
        if body.get("computeEnvironmentOrder"):
            problems.append(
                Problem("computeEnvironmentOrder", "cannot be set on a SAGEMAKER_TRAINING queue")
            )
        if body.get("serviceEnvironmentOrder") is not None:
            problems += self._env_order_problems(body["serviceEnvironmentOrder"])
        problems += self._policy_problems(body.get("schedulingPolicyArn"))
        problems += res.time_limit_actions_problems(body.get("jobStateTimeLimitActions"))
        problems += res.queue_priority_problems(body.get("priority"), required=False)
        self._refuse("UpdateJobQueue", problems)
        setters = [
            ("state", "state", str),
            ("priority", "priority", int),
            ("serviceEnvironmentOrder", "env_order", list),
            ("schedulingPolicyArn", "scheduling_policy_arn", str),
            ("jobStateTimeLimitActions", "time_limit_actions", list),
        ]
        allow_empty = ("priority", "serviceEnvironmentOrder", "jobStateTimeLimitActions")
        self._update(queue, body, setters, allow_empty)
        return queue

    def delete_queue(self, queue: ServiceQueue) -> None:
        self._must_be_disabled("DeleteJobQueue", "job queue", queue.name, queue.state)
        self.advance_all()
        now = self._now()
        for job in list(self.jobs.values()):
            if job.queue_arn == queue.arn:
                self.world.terminate(job, now, status_reasons.QUEUE_DELETED)
        del self.queues[queue.arn]

    def create_ready_queue(
        self, name: str, fair_share: bool = False, quota_share: bool = False, max_capacity: int = 10
    ) -> ServiceQueue:
        """A service environment, a queue (and a policy and a "default" quota share when asked)
        in one call: what ``--queue`` and ``Emulator.create_queue`` give users."""
        env = self.find_environment(f"{name}-env") or self.create_environment(
            {
                "serviceEnvironmentName": f"{name}-env",
                "serviceEnvironmentType": res.SAGEMAKER_TRAINING,
                "capacityLimits": [{"maxCapacity": max_capacity, "capacityUnit": "NUM_INSTANCES"}],
            }
        )
        body: dict[str, Any] = {
            "jobQueueName": name,
            "priority": 1,
            "jobQueueType": res.SAGEMAKER_TRAINING,
            "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": env.arn}],
        }
        if fair_share and quota_share:
            raise ValueError("a queue has a fair-share policy or a quota-share policy, not both")
        if fair_share or quota_share:
            policy = self.batch.create_scheduling_policy(f"{name}-policy", {}, {})
            if quota_share:
                self.quota_policies[policy.arn] = {"idleResourceAssignmentStrategy": "FIFO"}
            body["schedulingPolicyArn"] = policy.arn
        queue = self.create_queue(body)
        if quota_share:
            self.create_quota_share(
                {
                    "quotaShareName": "default",
                    "jobQueue": queue.arn,
                    "capacityLimits": [
                        {"maxCapacity": max_capacity, "capacityUnit": "NUM_INSTANCES"}
                    ],
                    "resourceSharingConfiguration": {
                        "strategy": "LEND_AND_BORROW",
                        "borrowLimit": 100,
                    },
                    "preemptionConfiguration": {"inSharePreemption": "DISABLED"},
                }
            )
        return queue
