"""The queue page's data: what AWS says about each SAGEMAKER_TRAINING queue, and who waits.

Per queue: its service environments, GetJobQueueSnapshot (capacity in use, the front of the
queue), ListServiceJobs(RUNNABLE), the quota shares of a quota-share queue, and the tags of
the first :data:`FRONT_DESCRIBES` waiting jobs, whose task tag (``core.task_tag``) names the
Airflow task that submitted them. The task is shown only if it is a task instance of this
deployment and its DAG is one the viewer may read (``access.user_can_read_dags``); every AWS
answer is cached (``cache``) so a page view, refreshed every few seconds, stays cheap. An AWS
error is reported on the queue's card, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from airflow_batch_service.core.task_tag import TASK_TAG, TaskKey, parse_task_tag
from airflow_batch_service.plugins.access import user_can_read_dags
from airflow_batch_service.plugins.cache import CONFIG_TTL, LIVE_TTL, TAGS_TTL, TTLCache
from airflow_batch_service.plugins.queues import QueueView, build_queue_view
from airflow_batch_service.plugins.services import Services
from airflow_batch_service.plugins.values import error_text

#: Front-of-queue jobs whose tags are read per queue (one describe each, once per job).
FRONT_DESCRIBES = 10


@dataclass
class _QueueInputs:
    """What ``build_queue_view`` takes for one queue, as gathered."""

    queue: Mapping[str, Any]
    environments: list[Mapping[str, Any]]
    snapshot: dict[str, Any] | None = None
    runnable: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    quota_shares: Any = None
    errors: list[str] = field(default_factory=list)
    owners: dict[str, TaskKey] = field(default_factory=dict)  # job ARN -> its tag's task


def _runnable_jobs(hook: Any, job_queue: str) -> list[dict[str, Any]]:
    return list(hook.list_service_jobs(job_queue=job_queue, job_status="RUNNABLE", max_items=100))


def _job_tags(hook: Any, job_id: str) -> dict[str, Any]:
    return dict(hook.describe_service_job(job_id).get("tags") or {})


def _gather(
    hook: Any, cache: TTLCache, conn_id: str, queue: Mapping[str, Any], environments: list[Any]
) -> _QueueInputs:
    """One queue's inputs; each AWS error becomes a line of ``errors``."""
    arn = str(queue.get("jobQueueArn") or queue.get("jobQueueName"))
    order = sorted(queue.get("serviceEnvironmentOrder") or [], key=lambda o: o.get("order") or 0)
    wanted = {str(o.get("serviceEnvironment")) for o in order}
    got = _QueueInputs(
        queue,
        [
            e
            for e in environments
            if e.get("serviceEnvironmentArn") in wanted or e.get("serviceEnvironmentName") in wanted
        ],
    )
    try:
        got.snapshot = cache.get(
            ("snapshot", conn_id, arn), LIVE_TTL, partial(hook.get_job_queue_snapshot, arn)
        )
    except Exception as exc:
        got.errors.append(f"GetJobQueueSnapshot failed: {error_text(exc)}")
    try:
        got.runnable = cache.get(
            ("runnable", conn_id, arn), LIVE_TTL, partial(_runnable_jobs, hook, arn)
        )
    except Exception as exc:
        got.errors.append(f"ListServiceJobs failed: {error_text(exc)}")
    policy_arn = queue.get("schedulingPolicyArn")
    if policy_arn:
        try:
            policy = hook.describe_scheduling_policy(str(policy_arn)) or {}
            if policy.get("quotaSharePolicy") is not None:
                got.quota_shares = cache.get(
                    ("quota-shares", conn_id, arn), CONFIG_TTL, partial(hook.list_quota_shares, arn)
                )
        except Exception as exc:
            got.errors.append(f"Quota shares could not be read: {error_text(exc)}")
    front = [
        str(j.get("jobArn"))
        for j in ((got.snapshot or {}).get("frontOfQueue") or {}).get("jobs") or []
    ]
    if not front:
        front = [
            str(s.get("jobArn"))
            for s in sorted(got.runnable, key=lambda s: s.get("createdAt") or 0)
        ]
    for job_arn in front[:FRONT_DESCRIBES]:
        try:
            got.tags[job_arn] = cache.get(
                ("tags", conn_id, job_arn), TAGS_TTL, partial(_job_tags, hook, job_arn)
            )
        except Exception as exc:
            got.errors.append(
                f"DescribeServiceJob {job_arn.rsplit('/', 1)[-1]} failed: {error_text(exc)}"
            )
            break
        owner = parse_task_tag(got.tags[job_arn].get(TASK_TAG))
        if owner is not None:
            got.owners[job_arn] = owner
    return got


def queue_views(services: Services, conn_id: str, user: Any) -> list[QueueView]:
    """The views of every SAGEMAKER_TRAINING queue ``conn_id`` reaches, by name, for ``user``."""
    hook = services.hook(conn_id, None)
    cache = services.cache
    queues = cache.get(("queues", conn_id), CONFIG_TTL, hook.describe_service_job_queues)
    env_names = sorted(
        {
            str(o.get("serviceEnvironment"))
            for q in queues
            for o in q.get("serviceEnvironmentOrder") or []
        }
    )
    environments = (
        cache.get(
            ("envs", conn_id, tuple(env_names)),
            CONFIG_TTL,
            lambda: hook.describe_service_environments(env_names),
        )
        if env_names
        else []
    )
    now = services.now_ms()
    gathered = [
        _gather(hook, cache, conn_id, queue, environments)
        for queue in sorted(queues, key=lambda q: str(q.get("jobQueueName")))
    ]
    owners = [owner for got in gathered for owner in got.owners.values()]
    known = services.metadata.existing_tasks(owners) if owners else set()
    visible = user_can_read_dags(user, sorted({o.dag_id for o in owners})) if owners else set()
    return [
        build_queue_view(
            got.queue,
            environments=got.environments,
            snapshot=got.snapshot,
            runnable=got.runnable,
            tags=got.tags,
            quota_shares=got.quota_shares,
            known_tasks=known,
            visible_dags=visible,
            now_ms=now,
            errors=got.errors,
        )
        for got in gathered
    ]
