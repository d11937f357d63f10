"""The queue page's view model: capacity in use against the limits, and who is waiting.

Pure (no Airflow, no boto3). Inputs are API responses as boto3 returns them:

- the queue (DescribeJobQueues detail) and its service environment(s)
  (DescribeServiceEnvironments: ``capacityLimits`` ``[{maxCapacity, capacityUnit}]``, where the
  unit is ``NUM_INSTANCES`` or an instance type on quota-managed environments);
- GetJobQueueSnapshot: ``queueUtilization`` (instances held per instance type, per fair share
  or quota share) and ``frontOfQueue.jobs`` (the first 100 RUNNABLE jobs in scheduling order,
  each with ``earliestTimeAtPosition``);
- ListServiceJobs(RUNNABLE) summaries (name, ``createdAt``, share, capacity) and, for the
  few front-of-queue jobs, the tags of their describe: the durable submission's task tag
  (``core.task_tag``) says which task of an Airflow deployment submitted the job;
- the quota shares (ListQuotaShares) of a quota-share queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_batch_service.core.task_tag import TASK_TAG, TaskKey, parse_task_tag
from airflow_batch_service.plugins.values import int_or_none

NUM_INSTANCES = "NUM_INSTANCES"


@dataclass(frozen=True)
class CapacityBar:
    """``used`` of ``limit`` (None: no limit applies) ``unit``s."""

    label: str
    used: float
    limit: float | None
    unit: str = "instances"

    @property
    def fraction(self) -> float | None:
        if not self.limit:
            return None
        return min(1.0, self.used / self.limit)

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def text(self) -> str:
        used = _num(self.used)
        if self.limit is None:
            return f"{used} {self.unit} in use (no limit for this type)"
        return f"{used} of {_num(self.limit)} {self.unit} in use"


@dataclass(frozen=True)
class ShareUsage:
    """A fair share or quota share: what it holds, and (quota shares) its own limits."""

    name: str
    kind: str  # "fair share" | "quota share"
    bars: tuple[CapacityBar, ...]
    detail: str | None = None  # strategy, borrow limit, weight


@dataclass(frozen=True)
class WaitingJob:
    position: int
    job_id: str | None
    job_arn: str
    job_name: str | None
    age_ms: int | None  # since submit (createdAt)
    at_position_ms: int | None  # since earliestTimeAtPosition
    share: str | None
    capacity: str | None  # "ml.g5.xlarge x 1"
    #: The task its tag names; None when untagged, not described, or in a DAG the viewer
    #: may not read (such a job is shown as any ListServiceJobs caller sees it).
    owner: TaskKey | None = None
    owner_known: bool = False  # the task instance exists in this deployment
    owner_visible: bool = False  # and is linked (the viewer may read its DAG)
    described: bool = False  # its tags were read


@dataclass(frozen=True)
class QueueView:
    name: str
    arn: str | None
    state: str | None
    status: str | None
    policy: str  # "FIFO" | "fair share" | "quota share"
    environments: tuple[str, ...]
    capacity: tuple[CapacityBar, ...]
    shares: tuple[ShareUsage, ...]
    waiting: tuple[WaitingJob, ...]
    waiting_total: int
    active_shares: int | None = None
    snapshot_at: int | None = None
    errors: tuple[str, ...] = ()

    @property
    def in_use(self) -> float:
        return sum(b.used for b in self.capacity if b.label == "all instance types") or sum(
            b.used for b in self.capacity
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _usage(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in entries or ():
        if isinstance(e, Mapping) and e.get("capacityUnit"):
            out[str(e["capacityUnit"])] = out.get(str(e["capacityUnit"]), 0.0) + float(
                e.get("quantity") or 0
            )
    return out


def _limits(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in entries or ():
        if isinstance(e, Mapping) and e.get("capacityUnit") is not None:
            out[str(e["capacityUnit"])] = float(e.get("maxCapacity") or 0)
    return out


def capacity_bars(
    usage: Mapping[str, float], limits: Mapping[str, float]
) -> tuple[CapacityBar, ...]:
    """Bars for ``usage`` (per instance type) against ``limits`` (``NUM_INSTANCES`` caps all
    instances together; an instance-type limit caps that type)."""
    bars: list[CapacityBar] = []
    if NUM_INSTANCES in limits or not limits:
        bars.append(
            CapacityBar("all instance types", sum(usage.values()), limits.get(NUM_INSTANCES))
        )
    for unit in sorted(set(usage) | {u for u in limits if u != NUM_INSTANCES}):
        if unit == NUM_INSTANCES:
            continue
        bars.append(CapacityBar(unit, usage.get(unit, 0.0), limits.get(unit)))
    return tuple(bars)


def _policy_kind(
    queue: Mapping[str, Any],
    quota_shares: Sequence[Mapping[str, Any]] | None,
    snapshot: Mapping[str, Any],
) -> str:
    utilization = snapshot.get("queueUtilization") or {}
    if quota_shares or "quotaShareUtilization" in utilization:
        return "quota share"
    if queue.get("schedulingPolicyArn") or "fairshareUtilization" in utilization:
        return "fair share"
    return "FIFO"


def _capacity_text(summary: Mapping[str, Any]) -> str | None:
    usage = summary.get("capacityUsage") or []
    parts = [
        f"{u.get('capacityUnit')} x {_num(float(u.get('quantity') or 0))}"
        for u in usage
        if isinstance(u, Mapping)
    ]
    return ", ".join(parts) or None


def build_queue_view(
    queue: Mapping[str, Any],
    *,
    environments: Sequence[Mapping[str, Any]],
    snapshot: Mapping[str, Any] | None,
    runnable: Sequence[Mapping[str, Any]] = (),
    tags: Mapping[str, Mapping[str, Any]] | None = None,
    quota_shares: Sequence[Mapping[str, Any]] | None = None,
    known_tasks: set[tuple[str, str, str, int]] | None = None,
    visible_dags: set[str] | None = None,
    now_ms: int,
    max_waiting: int = 100,
    errors: Sequence[str] = (),
) -> QueueView:
    """The view of one SAGEMAKER_TRAINING queue.

    ``runnable``: ListServiceJobs summaries (any order; the snapshot gives the order);
    ``tags``: jobArn -> tags of the described front jobs; ``known_tasks``: task keys that exist
    in this deployment; ``visible_dags``: dag ids the viewer may read (None: none). A tag that
    names any other DAG is dropped here, so nothing downstream can show it.
    """
    snapshot = snapshot or {}
    tags = tags or {}
    utilization = snapshot.get("queueUtilization") or {}
    env_names = tuple(
        str(e.get("serviceEnvironmentName") or e.get("serviceEnvironmentArn") or "?")
        for e in environments
    )
    limits: dict[str, float] = {}
    for env in environments:
        for unit, value in _limits(env.get("capacityLimits")).items():
            limits[unit] = limits.get(unit, 0.0) + value
    capacity = capacity_bars(_usage(utilization.get("totalCapacityUsage")), limits)

    shares: list[ShareUsage] = []
    active_shares = None
    fair = utilization.get("fairshareUtilization")
    if isinstance(fair, Mapping):
        active_shares = int_or_none(fair.get("activeShareCount"))
        for entry in fair.get("topCapacityUtilization") or []:
            usage = _usage(entry.get("capacityUsage"))
            shares.append(
                ShareUsage(
                    str(entry.get("shareIdentifier")),
                    "fair share",
                    tuple(CapacityBar(unit, used, None) for unit, used in sorted(usage.items())),
                )
            )
    quota_usage: dict[str, dict[str, float]] = {}
    quota = utilization.get("quotaShareUtilization")
    if isinstance(quota, Mapping):
        for entry in quota.get("topCapacityUtilization") or []:
            quota_usage[str(entry.get("quotaShareName"))] = _usage(entry.get("capacityUsage"))
    if quota_shares is not None or quota_usage:
        described = {str(q.get("quotaShareName")): q for q in quota_shares or ()}
        for name in sorted(set(described) | set(quota_usage)):
            q = described.get(name, {})
            share_limits = _limits(q.get("capacityLimits"))
            usage = quota_usage.get(name, {})
            sharing = q.get("resourceSharingConfiguration") or {}
            detail_parts = []
            if sharing.get("strategy"):
                detail_parts.append(str(sharing["strategy"]))
            if (
                sharing.get("borrowLimit") is not None
                and sharing.get("strategy") == "LEND_AND_BORROW"
            ):
                limit = int(sharing["borrowLimit"])
                detail_parts.append(
                    "borrows without limit" if limit < 0 else f"borrows up to {limit}%"
                )
            preemption = (q.get("preemptionConfiguration") or {}).get("inSharePreemption")
            if preemption == "ENABLED":
                detail_parts.append("in-share preemption")
            if q.get("state") and q.get("state") != "ENABLED":
                detail_parts.append(str(q["state"]))
            units = sorted(set(usage) | set(share_limits))
            shares.append(
                ShareUsage(
                    name,
                    "quota share",
                    tuple(CapacityBar(u, usage.get(u, 0.0), share_limits.get(u)) for u in units)
                    or (CapacityBar("all instance types", 0.0, None),),
                    ", ".join(detail_parts) or None,
                )
            )

    by_arn = {str(s.get("jobArn")): s for s in runnable if s.get("jobArn")}
    front = (snapshot.get("frontOfQueue") or {}).get("jobs") or []
    ordered: list[tuple[str, int | None]] = [
        (str(j.get("jobArn")), int_or_none(j.get("earliestTimeAtPosition")))
        for j in front
        if j.get("jobArn")
    ]
    seen = {arn for arn, _ in ordered}
    # RUNNABLE jobs past the snapshot's 100 (or listed but not yet in it): oldest first.
    rest = sorted(
        (s for a, s in by_arn.items() if a not in seen), key=lambda s: s.get("createdAt") or 0
    )
    ordered.extend((str(s.get("jobArn")), None) for s in rest)

    waiting: list[WaitingJob] = []
    for position, (arn, at_position) in enumerate(ordered[:max_waiting], start=1):
        summary = by_arn.get(arn, {})
        job_tags = tags.get(arn)
        owner = parse_task_tag((job_tags or {}).get(TASK_TAG)) if job_tags is not None else None
        if owner is not None and owner.dag_id not in (visible_dags or ()):
            # A DAG the viewer may not read does not exist for them (Airflow's rule): the job
            # is shown as ListServiceJobs shows it to anyone, without the tag's task identity.
            owner = None
        created = int_or_none(summary.get("createdAt"))
        known = bool(owner and known_tasks is not None and owner in known_tasks)
        waiting.append(
            WaitingJob(
                position=position,
                job_id=str(summary.get("jobId") or arn.rsplit("/", 1)[-1]),
                job_arn=arn,
                job_name=summary.get("jobName"),
                age_ms=now_ms - created if created is not None else None,
                at_position_ms=now_ms - at_position if at_position is not None else None,
                share=summary.get("shareIdentifier") or summary.get("quotaShareName"),
                capacity=_capacity_text(summary),
                owner=owner,
                owner_known=known,
                owner_visible=known,
                described=job_tags is not None,
            )
        )
    return QueueView(
        name=str(queue.get("jobQueueName") or queue.get("jobQueueArn") or "?"),
        arn=queue.get("jobQueueArn"),
        state=queue.get("state"),
        status=queue.get("status"),
        policy=_policy_kind(queue, quota_shares, snapshot),
        environments=env_names,
        capacity=capacity,
        shares=tuple(shares),
        waiting=tuple(waiting),
        waiting_total=len(ordered),
        active_shares=active_shares,
        snapshot_at=int_or_none((utilization or {}).get("lastUpdatedAt"))
        or int_or_none((snapshot.get("frontOfQueue") or {}).get("lastUpdatedAt")),
        errors=tuple(errors),
    )
