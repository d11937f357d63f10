"""The scheduling rules of service jobs: what fits, in which order, who may borrow, who is
preempted. Pure functions over plain numbers and small protocols: no moto, no boto3, so the
rules are unit-tested directly (``tests/emulator/test_scheduler_rules.py``).

Documented by AWS (Batch user guide: quota management, quota shares, preemption, fair share;
API reference: CapacityLimit, QuotaShareResourceSharingConfiguration):

- a job needs its ``capacityUsage`` (instance type x count); a ``NUM_INSTANCES`` limit caps the
  instances of every type together, an instance-type limit caps that type only, and on an
  environment limited by instance types a job of another type waits "until a matching capacity
  limit is configured";
- FIFO queues order by submission time; fair-share queues by ``schedulingPriority`` (higher
  first) and share usage; quota shares are virtual queues with their own limits;
- ``RESERVE`` neither lends nor borrows, ``LEND`` lends idle capacity, ``LEND_AND_BORROW`` also
  borrows, up to ``borrowLimit`` percent of its ``maxCapacity`` per unit (-1, the default: no
  limit); ``borrowLimit`` only applies to ``LEND_AND_BORROW``; idle capacity goes to borrowers
  FIFO;
- cross-share preemption takes borrowed capacity back; in-share preemption (when enabled) lets
  a higher-priority job preempt lower-priority ones of the same share.

The emulator's choices (AWS documents a heuristic, not its details) are marked **choice**.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from airflow_batch_service.core.validation import Problem

NUM_INSTANCES = "NUM_INSTANCES"
STRATEGIES = ("RESERVE", "LEND", "LEND_AND_BORROW")
LENDERS = ("LEND", "LEND_AND_BORROW")
#: Documented default of borrowLimit: no limit.
UNLIMITED_BORROW = -1

#: A job's demand: instance type -> instances. ``None`` is an instance of unknown type (a
#: payload without ResourceConfig: **choice**, it counts as one instance against
#: NUM_INSTANCES limits and is not limited by instance-type limits).
Demand = Mapping[str | None, float]


def demand_of(capacity_usage: Iterable[Mapping[str, Any]]) -> dict[str | None, float]:
    """``capacityUsage`` entries -> demand. No entry at all: one instance of unknown type."""
    out: dict[str | None, float] = {}
    for item in capacity_usage:
        unit = str(item.get("capacityUnit"))
        out[unit] = out.get(unit, 0.0) + float(item.get("quantity", 1))
    return out or {None: 1.0}


class Usage:
    """Instances in use, per instance type and in total."""

    __slots__ = ("by_type", "total")

    def __init__(self) -> None:
        self.by_type: dict[str | None, float] = {}
        self.total = 0.0

    def add(self, demand: Demand, sign: float = 1.0) -> None:
        for unit, qty in demand.items():
            value = self.by_type.get(unit, 0.0) + sign * qty
            if abs(value) < 1e-9:
                self.by_type.pop(unit, None)
            else:
                self.by_type[unit] = value
            self.total += sign * qty
        if abs(self.total) < 1e-9:
            self.total = 0.0

    def remove(self, demand: Demand) -> None:
        self.add(demand, -1.0)

    def of(self, unit: str) -> float:
        """What counts against a limit of this unit."""
        return self.total if unit == NUM_INSTANCES else self.by_type.get(unit, 0.0)

    def copy(self) -> Usage:
        out = Usage()
        out.by_type = dict(self.by_type)
        out.total = self.total
        return out

    def to_api(self) -> list[dict[str, Any]]:
        """``capacityUsage`` shape (instance types only; unknown-type instances are left out)."""
        return [
            {"capacityUnit": unit, "quantity": qty}
            for unit, qty in sorted(self.by_type.items(), key=lambda kv: str(kv[0]))
            if unit is not None and qty > 0
        ]


def limit_map(limits: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """``capacityLimits`` -> unit -> maxCapacity (a missing unit means NUM_INSTANCES)."""
    out: dict[str, float] = {}
    for item in limits:
        unit = str(item.get("capacityUnit") or NUM_INSTANCES)
        out[unit] = float(item.get("maxCapacity", 0))
    return out


def need_for(limits: Mapping[str, float], demand: Demand) -> dict[str, float] | None:
    """How much of each limit's unit the demand takes; None when some instance type of the
    demand has no matching limit (documented: such a job waits for a matching limit)."""
    if NUM_INSTANCES not in limits:
        for unit in demand:
            if unit is not None and unit not in limits:
                return None
    out: dict[str, float] = {}
    for unit in limits:
        out[unit] = sum(demand.values()) if unit == NUM_INSTANCES else float(demand.get(unit, 0.0))
    return out


def fits(
    limits: Mapping[str, float],
    used: Usage,
    demand: Demand,
    extra: Mapping[str, float] | None = None,
) -> bool:
    """Does ``demand`` fit what ``limits`` leave free above ``used`` (plus ``extra`` per unit)?"""
    need = need_for(limits, demand)
    if need is None:
        return False
    for unit, qty in need.items():
        if qty and used.of(unit) + qty > limits[unit] + (extra or {}).get(unit, 0.0) + 1e-9:
            return False
    return True


def can_ever_fit(limits: Mapping[str, float], demand: Demand) -> bool:
    return fits(limits, Usage(), demand)


def exhausted(limits: Mapping[str, float], used: Usage) -> bool:
    """Nothing more can start: every limit is used up (a quick exit for a full environment)."""
    return bool(limits) and all(used.of(unit) >= cap - 1e-9 for unit, cap in limits.items())


# ----------------------------------------------------------------------- quota shares
def sharing_problems(config: Any, path: str = "resourceSharingConfiguration") -> list[Problem]:
    """The documented rules of a resource sharing configuration, as field problems."""
    if not isinstance(config, Mapping) or config.get("strategy") not in STRATEGIES:
        return [Problem(f"{path}.strategy", f"must be one of {', '.join(STRATEGIES)}")]
    limit = config.get("borrowLimit")
    if limit is None:
        return []
    if config["strategy"] != "LEND_AND_BORROW":
        return [
            Problem(
                f"{path}.borrowLimit",
                f"can only be applied to a quota share with strategy LEND_AND_BORROW, not {config['strategy']}",
            )
        ]
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or (limit < 0 and limit != UNLIMITED_BORROW)
    ):
        return [
            Problem(
                f"{path}.borrowLimit", f"must be -1 (no limit) or a percentage >= 0, got {limit!r}"
            )
        ]
    return []


def borrow_allowance(limits: Mapping[str, float], sharing: Mapping[str, Any]) -> dict[str, float]:
    """How far above its own limits a share may go, per unit: 0 unless LEND_AND_BORROW; then
    ``borrowLimit`` percent of each maxCapacity, or unlimited for -1 / unset."""
    if sharing.get("strategy") != "LEND_AND_BORROW":
        return dict.fromkeys(limits, 0.0)
    pct = sharing.get("borrowLimit", UNLIMITED_BORROW)
    if pct is None or pct == UNLIMITED_BORROW:
        return dict.fromkeys(limits, math.inf)
    return {unit: cap * float(pct) / 100.0 for unit, cap in limits.items()}


class ShareState(Protocol):
    """What the borrow rules read about one quota share."""

    @property
    def limits(self) -> Mapping[str, float]: ...
    @property
    def sharing(self) -> Mapping[str, Any]: ...
    @property
    def used(self) -> Usage: ...


def borrowed(share: ShareState, unit: str) -> float:
    return max(0.0, share.used.of(unit) - share.limits.get(unit, 0.0))


def idle(share: ShareState, unit: str) -> float:
    return max(0.0, share.limits.get(unit, 0.0) - share.used.of(unit))


def lendable(shares: Sequence[ShareState], unit: str, unassigned: float = 0.0) -> float:
    """Idle capacity of ``unit`` that borrowers can still take: the idle capacity of every
    lending share (LEND, LEND_AND_BORROW) plus what no share owns (**choice**), less what is
    already borrowed."""
    pool = unassigned + sum(idle(s, unit) for s in shares if s.sharing.get("strategy") in LENDERS)
    return max(0.0, pool - sum(borrowed(s, unit) for s in shares))


def can_borrow(
    share: ShareState, shares: Sequence[ShareState], demand: Demand, unassigned: Mapping[str, float]
) -> bool:
    """Can ``share`` run ``demand`` by borrowing: within its borrowLimit and the idle capacity
    others lend? (The service environment's own limits are checked separately.)"""
    need = need_for(share.limits, demand)
    if need is None:
        return False
    allowance = borrow_allowance(share.limits, share.sharing)
    for unit, qty in need.items():
        if not qty:
            continue
        over_before = borrowed(share, unit)
        over_after = max(0.0, share.used.of(unit) + qty - share.limits[unit])
        if over_after > allowance[unit] + 1e-9:
            return False
        extra = over_after - over_before
        if extra > 1e-9 and extra > lendable(shares, unit, unassigned.get(unit, 0.0)) + 1e-9:
            return False
    return True


# ------------------------------------------------------------------------- ordering
class Queued(Protocol):
    """What ordering and victim choice read about a job."""

    @property
    def priority(self) -> int: ...
    @property
    def created(self) -> float: ...
    @property
    def seq(self) -> int: ...


def fifo_key(job: Queued) -> tuple[float, int]:
    """FIFO queues (documented): submission time."""
    return (job.created, job.seq)


def priority_key(job: Queued) -> tuple[int, float, int]:
    """Higher schedulingPriority first, then submission time (quota shares; fair share before
    share usage is taken into account)."""
    return (-job.priority, job.created, job.seq)


def fair_share_order(
    jobs: Iterable[Queued],
    share_of: Callable[[Any], str],
    usage: Mapping[str, float],
    weight: Callable[[str], float],
    size: Callable[[Any], float],
) -> list[Any]:
    """Fair-share order: priority first (documented); within a priority, the share with the
    least usage (instances in use x its weightFactor: a smaller weight gets more) goes next,
    counting each job placed ahead as if it had started (**choice**: no decay over time);
    within a share, submission time."""
    by_level: dict[int, dict[str, list[Any]]] = {}
    for job in jobs:
        by_level.setdefault(job.priority, {}).setdefault(share_of(job), []).append(job)
    used = dict(usage)
    out: list[Any] = []
    for level in sorted(by_level, reverse=True):
        shares = by_level[level]
        heads: list[tuple[float, float, int, str, int]] = []
        for share, items in shares.items():
            items.sort(key=fifo_key)
            first = items[0]
            heads.append((used.get(share, 0.0) * weight(share), first.created, first.seq, share, 0))
        heapq.heapify(heads)
        while heads:
            _, _, _, share, index = heapq.heappop(heads)
            job = shares[share][index]
            out.append(job)
            used[share] = used.get(share, 0.0) + size(job)
            if index + 1 < len(shares[share]):
                nxt = shares[share][index + 1]
                heapq.heappush(
                    heads, (used[share] * weight(share), nxt.created, nxt.seq, share, index + 1)
                )
    return out


def share_weight(distribution: Iterable[Mapping[str, Any]], share: str) -> float:
    """A fair-share policy's weightFactor for a share identifier (exact match first, then the
    longest ``prefix*`` match); 1 when unlisted. Documented: a smaller weight gets more."""
    best: tuple[int, float] | None = None
    for item in distribution:
        ident = str(item.get("shareIdentifier", ""))
        weight = float(item.get("weightFactor") or 1.0)
        if ident == share:
            return weight if weight > 0 else 1.0
        if (
            ident.endswith("*")
            and share.startswith(ident[:-1])
            and (best is None or len(ident) > best[0])
        ):
            best = (len(ident), weight)
    return best[1] if best and best[1] > 0 else 1.0


# ------------------------------------------------------------------------ preemption
class Running(Queued, Protocol):
    @property
    def dispatched(self) -> float: ...


def victim_key(job: Running) -> tuple[int, float, int]:
    """**choice**: which running job is preempted first: the lowest schedulingPriority, then
    the one that got its capacity last (it loses the least work), then the newest submit."""
    return (job.priority, -job.dispatched, -job.seq)


def choose_victims(
    candidates: Iterable[Any],
    release: Callable[[Any], None],
    satisfied: Callable[[], bool],
    still_eligible: Callable[[Any], bool] = lambda _: True,
) -> list[Any] | None:
    """Walk ``candidates`` in :func:`victim_key` order, ``release``-ing each eligible one
    (on the caller's scratch copy of the usage) until ``satisfied()``. Returns the victims, or
    None when even all of them would not make room (then nobody is preempted)."""
    chosen: list[Any] = []
    for job in sorted(candidates, key=victim_key):
        if satisfied():
            break
        if not still_eligible(job):
            continue
        release(job)
        chosen.append(job)
    return chosen if chosen and satisfied() else None
