"""Service-job state for one account and region, in a moto ``BackendDict`` (so resets work).

Every handler in ``responses.py`` ends up here. A submit is checked against the documented
bounds in ``core.validation`` (the one table the operator also checks before any call); tags
and priorities of other operations by the emulator's own ``field_rules``. The lifecycle is
``jobs.ServiceJob``, advanced for all jobs together (capacity, order, preemption) by
``world.World``; listing is ``listing``; environments, queues and quota shares are the
``catalog`` mixins.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.validation import Problem
from airflow_batch_service.emulator.catalog import Catalog
from airflow_batch_service.emulator.errors import ClientException, invalid, not_found
from airflow_batch_service.emulator.field_rules import (
    MAX_TAGS,
    MAX_TERMINATE_BATCH,
    priority_problems,
    tags_problems,
)
from airflow_batch_service.emulator.jobs import ServiceJob
from airflow_batch_service.emulator.listing import Query
from airflow_batch_service.emulator.paging import page
from airflow_batch_service.emulator.resources import QuotaShare, ServiceEnvironment, ServiceQueue
from airflow_batch_service.emulator.sagemaker_bridge import SageMakerBridge
from airflow_batch_service.emulator.settings import STARTUP, ClientTokenMode, settings
from airflow_batch_service.emulator.submit_rules import submit_problems
from airflow_batch_service.emulator.world import World


def _fingerprint(request: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in request.items() if v is not None}, sort_keys=True)


class ServiceJobBackend(Catalog, BaseBackend):
    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.environments: dict[str, ServiceEnvironment] = {}
        self.queues: dict[str, ServiceQueue] = {}
        self.jobs: dict[str, ServiceJob] = {}
        self.quota_shares: dict[str, QuotaShare] = {}
        self.quota_policies: dict[str, dict[str, Any]] = {}  # policy ARN -> quotaSharePolicy
        self.client_tokens: dict[str, tuple[str, str]] = {}  # token -> (fingerprint, job id)
        self.sink = SageMakerBridge(on_function_exit=self._function_exited)
        self.world = World(self)
        self._seq = 0
        if region_name == STARTUP.region and account_id == DEFAULT_ACCOUNT_ID:
            for spec in STARTUP.queues:
                self.create_ready_queue(
                    spec.name, spec.fair_share, spec.quota_share, spec.max_capacity
                )

    # -------------------------------------------------------------- service jobs
    def _share_problems(self, queue: ServiceQueue, request: Mapping[str, Any]) -> list[Problem]:
        """AWS's own refusal of a share argument that does not fit the queue's policy.

        Deliberately NOT ``core.queue_check.queue_problems``, which reads alike: that is the
        provider's pre-submit check, and this plays the service it guards against. Were the
        emulator to ask the provider's own function, a mistake in it would be agreed with
        instead of caught (``tests/emulator/test_quota_shares.py`` reaches this one with boto3
        directly, past no provider check).
        """
        kind = self.policy_kind(queue.scheduling_policy_arn)
        out = []
        for field, policy, words in (
            ("shareIdentifier", "fairshare", "fair-share"),
            ("quotaShareName", "quotashare", "quota-share"),
        ):
            given = request.get(field) is not None
            if kind == policy and not given:
                rule = f"is required: job queue {queue.name} has a {words} scheduling policy"
                out.append(Problem(field, rule))
            elif kind != policy and given:
                rule = f"must not be given: job queue {queue.name} has no {words} scheduling policy"
                out.append(Problem(field, rule))
        quota = request.get("quotaShareName")
        if kind == "quotashare" and isinstance(quota, str):
            target = self.quota_shares.get(self._arn("quota-share", f"{queue.name}/{quota}"))
            if target is None:
                out.append(
                    Problem(
                        "quotaShareName",
                        f"quota share {quota!r} does not exist on job queue {queue.name}",
                    )
                )
            elif target.state != "ENABLED":
                out.append(
                    Problem(
                        "quotaShareName", f"quota share {quota!r} is DISABLED and accepts no jobs"
                    )
                )
        return out

    def submit(self, request: dict[str, Any]) -> tuple[ServiceJob, bool]:
        """Validate and store a job. Returns (job, created); ``created`` is False when
        clientTokenMode=return_existing handed back the first job of an identical request."""
        problems = submit_problems(request)
        if problems:
            raise invalid("SubmitServiceJob", problems)
        queue = self.get_queue(request["jobQueue"], "SubmitServiceJob")
        problems = self._share_problems(queue, request)
        if problems:
            raise invalid("SubmitServiceJob", problems)
        if queue.state != "ENABLED":
            raise ClientException(
                f"SubmitServiceJob: jobQueue: job queue {queue.name} is DISABLED and accepts no jobs"
            )
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
        self.advance_all()  # the world reaches the submit time before the job joins it
        self.jobs[job_id] = job
        self.world.add(job)
        if token is not None:
            self.client_tokens[token] = (_fingerprint(request), job_id)
        return job, True

    def advance(self, job: ServiceJob, now: float | None = None) -> ServiceJob:
        """Bring the whole world (every job of this account and region) up to ``now``: one
        job's progress depends on the capacity others free. The state-change events due by
        then go out too."""
        self.advance_all(now)
        return job

    def advance_all(self, now: float | None = None) -> None:
        now = self._now() if now is None else now
        self.world.advance(now)
        settings().events.flush(now)

    def state_changed(
        self, job: ServiceJob, at: float, before: ServiceJobStatus, preempted: bool
    ) -> None:
        """The world applied a status change of ``job`` (``World.sync``): AWS's event."""
        settings().events.job_changed(job, at, before, preempted)

    def _function_exited(self, job: ServiceJob) -> None:
        """The real function behind ``job``'s attempt exited (the bridge calls this holding
        the state lock): bring the world to now and re-time the job from there."""
        now = self._now()
        self.world.advance(now)
        self.world.function_exited(job, now)

    def gate_opened(self, name: str) -> float | None:
        """When the named gate opened (emulator clock), None while it is shut."""
        return settings().gates.opened_at(name)

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
        query = Query.parse(body)
        jobs = list(self.jobs.values())
        if body.get("jobQueue"):
            queue_arn = self.get_queue(body["jobQueue"], "ListServiceJobs").arn
            jobs = [j for j in jobs if j.queue_arn == queue_arn]
        self.advance_all()
        selected = query.select(jobs)
        items, token = page(
            "ListServiceJobs", selected, body.get("maxResults"), body.get("nextToken")
        )
        return [j.summary() for j in items], token

    def terminate(
        self,
        identifier: Any,
        reason: Any,
        operation: str = "TerminateServiceJob",
        not_found_for_ms: float = 0,
    ) -> ServiceJob:
        if not isinstance(reason, str) or not reason:
            raise invalid(operation, [Problem("reason", "is required")])
        job = self.get_job(identifier, operation, not_found_for_ms)
        self.world.terminate(job, self._now(), reason)
        return job

    def terminate_many(self, ids: Any, reason: Any) -> tuple[list[str], list[dict[str, str]]]:
        problems = []
        if not isinstance(ids, list) or not ids:
            problems.append(Problem("jobs", "is required (a list of job ids)"))
        elif len(ids) > MAX_TERMINATE_BATCH:
            problems.append(
                Problem("jobs", f"at most {MAX_TERMINATE_BATCH} jobs per call, got {len(ids)}")
            )
        if not isinstance(reason, str) or not reason:
            problems.append(Problem("reason", "is required"))
        if problems:
            raise invalid("TerminateServiceJobs", problems)
        successful, errors = [], []
        for job_id in ids:
            if not isinstance(job_id, str) or not job_id:
                errors.append(
                    {
                        "job": str(job_id),
                        "code": "ClientException",
                        "message": "jobs: a job id must be a non-empty string",
                    }
                )
                continue
            job = self.find_job(job_id)
            if job is not None:  # unknown ids count as successful (documented)
                self.world.terminate(job, self._now(), reason)
            successful.append(job_id)
        return successful, errors

    def update_job(self, identifier: Any, priority: Any, not_found_for_ms: float = 0) -> ServiceJob:
        problems = (
            priority_problems(priority)
            if priority is not None
            else [Problem("schedulingPriority", "is required")]
        )
        if problems:
            raise invalid("UpdateServiceJob", problems)
        job = self.get_job(identifier, "UpdateServiceJob", not_found_for_ms)
        if job.terminal:
            raise ClientException(
                f"UpdateServiceJob: jobId: service job {job.job_id} already {job.status.value}"
            )
        self.world.reprioritize(job, priority, self._now())
        return job

    def snapshot(self, identifier: Any) -> dict[str, Any]:
        """GetJobQueueSnapshot of a SAGEMAKER_TRAINING queue."""
        if not isinstance(identifier, str) or not identifier:
            raise invalid("GetJobQueueSnapshot", [Problem("jobQueue", "is required")])
        queue = self.get_queue(identifier, "GetJobQueueSnapshot")
        return self.world.snapshot(queue, self._now())

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


# Regions come from botocore's list for "batch"; the backend class keeps it apart from moto's.
service_job_backends = BackendDict(ServiceJobBackend, "batch")
