"""Where a RUNNABLE job stands: its place in the queue and the capacity in use. No I/O.

A job can sit in RUNNABLE for hours, and DescribeServiceJob says nothing about why.
``GetJobQueueSnapshot`` does: the first 100 RUNNABLE jobs in scheduling order
(``frontOfQueue``) and the capacity in use per instance type, for the queue and per quota share
or fair share (``queueUtilization``). :func:`standing` reads one snapshot for one job, with the
limits that apply to it (the service environment's ``capacityLimits``, or its quota share's),
and :meth:`Standing.describe` words it for the task log::

    RUNNABLE for 12m: position 7 in ml-training (quota share team-a); ml.p4d.24xlarge 16 of 16 in use

:meth:`Standing.key` is what "changed" means: the position and the usage, not the minutes, so
a wait logs a line when the job moves or capacity frees up, never once per poll.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: GetJobQueueSnapshot lists this many RUNNABLE jobs at most.
FRONT_OF_QUEUE = 100
#: A service environment's limit on all instances together (not per instance type).
NUM_INSTANCES = "NUM_INSTANCES"
#: Seconds between two snapshot reads of one wait (a worker-side wait has no shared snapshot).
READ_INTERVAL_SECONDS = 60.0


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _usage(items: Iterable[Mapping[str, Any]] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or ():
        unit = str(item.get("capacityUnit") or "")
        out[unit] = out.get(unit, 0.0) + _number(item.get("quantity"))
    return out


def limits_of(capacity_limits: Iterable[Mapping[str, Any]] | None) -> dict[str, float]:
    """``capacityLimits`` (``[{maxCapacity, capacityUnit}]``) as unit -> limit."""
    return {
        str(item.get("capacityUnit") or ""): _number(item.get("maxCapacity"))
        for item in capacity_limits or ()
    }


@dataclass(frozen=True)
class Standing:
    """One job's place and the capacity picture, from one snapshot."""

    queue: str
    position: int | None  # 1-based among the first 100 RUNNABLE; None: not among them
    listed: int  # how many RUNNABLE jobs the snapshot listed (at most 100)
    scope: str = ""  # "quota share team-a" / "fair share team-a" / "" (the whole queue)
    usage: dict[str, float] = field(default_factory=dict)  # unit -> in use
    limits: dict[str, float] = field(default_factory=dict)  # unit -> limit, where known

    @property
    def place(self) -> str:
        if self.position is not None:
            return f"position {self.position}"
        if self.listed >= FRONT_OF_QUEUE:
            return f"beyond the first {FRONT_OF_QUEUE}"
        return "not yet listed"  # the snapshot lags the job by a moment

    def capacity(self) -> str:
        limits = dict(self.limits)
        parts = []
        instances = limits.pop(NUM_INSTANCES, None)
        if instances is not None:  # one limit for every instance type together
            used = sum(self.usage.values())
            types = ", ".join(f"{unit} {self.usage[unit]:g}" for unit in sorted(self.usage))
            parts.append(
                f"{used:g} of {instances:g} instances in use" + (f" ({types})" if types else "")
            )
            units = sorted(limits)
        else:
            units = sorted(set(self.usage) | set(limits))
        for unit in units:
            used = self.usage.get(unit, 0.0)
            limit = limits.get(unit)
            amount = f"{used:g} of {limit:g}" if limit is not None else f"{used:g}"
            parts.append(f"{unit} {amount} in use")
        return "; ".join(parts) if parts else "no capacity in use"

    def key(self) -> str:
        """What changing means: place and capacity (JSON-able, for the wait's state)."""
        return f"{self.place}|{self.capacity()}"

    def describe(self, runnable_for: str) -> str:
        scope = f" ({self.scope})" if self.scope else ""
        return (
            f"RUNNABLE for {runnable_for}: {self.place} in {self.queue}{scope}; {self.capacity()}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "position": self.position, "place": self.place,
                "scope": self.scope, "capacity": self.capacity()}  # fmt: skip


def standing(
    snapshot: Mapping[str, Any],
    *,
    job_arn: str,
    queue: str,
    quota_share: str | None = None,
    share_identifier: str | None = None,
    limits: Mapping[str, float] | None = None,
) -> Standing:
    """Read ``snapshot`` (GetJobQueueSnapshot's response) for the job ``job_arn``.

    The usage shown is the job's quota share's (or fair share's) when the snapshot has one for
    it, else the whole queue's; ``limits`` are the caller's (environment or quota share).
    """
    jobs = ((snapshot.get("frontOfQueue") or {}).get("jobs")) or []
    position = next(
        (i for i, job in enumerate(jobs, start=1) if job.get("jobArn") == job_arn), None
    )
    utilization = snapshot.get("queueUtilization") or {}
    usage = _usage(utilization.get("totalCapacityUsage"))
    scope = ""
    if quota_share:
        scope = f"quota share {quota_share}"
        by_share = utilization.get("quotaShareUtilization")
        usage = _share_usage(by_share, "quotaShareName", quota_share, usage)
    elif share_identifier:
        scope = f"fair share {share_identifier}"
        by_share = utilization.get("fairshareUtilization")
        usage = _share_usage(by_share, "shareIdentifier", share_identifier, usage)
    return Standing(queue, position, len(jobs), scope, usage, dict(limits or {}))


def _share_usage(
    by_share: Mapping[str, Any] | None, name_key: str, name: str, usage: dict[str, float]
) -> dict[str, float]:
    """The usage of the share ``name`` in a snapshot's per-share breakdown (its
    ``topCapacityUtilization`` entries, named by ``name_key``), else ``usage``."""
    for share in (by_share or {}).get("topCapacityUtilization") or ():
        if share.get(name_key) == name:
            usage = _usage(share.get("capacityUsage"))
    return usage
