"""One scheduling pass over a quota-share queue: own quota, borrowing, then preemption.

Apart from ``world`` (which keeps the books and runs FIFO and fair-share queues) because
quota shares bring rules of their own: each share is a virtual queue with its own limits,
idle capacity is lent to ``LEND_AND_BORROW`` shares, and a share may take capacity back
(cross-share preemption) or, when enabled, preempt its own lower-priority jobs (in-share
preemption). The rules themselves are ``scheduler``'s; this module applies them to the world.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_batch_service.emulator import scheduler as rules
from airflow_batch_service.emulator import status_reasons
from airflow_batch_service.emulator.jobs import ServiceJob
from airflow_batch_service.emulator.resources import QuotaShare, ServiceEnvironment, ServiceQueue
from airflow_batch_service.emulator.scheduler import Usage

if TYPE_CHECKING:
    from airflow_batch_service.emulator.world import World


class ShareView:
    """One quota share as the borrow rules see it (``scheduler.ShareState``)."""

    def __init__(self, share: QuotaShare, used: Usage) -> None:
        self.share = share
        self.limits = rules.limit_map(share.capacity_limits)
        self.sharing: Mapping[str, Any] = share.resource_sharing
        self.used = used

    def borrowing(self, used: Usage, demand: Mapping[str | None, float]) -> bool:
        """Above its own limit in a unit ``demand`` needs (so its excess may be reclaimed)."""
        for unit, cap in self.limits.items():
            relevant = unit == rules.NUM_INSTANCES or demand.get(unit) or None in demand
            if relevant and used.of(unit) > cap + 1e-9:
                return True
        return False


class _Pass:
    """The state one pass over one queue and its environment reads and changes."""

    def __init__(
        self, world: World, queue: ServiceQueue, env: ServiceEnvironment, at: float
    ) -> None:
        self.world, self.env, self.at = world, env, at
        self.env_limits = rules.limit_map(env.capacity_limits)
        self.env_used = world.env_usage.setdefault(env.arn, Usage())
        self.views = {
            s.name: ShareView(s, world.share_usage.setdefault((queue.arn, s.name), Usage()))
            for s in world.catalog.quota_shares.values()
            if s.queue_arn == queue.arn
        }

    def view_of(self, job: ServiceJob) -> ShareView | None:
        return self.views.get(job.share)

    def start(self, job: ServiceJob) -> bool:
        self.world.acquire(job, self.env, self.at)
        return True

    def take_over(self, job: ServiceJob, victims: list[ServiceJob] | None, reason: str) -> bool:
        """Preempt ``victims`` (None: nobody, for they would not make room) and start ``job``."""
        if victims is None:
            return False
        for victim in victims:
            self.world.preempt(victim, self.at, reason)
        return self.start(job)

    def holders(self) -> Iterable[ServiceJob]:
        return self.world.holders.get(self.env.arn, {}).values()


def pass_quota(world: World, queue: ServiceQueue, env: ServiceEnvironment, at: float) -> bool:
    """Quota-share queues: (1) each share runs its jobs within its own limits, by priority
    then submission; (2) idle capacity is lent to LEND_AND_BORROW shares FIFO (submission
    time), within their borrowLimit; (3) the first waiting job of each share may reclaim
    its share's capacity from borrowers (cross-share preemption) or, when the share enables
    it, preempt lower-priority jobs of its own share (in-share preemption)."""
    p = _Pass(world, queue, env, at)
    all_views = list(p.views.values())
    unassigned = {
        u: max(0.0, cap - sum(v.limits.get(u, 0.0) for v in all_views))
        for u, cap in p.env_limits.items()
    }
    waiting = world.waiting[queue.arn]
    order = world.order(queue, "quotashare", list(waiting.values()))
    changed = False
    if not rules.exhausted(p.env_limits, p.env_used):
        for job in order:  # (1) own quota
            view = p.view_of(job)
            if (
                view
                and rules.fits(view.limits, view.used, job.demand)
                and rules.fits(p.env_limits, p.env_used, job.demand)
            ):
                changed = p.start(job)
        for job in sorted((j for j in order if j.job_id in waiting), key=rules.fifo_key):
            view = p.view_of(job)  # (2) borrow
            if (
                view
                and view.sharing.get("strategy") == "LEND_AND_BORROW"
                and rules.can_borrow(view, all_views, job.demand, unassigned)
                and rules.fits(p.env_limits, p.env_used, job.demand)
            ):
                changed = p.start(job)
    heads: dict[str, ServiceJob] = {}
    for job in order:
        if job.job_id in waiting:
            heads.setdefault(job.share, job)
    for name, job in heads.items():  # (3) preemption
        view = p.views.get(name)
        if view is not None and (_cross_share(p, job, view) or _in_share(p, job, view)):
            changed = True
    return changed


def _cross_share(p: _Pass, job: ServiceJob, view: ShareView) -> bool:
    """The job fits its own share's limits but not the environment: take capacity back
    from shares that are above their own limits (borrowing), if that makes room."""
    if not rules.fits(view.limits, view.used, job.demand):
        return False
    scratch_env = p.env_used.copy()
    scratch = {name: v.used.copy() for name, v in p.views.items()}
    candidates = []
    for h in p.holders():
        other = p.view_of(h)
        if (
            h.queue_arn == job.queue_arn
            and other is not None
            and other is not view
            and other.borrowing(other.used, job.demand)
        ):
            candidates.append(h)

    def release(h: ServiceJob) -> None:
        scratch_env.remove(h.demand)
        scratch[h.share].remove(h.demand)

    victims = rules.choose_victims(
        candidates,
        release,
        satisfied=lambda: rules.fits(p.env_limits, scratch_env, job.demand),
        still_eligible=lambda h: p.views[h.share].borrowing(scratch[h.share], job.demand),
    )
    return p.take_over(job, victims, status_reasons.CROSS_SHARE_PREEMPTION)


def _in_share(p: _Pass, job: ServiceJob, view: ShareView) -> bool:
    """In-share preemption (when the share enables it): preempt lower-priority jobs of the
    same share until the job fits the share's own limits and the environment."""
    if view.share.preemption.get("inSharePreemption") != "ENABLED":
        return False
    scratch_env, scratch_share = p.env_used.copy(), view.used.copy()
    candidates = [
        h
        for h in p.holders()
        if h.queue_arn == job.queue_arn and h.share == job.share and h.priority < job.priority
    ]

    def release(h: ServiceJob) -> None:
        scratch_env.remove(h.demand)
        scratch_share.remove(h.demand)

    victims = rules.choose_victims(
        candidates,
        release,
        satisfied=lambda: (
            rules.fits(view.limits, scratch_share, job.demand)
            and rules.fits(p.env_limits, scratch_env, job.demand)
        ),
    )
    return p.take_over(job, victims, status_reasons.IN_SHARE_PREEMPTION)
