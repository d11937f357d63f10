"""Service environments, SAGEMAKER_TRAINING queues, scheduling-policy kinds and quota shares.

A mixin of :class:`~airflow_batch_service.emulator.backend.ServiceJobBackend`: the part of one
account-and-region's state that jobs run *in*. moto's own Batch backend keeps ordinary queues,
the scheduling policies themselves and the tags of these resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from moto.batch.models import BatchBackend, batch_backends
from moto.utilities.utils import get_partition

from airflow_batch_service.core.validation import Problem, tags_problems
from airflow_batch_service.emulator import resources as res
from airflow_batch_service.emulator import scheduler as rules
from airflow_batch_service.emulator.errors import ClientException, invalid
from airflow_batch_service.emulator.jobs import AttemptSink, ServiceJob
from airflow_batch_service.emulator.paging import page
from airflow_batch_service.emulator.resources import QuotaShare, ServiceEnvironment, ServiceQueue
from airflow_batch_service.emulator.settings import settings

if TYPE_CHECKING:
    from airflow_batch_service.emulator.world import World


class Catalog:
    """Environments, queues and quota shares of one account and region."""

    account_id: str
    region_name: str
    environments: dict[str, ServiceEnvironment]
    queues: dict[str, ServiceQueue]
    quota_shares: dict[str, QuotaShare]
    quota_policies: dict[str, dict[str, Any]]  # scheduling policy ARN -> quotaSharePolicy
    jobs: dict[str, ServiceJob]
    sink: AttemptSink
    world: World

    def advance_all(self) -> None:
        raise NotImplementedError

    def _changed(self) -> None:
        """A setting the scheduler reads changed: re-time the jobs, schedule again now (a
        lowered limit applies to the next decision; a raised one lets jobs start now)."""
        self.world.refresh(self._now())

    # ------------------------------------------------------------------ helpers
    @property
    def batch(self) -> BatchBackend:
        """moto's Batch backend for this account and region: the same one moto's handlers
        use (``batch_simple`` when moto is configured not to use Docker)."""
        from moto.core.models import default_user_config

        if default_user_config.get("batch", {}).get("use_docker", True) is False:
            from moto.batch_simple.models import batch_simple_backends

            return batch_simple_backends[self.account_id][self.region_name]
        return batch_backends[self.account_id][self.region_name]

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:{get_partition(self.region_name)}:batch:{self.region_name}:{self.account_id}:{kind}/{name}"

    @staticmethod
    def _now() -> float:
        return settings().clock.now()

    def _tags(self, arn: str) -> dict[str, str]:
        return self.batch.list_tags_for_resource(arn)

    def _set_tags(self, arn: str, tags: Mapping[str, str] | None) -> None:
        if tags:
            self.batch.tag_resource(arn, dict(tags))

    # ------------------------------------------------------- service environments
    def find_environment(self, identifier: str) -> ServiceEnvironment | None:
        if identifier in self.environments:
            return self.environments[identifier]
        for env in self.environments.values():
            if env.name == identifier:
                return env
        return None

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
        if body.get("tags") is not None:
            problems += tags_problems(body["tags"])
        if problems:
            raise invalid("CreateServiceEnvironment", problems)
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
        if problems:
            raise invalid("UpdateServiceEnvironment", problems)
        self.advance_all()  # jobs due before this change moved under the old state
        if body.get("state"):
            env.state = body["state"]
        if body.get("capacityLimits"):
            env.capacity_limits = list(body["capacityLimits"])
        self._changed()
        return env

    def delete_environment(self, identifier: str) -> None:
        env = self.get_environment(identifier, "DeleteServiceEnvironment")
        if env.state != "DISABLED":
            raise ClientException(
                f"DeleteServiceEnvironment: state: service environment {env.name} must be DISABLED before it is deleted"
            )
        users = [q.name for q in self.queues.values() if env.arn in q.environment_arns()]
        if users:
            raise ClientException(
                f"DeleteServiceEnvironment: service environment {env.name} is still used by job queue(s) {users}"
            )
        del self.environments[env.arn]

    # ------------------------------------------------------------------- queues
    def find_queue(self, identifier: str) -> ServiceQueue | None:
        if identifier in self.queues:
            return self.queues[identifier]
        for queue in self.queues.values():
            if queue.name == identifier:
                return queue
        return None

    def get_queue(self, identifier: Any, operation: str, field: str = "jobQueue") -> ServiceQueue:
        queue = self.find_queue(str(identifier))
        if queue is not None:
            return queue
        if self.batch.get_job_queue(str(identifier)) is not None:
            raise ClientException(
                f"{operation}: {field}: job queue {identifier} is not of type SAGEMAKER_TRAINING "
                "(service jobs need a SAGEMAKER_TRAINING queue)"
            )
        raise ClientException(
            f"{operation}: {field}: job queue {identifier} does not exist (not found)"
        )

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
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            problems.append(
                Problem("priority", f"is required, between 0 and 1000, got {priority!r}")
            )
        problems += res.state_problems(body.get("state"))
        problems += self._env_order_problems(body.get("serviceEnvironmentOrder"))
        problems += self._policy_problems(body.get("schedulingPolicyArn"))
        problems += res.time_limit_actions_problems(body.get("jobStateTimeLimitActions"))
        if body.get("tags") is not None:
            problems += tags_problems(body["tags"])
        if problems:
            raise invalid("CreateJobQueue", problems)
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
        priority = body.get("priority")
        if priority is not None and (
            isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000
        ):
            problems.append(Problem("priority", f"must be between 0 and 1000, got {priority!r}"))
        if problems:
            raise invalid("UpdateJobQueue", problems)
        self.advance_all()  # history up to now was made under the old settings
        if body.get("state"):
            queue.state = body["state"]
        if priority is not None:
            queue.priority = priority
        if body.get("serviceEnvironmentOrder") is not None:
            queue.env_order = list(body["serviceEnvironmentOrder"])
        if body.get("schedulingPolicyArn"):
            queue.scheduling_policy_arn = body["schedulingPolicyArn"]
        if body.get("jobStateTimeLimitActions") is not None:
            queue.time_limit_actions = list(body["jobStateTimeLimitActions"])
        self._changed()
        return queue

    def delete_queue(self, queue: ServiceQueue) -> None:
        if queue.state != "DISABLED":
            raise ClientException(
                f"DeleteJobQueue: state: job queue {queue.name} must be DISABLED before it is deleted"
            )
        self.advance_all()
        now = self._now()
        for job in list(self.jobs.values()):
            if job.queue_arn == queue.arn:
                self.world.terminate(job, now, "Job queue deleted")
        del self.queues[queue.arn]

    def policy_kind(self, arn: str | None) -> str | None:
        """ "fairshare", "quotashare" or None for a queue's scheduling policy."""
        if not arn or arn not in self.batch._scheduling_policies:
            return None
        return "quotashare" if arn in self.quota_policies else "fairshare"

    def share_distribution(self, arn: str | None) -> list[dict[str, Any]]:
        """A fair-share policy's shareDistribution (weightFactor per shareIdentifier)."""
        policy = self.batch._scheduling_policies.get(arn) if arn else None
        if policy is None:
            return []
        return list(getattr(policy, "fairshare_policy", {}).get("shareDistribution") or [])

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

    # ------------------------------------------------------------- quota shares
    def create_quota_share(self, body: Mapping[str, Any]) -> QuotaShare:
        name = body.get("quotaShareName")
        problems = res.name_problems(name, "quotaShareName")
        problems += res.capacity_limits_problems(body.get("capacityLimits"))
        problems += res.state_problems(body.get("state"))
        sharing = body.get("resourceSharingConfiguration")
        problems += rules.sharing_problems(sharing)
        preemption = body.get("preemptionConfiguration")
        if (
            not isinstance(preemption, Mapping)
            or preemption.get("inSharePreemption") not in res.STATES
        ):
            problems.append(
                Problem("preemptionConfiguration.inSharePreemption", "must be ENABLED or DISABLED")
            )
        if problems:
            raise invalid("CreateQuotaShare", problems)
        queue = self.get_queue(body.get("jobQueue"), "CreateQuotaShare")
        if self.policy_kind(queue.scheduling_policy_arn) != "quotashare":
            raise ClientException(
                f"CreateQuotaShare: jobQueue: job queue {queue.name} has no quota-share scheduling policy"
            )
        arn = self._arn("quota-share", f"{queue.name}/{name}")
        if arn in self.quota_shares:
            raise ClientException(
                f"CreateQuotaShare: quota share {name} already exists on {queue.name}"
            )
        share = QuotaShare(
            name=str(name),
            arn=arn,
            queue_arn=queue.arn,
            capacity_limits=list(body["capacityLimits"]),
            resource_sharing=dict(sharing),  # type: ignore[arg-type]
            preemption=dict(preemption),  # type: ignore[arg-type]
            state=body.get("state") or "ENABLED",
        )
        self.advance_all()
        self.quota_shares[arn] = share
        self._set_tags(arn, body.get("tags"))
        self._changed()
        return share

    def get_quota_share(self, arn: Any, operation: str) -> QuotaShare:
        share = self.quota_shares.get(str(arn))
        if share is None:
            raise ClientException(
                f"{operation}: quotaShareArn: quota share {arn} does not exist (not found)"
            )
        return share

    def update_quota_share(self, body: Mapping[str, Any]) -> QuotaShare:
        share = self.get_quota_share(body.get("quotaShareArn"), "UpdateQuotaShare")
        problems = res.state_problems(body.get("state"))
        problems += res.capacity_limits_problems(body.get("capacityLimits"), required=False)
        if body.get("resourceSharingConfiguration") is not None:
            problems += rules.sharing_problems(body["resourceSharingConfiguration"])
        preemption = body.get("preemptionConfiguration")
        if preemption is not None and (
            not isinstance(preemption, Mapping)
            or preemption.get("inSharePreemption") not in res.STATES
        ):
            problems.append(
                Problem("preemptionConfiguration.inSharePreemption", "must be ENABLED or DISABLED")
            )
        if problems:
            raise invalid("UpdateQuotaShare", problems)
        self.advance_all()  # history up to now was made under the old settings
        if body.get("state"):
            share.state = body["state"]
        if body.get("capacityLimits"):
            share.capacity_limits = list(body["capacityLimits"])
        if body.get("resourceSharingConfiguration"):
            share.resource_sharing = dict(body["resourceSharingConfiguration"])
        if body.get("preemptionConfiguration"):
            share.preemption = dict(body["preemptionConfiguration"])
        self._changed()
        return share

    def delete_quota_share(self, arn: Any) -> None:
        share = self.get_quota_share(arn, "DeleteQuotaShare")
        if share.state != "DISABLED":
            raise ClientException(
                f"DeleteQuotaShare: state: quota share {share.name} must be DISABLED before it is deleted"
            )
        del self.quota_shares[share.arn]

    def list_quota_shares(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        queue = self.get_queue(body.get("jobQueue"), "ListQuotaShares")
        shares = [s for s in self.quota_shares.values() if s.queue_arn == queue.arn]
        items, token = page(
            "ListQuotaShares", shares, body.get("maxResults"), body.get("nextToken")
        )
        return [s.describe() for s in items], token
