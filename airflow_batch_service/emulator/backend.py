"""Service-job state for one account and region, in a moto ``BackendDict`` (so resets work).

Every handler in ``responses.py`` ends up here. Validation uses ``core.validation``; the
lifecycle is ``jobs.ServiceJob``; queues and environments are ``resources``. moto's own Batch
backend keeps ordinary queues, scheduling policies and the tagger for non-job ARNs.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from moto.batch.models import BatchBackend, batch_backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.utilities.utils import get_partition

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.validation import (
    MAX_TAGS,
    MAX_TERMINATE_BATCH,
    Problem,
    priority_problems,
    submit_request_problems,
    tags_problems,
)
from airflow_batch_service.emulator import resources as res
from airflow_batch_service.emulator.errors import ClientException, invalid, not_found
from airflow_batch_service.emulator.jobs import ServiceJob, ms
from airflow_batch_service.emulator.resources import QuotaShare, ServiceEnvironment, ServiceQueue
from airflow_batch_service.emulator.sagemaker_bridge import SageMakerBridge
from airflow_batch_service.emulator.settings import STARTUP, ClientTokenMode, settings

LIST_FILTERS = ("JOB_NAME", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER", "QUOTA_SHARE_NAME")
#: Filters that combine with jobStatus; the others make ListServiceJobs ignore it (documented).
STATUS_COMPATIBLE_FILTERS = ("SHARE_IDENTIFIER", "QUOTA_SHARE_NAME")


def _fingerprint(request: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in request.items() if v is not None}, sort_keys=True)


def _page(
    operation: str, items: list[Any], max_results: Any, next_token: Any, default: int = 100
) -> tuple[list[Any], str | None]:
    """Slice ``items`` with an opaque offset token (what every list call here uses)."""
    problems: list[Problem] = []
    if max_results is not None and (
        isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= 100
    ):
        problems.append(Problem("maxResults", f"must be between 1 and 100, got {max_results!r}"))
    start = 0
    if next_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(str(next_token)))["offset"])
        except (ValueError, KeyError, TypeError):
            problems.append(Problem("nextToken", "is not a token this API returned"))
    if problems:
        raise invalid(operation, problems)
    size = max_results or default
    page = items[start : start + size]
    token = None
    if start + size < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
    return page, token


class ServiceJobBackend(BaseBackend):
    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.environments: dict[str, ServiceEnvironment] = {}
        self.queues: dict[str, ServiceQueue] = {}
        self.jobs: dict[str, ServiceJob] = {}
        self.quota_shares: dict[str, QuotaShare] = {}
        self.quota_policies: dict[str, dict[str, Any]] = {}  # policy ARN -> quotaSharePolicy
        self.client_tokens: dict[str, tuple[str, str]] = {}  # token -> (fingerprint, job id)
        self.sink = SageMakerBridge()
        self._seq = 0
        if region_name == STARTUP.region and STARTUP.queues:
            from moto.core import DEFAULT_ACCOUNT_ID

            if account_id == DEFAULT_ACCOUNT_ID:
                for spec in STARTUP.queues:
                    self.create_ready_queue(spec.name, spec.fair_share, spec.quota_share, spec.max_capacity)

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
                Problem("serviceEnvironmentType", f"must be SAGEMAKER_TRAINING, got {body.get('serviceEnvironmentType')!r}")
            )
        problems += res.state_problems(body.get("state"))
        problems += res.capacity_limits_problems(body.get("capacityLimits"))
        if body.get("tags") is not None:
            problems += tags_problems(body["tags"])
        if problems:
            raise invalid("CreateServiceEnvironment", problems)
        if self.find_environment(str(name)) is not None:
            raise ClientException(f"CreateServiceEnvironment: service environment {name} already exists")
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
            raise ClientException(f"{operation}: service environment {identifier} does not exist (not found)")
        return env

    def describe_environments(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        wanted = body.get("serviceEnvironments")
        envs = list(self.environments.values())
        if wanted:
            envs = [e for e in envs if e.arn in wanted or e.name in wanted]
        page, token = _page("DescribeServiceEnvironments", envs, body.get("maxResults"), body.get("nextToken"))
        return [e.describe(self._tags(e.arn)) for e in page], token

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
        raise ClientException(f"{operation}: {field}: job queue {identifier} does not exist (not found)")

    def _env_order_problems(self, order: Any) -> list[Problem]:
        if not isinstance(order, list) or not order:
            return [Problem("serviceEnvironmentOrder", "must be a non-empty list of {order, serviceEnvironment}")]
        out = []
        for i, item in enumerate(order, start=1):
            path = f"serviceEnvironmentOrder[{i}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("order"), int):
                out.append(Problem(f"{path}.order", "is required (an integer)"))
                continue
            env_id = item.get("serviceEnvironment")
            if not isinstance(env_id, str) or self.find_environment(env_id) is None:
                out.append(Problem(f"{path}.serviceEnvironment", f"service environment {env_id!r} does not exist"))
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
                Problem("computeEnvironmentOrder", "cannot be given together with serviceEnvironmentOrder")
            )
        priority = body.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            problems.append(Problem("priority", f"is required, between 0 and 1000, got {priority!r}"))
        problems += res.state_problems(body.get("state"))
        problems += self._env_order_problems(body.get("serviceEnvironmentOrder"))
        problems += self._policy_problems(body.get("schedulingPolicyArn"))
        problems += res.time_limit_actions_problems(body.get("jobStateTimeLimitActions"))
        if body.get("tags") is not None:
            problems += tags_problems(body["tags"])
        if problems:
            raise invalid("CreateJobQueue", problems)
        if self.find_queue(str(name)) is not None or self.batch.get_job_queue_by_name(str(name)) is not None:
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
            problems.append(Problem("computeEnvironmentOrder", "cannot be set on a SAGEMAKER_TRAINING queue"))
        if body.get("serviceEnvironmentOrder") is not None:
            problems += self._env_order_problems(body["serviceEnvironmentOrder"])
        problems += self._policy_problems(body.get("schedulingPolicyArn"))
        problems += res.time_limit_actions_problems(body.get("jobStateTimeLimitActions"))
        priority = body.get("priority")
        if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000):
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
        return queue

    def delete_queue(self, queue: ServiceQueue) -> None:
        if queue.state != "DISABLED":
            raise ClientException(f"DeleteJobQueue: state: job queue {queue.name} must be DISABLED before it is deleted")
        self.advance_all()
        now = self._now()
        for job in self.jobs.values():
            if job.queue_arn == queue.arn:
                job.terminate(now, "Job queue deleted", queue, self.sink)
        del self.queues[queue.arn]

    def policy_kind(self, arn: str | None) -> str | None:
        """"fairshare", "quotashare" or None for a queue's scheduling policy."""
        if not arn or arn not in self.batch._scheduling_policies:
            return None
        return "quotashare" if arn in self.quota_policies else "fairshare"

    def create_ready_queue(self, name: str, fair_share: bool = False, quota_share: bool = False, max_capacity: int = 10) -> ServiceQueue:
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
                    "capacityLimits": [{"maxCapacity": max_capacity, "capacityUnit": "NUM_INSTANCES"}],
                    "resourceSharingConfiguration": {"strategy": "LEND_AND_BORROW", "borrowLimit": 100},
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
        if not isinstance(sharing, Mapping) or sharing.get("strategy") not in ("RESERVE", "LEND", "LEND_AND_BORROW"):
            problems.append(Problem("resourceSharingConfiguration.strategy", "must be RESERVE, LEND or LEND_AND_BORROW"))
        preemption = body.get("preemptionConfiguration")
        if not isinstance(preemption, Mapping) or preemption.get("inSharePreemption") not in res.STATES:
            problems.append(Problem("preemptionConfiguration.inSharePreemption", "must be ENABLED or DISABLED"))
        if problems:
            raise invalid("CreateQuotaShare", problems)
        queue = self.get_queue(body.get("jobQueue"), "CreateQuotaShare")
        if self.policy_kind(queue.scheduling_policy_arn) != "quotashare":
            raise ClientException(
                f"CreateQuotaShare: jobQueue: job queue {queue.name} has no quota-share scheduling policy"
            )
        arn = self._arn("quota-share", f"{queue.name}/{name}")
        if arn in self.quota_shares:
            raise ClientException(f"CreateQuotaShare: quota share {name} already exists on {queue.name}")
        share = QuotaShare(
            name=str(name), arn=arn, queue_arn=queue.arn,
            capacity_limits=list(body["capacityLimits"]),
            resource_sharing=dict(sharing),  # type: ignore[arg-type]
            preemption=dict(preemption),  # type: ignore[arg-type]
            state=body.get("state") or "ENABLED",
        )
        self.quota_shares[arn] = share
        self._set_tags(arn, body.get("tags"))
        return share

    def get_quota_share(self, arn: Any, operation: str) -> QuotaShare:
        share = self.quota_shares.get(str(arn))
        if share is None:
            raise ClientException(f"{operation}: quotaShareArn: quota share {arn} does not exist (not found)")
        return share

    def update_quota_share(self, body: Mapping[str, Any]) -> QuotaShare:
        share = self.get_quota_share(body.get("quotaShareArn"), "UpdateQuotaShare")
        problems = res.state_problems(body.get("state"))
        problems += res.capacity_limits_problems(body.get("capacityLimits"), required=False)
        if problems:
            raise invalid("UpdateQuotaShare", problems)
        if body.get("state"):
            share.state = body["state"]
        if body.get("capacityLimits"):
            share.capacity_limits = list(body["capacityLimits"])
        if body.get("resourceSharingConfiguration"):
            share.resource_sharing = dict(body["resourceSharingConfiguration"])
        if body.get("preemptionConfiguration"):
            share.preemption = dict(body["preemptionConfiguration"])
        return share

    def delete_quota_share(self, arn: Any) -> None:
        share = self.get_quota_share(arn, "DeleteQuotaShare")
        if share.state != "DISABLED":
            raise ClientException(f"DeleteQuotaShare: state: quota share {share.name} must be DISABLED before it is deleted")
        del self.quota_shares[share.arn]

    def list_quota_shares(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        queue = self.get_queue(body.get("jobQueue"), "ListQuotaShares")
        shares = [s for s in self.quota_shares.values() if s.queue_arn == queue.arn]
        page, token = _page("ListQuotaShares", shares, body.get("maxResults"), body.get("nextToken"))
        return [s.describe() for s in page], token

    # -------------------------------------------------------------- service jobs
    def _share_problems(self, queue: ServiceQueue, request: Mapping[str, Any]) -> list[Problem]:
        kind = self.policy_kind(queue.scheduling_policy_arn)
        share, quota = request.get("shareIdentifier"), request.get("quotaShareName")
        out = []
        if kind == "fairshare" and share is None:
            out.append(Problem("shareIdentifier", f"is required: job queue {queue.name} has a fair-share scheduling policy"))
        if kind != "fairshare" and share is not None:
            out.append(Problem("shareIdentifier", f"must not be given: job queue {queue.name} has no fair-share scheduling policy"))
        if kind == "quotashare" and quota is None:
            out.append(Problem("quotaShareName", f"is required: job queue {queue.name} has a quota-share scheduling policy"))
        if kind != "quotashare" and quota is not None:
            out.append(Problem("quotaShareName", f"must not be given: job queue {queue.name} has no quota-share scheduling policy"))
        if kind == "quotashare" and isinstance(quota, str):
            target = self.quota_shares.get(self._arn("quota-share", f"{queue.name}/{quota}"))
            if target is None:
                out.append(Problem("quotaShareName", f"quota share {quota!r} does not exist on job queue {queue.name}"))
            elif target.state != "ENABLED":
                out.append(Problem("quotaShareName", f"quota share {quota!r} is DISABLED and accepts no jobs"))
        return out

    def submit(self, request: dict[str, Any]) -> tuple[ServiceJob, bool]:
        """Validate and store a job. Returns (job, created); ``created`` is False when
        clientTokenMode=return_existing handed back the first job of an identical request."""
        problems = submit_request_problems(request)
        if problems:
            raise invalid("SubmitServiceJob", problems)
        queue = self.get_queue(request["jobQueue"], "SubmitServiceJob")
        problems = self._share_problems(queue, request)
        if problems:
            raise invalid("SubmitServiceJob", problems)
        if queue.state != "ENABLED":
            raise ClientException(f"SubmitServiceJob: jobQueue: job queue {queue.name} is DISABLED and accepts no jobs")
        token = request.get("clientToken")
        if token is not None and token in self.client_tokens:
            fingerprint, job_id = self.client_tokens[token]
            if fingerprint != _fingerprint(request):
                raise ClientException(
                    f"SubmitServiceJob: clientToken: {token!r} was already used by a different request "
                    f"(job {job_id}); a clientToken identifies one request"
                )
            if settings().client_token_mode is ClientTokenMode.RETURN_EXISTING:
                return self.jobs[job_id], False
            raise ClientException(
                f"SubmitServiceJob: clientToken: an identical request with clientToken {token!r} was already "
                f"received (job {job_id}); they are the same request and the second request is rejected"
            )
        cfg = settings()
        job_id = str(uuid.uuid4())
        self._seq += 1
        job = ServiceJob(
            job_id=job_id,
            job_arn=self._arn("service-job", job_id),
            job_name=request["jobName"],
            queue_arn=queue.arn,
            request=dict(request),
            created=cfg.clock.now(),
            seconds_per_state=cfg.seconds_per_state,
            steps=cfg.scenarios.steps_for(request["jobName"]),
            account_id=self.account_id,
            region=self.region_name,
            tags=dict(request.get("tags") or {}),
            seq=self._seq,
        )
        self.jobs[job_id] = job
        if token is not None:
            self.client_tokens[token] = (_fingerprint(request), job_id)
        return job, True

    def advance(self, job: ServiceJob, now: float | None = None) -> ServiceJob:
        job.advance(self._now() if now is None else now, self.queues.get(job.queue_arn), self.sink)
        return job

    def advance_all(self) -> None:
        now = self._now()
        for job in self.jobs.values():
            if not job.terminal:
                self.advance(job, now)

    def find_job(self, identifier: str) -> ServiceJob | None:
        job = self.jobs.get(identifier)
        if job is None and ":service-job/" in identifier:
            job = self.jobs.get(identifier.rsplit("/", 1)[-1])
            if job is not None and job.job_arn != identifier:
                job = None
        return job

    def get_job(self, identifier: Any, operation: str, not_found_for_ms: float = 0) -> ServiceJob:
        job = self.find_job(str(identifier))
        now = self._now()
        if job is None or (not_found_for_ms and (now - job.created) * 1000 < not_found_for_ms):
            raise not_found(f"{operation}: service job", str(identifier))
        return self.advance(job, now)

    def list_jobs(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        problems: list[Problem] = []
        status = body.get("jobStatus")
        if status is not None and status not in {s.value for s in ServiceJobStatus}:
            problems.append(Problem("jobStatus", f"must be a ServiceJobStatus, got {status!r}"))
        filters = body.get("filters") or []
        if not isinstance(filters, list) or len(filters) > 1:
            problems.append(Problem("filters", "only one filter can be used at a time"))
            filters = []
        name = values = None
        for f in filters:
            name, values = (f or {}).get("name"), (f or {}).get("values")
            if name not in LIST_FILTERS:
                problems.append(Problem("filters[1].name", f"must be one of {', '.join(LIST_FILTERS)}, got {name!r}"))
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                problems.append(Problem("filters[1].values", "must be a non-empty list of strings"))
            elif name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT") and not all(v.isdigit() for v in values):
                problems.append(Problem("filters[1].values", "must be epoch milliseconds"))
        if problems:
            raise invalid("ListServiceJobs", problems)
        queue_arn = None
        if body.get("jobQueue"):
            queue_arn = self.get_queue(body["jobQueue"], "ListServiceJobs").arn
        jobs: Iterable[ServiceJob] = self.jobs.values()
        if queue_arn:
            jobs = [j for j in jobs if j.queue_arn == queue_arn]
        now = self._now()
        jobs = [self.advance(j, now) for j in jobs]
        # No filter: jobStatus (default RUNNING). A share filter combines with jobStatus when
        # one is given; any other filter makes ListServiceJobs ignore jobStatus (documented).
        if name is None or (name in STATUS_COMPATIBLE_FILTERS and status is not None):
            wanted = status or "RUNNING"
            jobs = [j for j in jobs if j.status.value == wanted]
        if name is not None:
            jobs = [j for j in jobs if _filter_matches(j, name, values or [])]
        jobs.sort(key=lambda j: (j.created, j.seq), reverse=True)
        page, token = _page("ListServiceJobs", jobs, body.get("maxResults"), body.get("nextToken"))
        return [j.summary() for j in page], token

    def terminate(self, identifier: Any, reason: Any, operation: str = "TerminateServiceJob", not_found_for_ms: float = 0) -> ServiceJob:
        if not isinstance(reason, str) or not reason:
            raise invalid(operation, [Problem("reason", "is required")])
        job = self.get_job(identifier, operation, not_found_for_ms)
        job.terminate(self._now(), reason, self.queues.get(job.queue_arn), self.sink)
        return job

    def terminate_many(self, ids: Any, reason: Any) -> tuple[list[str], list[dict[str, str]]]:
        problems = []
        if not isinstance(ids, list) or not ids:
            problems.append(Problem("jobs", "is required (a list of job ids)"))
        elif len(ids) > MAX_TERMINATE_BATCH:
            problems.append(Problem("jobs", f"at most {MAX_TERMINATE_BATCH} jobs per call, got {len(ids)}"))
        if not isinstance(reason, str) or not reason:
            problems.append(Problem("reason", "is required"))
        if problems:
            raise invalid("TerminateServiceJobs", problems)
        successful, errors = [], []
        for job_id in ids:
            if not isinstance(job_id, str) or not job_id:
                errors.append({"job": str(job_id), "code": "ClientException", "message": "jobs: a job id must be a non-empty string"})
                continue
            job = self.find_job(job_id)
            if job is not None:  # unknown ids count as successful (documented)
                job.terminate(self._now(), reason, self.queues.get(job.queue_arn), self.sink)
            successful.append(job_id)
        return successful, errors

    def update_job(self, identifier: Any, priority: Any, not_found_for_ms: float = 0) -> ServiceJob:
        problems = priority_problems(priority) if priority is not None else [Problem("schedulingPriority", "is required")]
        if problems:
            raise invalid("UpdateServiceJob", problems)
        job = self.get_job(identifier, "UpdateServiceJob", not_found_for_ms)
        if job.terminal:
            raise ClientException(f"UpdateServiceJob: jobId: service job {job.job_id} already {job.status.value}")
        job.request["schedulingPriority"] = priority
        return job

    # --------------------------------------------------------------------- tags
    def job_for_arn(self, arn: str) -> ServiceJob:
        job = self.find_job(arn)
        if job is None:
            raise not_found("service job", arn)
        return job

    def tag_job(self, arn: str, tags: Any) -> None:
        job = self.job_for_arn(arn)
        problems = tags_problems(tags)
        if not problems and len({**job.tags, **tags}) > MAX_TAGS:
            problems = [Problem("tags", f"a resource holds at most {MAX_TAGS} tags")]
        if problems:
            raise invalid("TagResource", problems)
        job.tags.update(tags)

    def untag_job(self, arn: str, keys: list[str]) -> None:
        job = self.job_for_arn(arn)
        for key in keys:
            job.tags.pop(key, None)


def _filter_matches(job: ServiceJob, name: str, values: list[str]) -> bool:
    created = ms(job.created)  # the createdAt the caller saw
    for value in values:
        if name == "JOB_NAME":
            if value.endswith("*"):
                if job.job_name.lower().startswith(value[:-1].lower()):
                    return True
            elif job.job_name.lower() == value.lower():
                return True
        elif (name == "BEFORE_CREATED_AT" and created < int(value)) or (name == "AFTER_CREATED_AT" and created > int(value)) or (name == "SHARE_IDENTIFIER" and job.request.get("shareIdentifier") == value) or (name == "QUOTA_SHARE_NAME" and job.request.get("quotaShareName") == value):
            return True
    return False


# Regions come from botocore's list for "batch"; the backend class keeps it apart from moto's.
service_job_backends = BackendDict(ServiceJobBackend, "batch")
