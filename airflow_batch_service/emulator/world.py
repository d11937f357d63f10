"""All service jobs of one account and region, advanced together as an event-ordered simulation.

A job's lifecycle is lazy (``jobs.ServiceJob``), but whether a RUNNABLE job may start depends on
other jobs ending, so no job can be advanced alone. On every read :meth:`World.advance` takes,
from one heap, the earliest due transition among all unfinished jobs, applies it at its own
time, and at each instant where capacity was freed or a job became ready runs the scheduler
(:meth:`World._schedule`): fill free capacity in queue order, then preempt where the
quota-share rules say so. Reads with nothing due cost one heap peek; the scheduler runs only
at instants where something changed (a job became RUNNABLE-ready, a job gave capacity back,
a setting changed), and stops early when an environment is full.

The rules themselves (fit, order, borrow, victims) are in ``scheduler``; this module keeps the
books: who holds capacity where, who waits where, the timers.

A transition a scenario holds until clients have seen the job (``holdUntilSeen``) has no timer
until the answer that releases it: the job then tells the world (:meth:`World._release_hold`),
which stamps the release with the time the world was last brought to (the time of the state
that answer showed) and re-times the job from there.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from typing import Any, Protocol

from airflow_batch_service.core import reasons
from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.emulator import scheduler as rules
from airflow_batch_service.emulator.jobs import AttemptSink, ServiceJob, ms
from airflow_batch_service.emulator.resources import QuotaShare, ServiceEnvironment, ServiceQueue
from airflow_batch_service.emulator.scheduler import Usage

#: frontOfQueue lists at most this many jobs (documented).
FRONT_OF_QUEUE = 100
#: fairshareUtilization.topCapacityUtilization lists at most this many shares (documented).
TOP_SHARES = 20

ShareKey = tuple[str, str]  # (queue ARN, shareIdentifier or quotaShareName)


class WorldCatalog(Protocol):
    """What the world reads from the backend (``catalog.Catalog`` + ``backend``)."""

    jobs: dict[str, ServiceJob]
    environments: dict[str, ServiceEnvironment]
    queues: dict[str, ServiceQueue]
    quota_shares: dict[str, QuotaShare]
    sink: AttemptSink

    def find_environment(self, identifier: str) -> ServiceEnvironment | None: ...
    def policy_kind(self, arn: str | None) -> str | None: ...
    def share_distribution(self, arn: str | None) -> list[dict[str, Any]]: ...


def share_key(job: ServiceJob) -> ShareKey:
    return (
        job.queue_arn,
        job.request.get("quotaShareName") or job.request.get("shareIdentifier") or "",
    )


class _ShareView:
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


class World:
    def __init__(self, catalog: WorldCatalog) -> None:
        self.catalog = catalog
        self._heap: list[tuple[float, int, str | None, int]] = []
        self._tick = itertools.count()
        self._in_pass = False
        #: The time of the latest :meth:`advance`: the instant every answer built since shows.
        self.now = 0.0
        self.waiting: dict[str, dict[str, ServiceJob]] = {}  # queue -> RUNNABLE, ready to go
        self.runnable: dict[str, dict[str, ServiceJob]] = {}  # queue -> every RUNNABLE job
        self.holders: dict[str, dict[str, ServiceJob]] = {}  # environment -> jobs holding capacity
        self.env_usage: dict[str, Usage] = {}
        self.share_usage: dict[ShareKey, Usage] = {}
        self.queue_active: dict[str, int] = {}
        self.peak_env: dict[str, dict[str, float]] = {}
        self.peak_queue: dict[str, int] = {}
        # queue -> [(time, order key, share)]: RUNNABLE jobs joining or leaving (snapshot).
        self._moves: dict[str, list[tuple[float, tuple[Any, ...], str]]] = {}

    # ------------------------------------------------------------------ timers
    def _push(self, at: float, job: ServiceJob | None) -> None:
        if job is None:
            heapq.heappush(self._heap, (at, next(self._tick), None, 0))
        else:
            heapq.heappush(self._heap, (at, next(self._tick), job.job_id, job.version))

    def kick(self, at: float) -> None:
        """Run the scheduler at ``at`` (something that changes its decisions happened)."""
        if not self._in_pass:
            self._push(at, None)

    def add(self, job: ServiceJob) -> None:
        job.on_release = self._release_hold
        self.sync(job, job.created)

    def _release_hold(self, job: ServiceJob) -> None:
        """Enough answers have shown ``job`` in its held status: it may leave it from now on
        (or later, if time alone would keep it longer). Its next timer is pushed; the next
        read applies it."""
        job.released_at = max(self.now, job.entered)
        self.sync(job, job.released_at)

    def refresh(self, now: float) -> None:
        """Settings changed (limits, states, time limit actions): re-time every unfinished job
        and schedule at ``now``. Call after :meth:`advance` to ``now``."""
        for job in self.catalog.jobs.values():
            if not job.terminal:
                self.sync(job, now)
        self.kick(now)

    # ---------------------------------------------------------------- advancing
    def advance(self, now: float) -> None:
        """Apply every transition due by ``now``, in time order, scheduling at each instant."""
        self.now = max(self.now, now)
        heap, jobs, queues, sink = (
            self._heap,
            self.catalog.jobs,
            self.catalog.queues,
            self.catalog.sink,
        )
        while heap and heap[0][0] <= now:
            instant = heap[0][0]
            run_scheduler = False
            while heap and heap[0][0] <= instant:
                _, _, job_id, version = heapq.heappop(heap)
                if job_id is None:
                    run_scheduler = True
                    continue
                job = jobs.get(job_id)
                if job is None or job.version != version or job.terminal:
                    continue
                queue = queues.get(job.queue_arn)
                due = job.next_due(queue)
                if due is None:
                    continue
                if due[0] > instant:
                    self._push(due[0], job)
                    continue
                due[1](due[0], queue, sink)
                self.sync(job, due[0])
            if run_scheduler:
                self._schedule(instant)

    def sync(self, job: ServiceJob, at: float) -> None:
        """Book a change of ``job`` (made at ``at``): capacity, waiting lists, its next timer."""
        job.version += 1
        qarn = job.queue_arn
        if job.env_arn is not None and not job.active:
            self._release(job)
            self.kick(at)
        is_runnable = job.status is ServiceJobStatus.RUNNABLE
        runnable = self.runnable.setdefault(qarn, {})
        if is_runnable != (job.job_id in runnable):
            if is_runnable:
                runnable[job.job_id] = job
            else:
                del runnable[job.job_id]
            self._moved(qarn, at, job)
        waiting = self.waiting.setdefault(qarn, {})
        is_waiting = is_runnable and job.eligible
        if is_waiting and job.job_id not in waiting:
            waiting[job.job_id] = job
            self.kick(at)
        elif not is_waiting and job.job_id in waiting:
            del waiting[job.job_id]
        if not job.terminal:
            due = job.next_due(self.catalog.queues.get(qarn))
            if due is not None:
                self._push(due[0], job)

    def _moved(self, queue_arn: str, at: float, job: ServiceJob) -> None:
        moves = self._moves.setdefault(queue_arn, [])
        moves.append((at, self._position_key(job), share_key(job)[1]))
        runnable = self.runnable.get(queue_arn, {})
        if len(moves) > 2 * len(runnable) + 256:
            oldest = min((j.entered for j in runnable.values()), default=at)
            moves[:] = [m for m in moves if m[0] >= oldest]

    def _position_key(self, job: ServiceJob) -> tuple[Any, ...]:
        queue = self.catalog.queues.get(job.queue_arn)
        kind = self.catalog.policy_kind(queue.scheduling_policy_arn) if queue else None
        return rules.priority_key(job) if kind else rules.fifo_key(job)

    # ---------------------------------------------------------------- capacity
    def _acquire(self, job: ServiceJob, env: ServiceEnvironment, at: float) -> None:
        job.start(at, self.catalog.sink)
        job.env_arn = env.arn
        job.dispatched = at
        self.holders.setdefault(env.arn, {})[job.job_id] = job
        used = self.env_usage.setdefault(env.arn, Usage())
        used.add(job.demand)
        self.share_usage.setdefault(share_key(job), Usage()).add(job.demand)
        active = self.queue_active[job.queue_arn] = self.queue_active.get(job.queue_arn, 0) + 1
        peak = self.peak_env.setdefault(env.arn, {"instances": 0.0, "jobs": 0})
        peak["instances"] = max(peak["instances"], used.total)
        peak["jobs"] = max(peak["jobs"], len(self.holders[env.arn]))
        self.peak_queue[job.queue_arn] = max(self.peak_queue.get(job.queue_arn, 0), active)
        self.sync(job, at)

    def _release(self, job: ServiceJob) -> None:
        env_arn, job.env_arn = job.env_arn, None
        assert env_arn is not None
        self.holders.get(env_arn, {}).pop(job.job_id, None)
        self.env_usage[env_arn].remove(job.demand)
        self.share_usage[share_key(job)].remove(job.demand)
        self.queue_active[job.queue_arn] -= 1

    def _preempt(self, victim: ServiceJob, at: float, reason: str) -> None:
        victim.preempt(at, self.catalog.sink, reason)
        self.sync(victim, at)

    # ---------------------------------------------------------------- scheduler
    def _environments(self, queue: ServiceQueue) -> list[ServiceEnvironment]:
        """The queue's ENABLED service environments, in their order."""
        out = []
        for item in sorted(queue.env_order, key=lambda i: i.get("order", 0)):
            env = self.catalog.find_environment(str(item.get("serviceEnvironment")))
            if env is not None and env.state == "ENABLED":
                out.append(env)
        return out

    def _schedule(self, at: float) -> None:
        """One scheduling decision at ``at``: queues by priority (higher first), each filling
        free capacity in its own order; repeated while preemption frees more."""
        self._in_pass = True
        try:
            for _ in range(8):
                changed = False
                queues = [
                    self.catalog.queues[q]
                    for q, w in self.waiting.items()
                    if w and q in self.catalog.queues
                ]
                for queue in sorted(queues, key=lambda q: (-q.priority, q.name)):
                    envs = self._environments(queue)
                    if not envs or not self.waiting.get(queue.arn):
                        continue
                    kind = self.catalog.policy_kind(queue.scheduling_policy_arn)
                    if kind == "quotashare":
                        changed |= self._pass_quota(queue, envs[0], at)
                    else:
                        changed |= self._pass_plain(queue, envs, kind, at)
                if not changed:
                    break
        finally:
            self._in_pass = False

    def _order(
        self, queue: ServiceQueue, kind: str | None, jobs: list[ServiceJob]
    ) -> list[ServiceJob]:
        if kind == "fairshare":
            distribution = self.catalog.share_distribution(queue.scheduling_policy_arn)
            usage = {
                name: u.total for (qarn, name), u in self.share_usage.items() if qarn == queue.arn
            }
            return rules.fair_share_order(
                jobs,
                share_of=lambda j: share_key(j)[1],
                usage=usage,
                weight=lambda share: rules.share_weight(distribution, share),
                size=lambda j: j.size,
            )
        if kind == "quotashare":
            return sorted(jobs, key=rules.priority_key)
        return sorted(jobs, key=rules.fifo_key)

    def _pass_plain(
        self, queue: ServiceQueue, envs: list[ServiceEnvironment], kind: str | None, at: float
    ) -> bool:
        """FIFO and fair-share queues: every ready job, in order, starts in the first
        environment it fits (a job that does not fit does not hold back smaller ones)."""
        limits = [
            (env, rules.limit_map(env.capacity_limits), self.env_usage.setdefault(env.arn, Usage()))
            for env in envs
        ]
        if all(rules.exhausted(lim, used) for _, lim, used in limits):
            return False
        changed = False
        for job in self._order(queue, kind, list(self.waiting[queue.arn].values())):
            for env, lim, used in limits:
                if rules.fits(lim, used, job.demand):
                    self._acquire(job, env, at)
                    changed = True
                    break
            if all(rules.exhausted(lim, used) for _, lim, used in limits):
                break
        return changed

    def _share_views(self, queue: ServiceQueue) -> dict[str, _ShareView]:
        return {
            s.name: _ShareView(s, self.share_usage.setdefault((queue.arn, s.name), Usage()))
            for s in self.catalog.quota_shares.values()
            if s.queue_arn == queue.arn
        }

    def _pass_quota(self, queue: ServiceQueue, env: ServiceEnvironment, at: float) -> bool:
        """Quota-share queues: (1) each share runs its jobs within its own limits, by priority
        then submission; (2) idle capacity is lent to LEND_AND_BORROW shares FIFO (submission
        time), within their borrowLimit; (3) the first waiting job of each share may reclaim
        its share's capacity from borrowers (cross-share preemption) or, when the share enables
        it, preempt lower-priority jobs of its own share (in-share preemption)."""
        env_lim = rules.limit_map(env.capacity_limits)
        env_used = self.env_usage.setdefault(env.arn, Usage())
        views = self._share_views(queue)
        all_views = list(views.values())
        unassigned = {
            u: max(0.0, cap - sum(v.limits.get(u, 0.0) for v in all_views))
            for u, cap in env_lim.items()
        }
        waiting = self.waiting[queue.arn]
        order = self._order(queue, "quotashare", list(waiting.values()))
        changed = False
        if not rules.exhausted(env_lim, env_used):
            for job in order:  # (1) own quota
                view = views.get(share_key(job)[1])
                if (
                    view
                    and rules.fits(view.limits, view.used, job.demand)
                    and rules.fits(env_lim, env_used, job.demand)
                ):
                    self._acquire(job, env, at)
                    changed = True
            for job in sorted(
                (j for j in order if j.job_id in waiting), key=rules.fifo_key
            ):  # (2) borrow
                view = views.get(share_key(job)[1])
                if (
                    view
                    and view.sharing.get("strategy") == "LEND_AND_BORROW"
                    and rules.can_borrow(view, all_views, job.demand, unassigned)
                    and rules.fits(env_lim, env_used, job.demand)
                ):
                    self._acquire(job, env, at)
                    changed = True
        heads: dict[str, ServiceJob] = {}
        for job in order:
            if job.job_id in waiting:
                heads.setdefault(share_key(job)[1], job)
        for name, job in heads.items():  # (3) preemption
            view = views.get(name)
            if view is None:
                continue
            if self._cross_share(job, view, views, env, env_lim, env_used, at) or self._in_share(
                job, view, env, env_lim, env_used, at
            ):
                changed = True
        return changed

    def _cross_share(
        self,
        job: ServiceJob,
        view: _ShareView,
        views: dict[str, _ShareView],
        env: ServiceEnvironment,
        env_lim: dict[str, float],
        env_used: Usage,
        at: float,
    ) -> bool:
        """The job fits its own share's limits but not the environment: take capacity back
        from shares that are above their own limits (borrowing), if that makes room."""
        if not rules.fits(view.limits, view.used, job.demand):
            return False
        scratch_env = env_used.copy()
        scratch = {name: v.used.copy() for name, v in views.items()}
        candidates = []
        for h in self.holders.get(env.arn, {}).values():
            other = views.get(share_key(h)[1])
            if (
                h.queue_arn == job.queue_arn
                and other is not None
                and other is not view
                and other.borrowing(other.used, job.demand)
            ):
                candidates.append(h)

        def release(h: ServiceJob) -> None:
            scratch_env.remove(h.demand)
            scratch[share_key(h)[1]].remove(h.demand)

        victims = rules.choose_victims(
            candidates,
            release,
            satisfied=lambda: rules.fits(env_lim, scratch_env, job.demand),
            still_eligible=lambda h: views[share_key(h)[1]].borrowing(
                scratch[share_key(h)[1]], job.demand
            ),
        )
        if victims is None:
            return False
        for victim in victims:
            self._preempt(victim, at, reasons.PREEMPTION)
        self._acquire(job, env, at)
        return True

    def _in_share(
        self,
        job: ServiceJob,
        view: _ShareView,
        env: ServiceEnvironment,
        env_lim: dict[str, float],
        env_used: Usage,
        at: float,
    ) -> bool:
        """In-share preemption (when the share enables it): preempt lower-priority jobs of the
        same share until the job fits the share's own limits and the environment."""
        if view.share.preemption.get("inSharePreemption") != "ENABLED":
            return False
        scratch_env, scratch_share = env_used.copy(), view.used.copy()
        candidates = [
            h
            for h in self.holders.get(env.arn, {}).values()
            if share_key(h) == share_key(job) and h.priority < job.priority
        ]

        def release(h: ServiceJob) -> None:
            scratch_env.remove(h.demand)
            scratch_share.remove(h.demand)

        victims = rules.choose_victims(
            candidates,
            release,
            satisfied=lambda: (
                rules.fits(view.limits, scratch_share, job.demand)
                and rules.fits(env_lim, scratch_env, job.demand)
            ),
        )
        if victims is None:
            return False
        for victim in victims:
            self._preempt(victim, at, rules.IN_SHARE_PREEMPTION)
        self._acquire(job, env, at)
        return True

    # ------------------------------------------------------------ user actions
    def terminate(self, job: ServiceJob, now: float, reason: str) -> None:
        self.advance(now)
        if not job.terminal:
            job.terminate(now, reason, self.catalog.sink)
            self.sync(job, now)

    def reprioritize(self, job: ServiceJob, priority: int, now: float) -> None:
        """UpdateServiceJob: the new priority reorders the queue (and may preempt) from now."""
        self.advance(now)
        if job.job_id in self.runnable.get(job.queue_arn, {}):
            self._moved(job.queue_arn, now, job)  # leaves its old position...
            job.request["schedulingPriority"] = priority
            self._moved(job.queue_arn, now, job)  # ...for its new one
        else:
            job.request["schedulingPriority"] = priority
        self.kick(now)
        self.advance(now)

    # ---------------------------------------------------------------- reading
    def _since(self, job: ServiceJob, share: str | None = None) -> int:
        """earliestTimeAtPosition (**choice**): when the job last moved in the order, i.e.
        the later of its entering RUNNABLE and the last time a job ahead of it (by its order
        key) joined or left the RUNNABLE jobs (of its quota share, for ``share``)."""
        key = self._position_key(job)
        since = job.entered
        for at, other, other_share in self._moves.get(job.queue_arn, ()):
            if at >= since and other < key and (share is None or other_share == share):
                since = at
        return ms(since)

    def snapshot(self, queue: ServiceQueue, now: float) -> dict[str, Any]:
        """GetJobQueueSnapshot for a SAGEMAKER_TRAINING queue (botocore's output shape)."""
        self.advance(now)
        kind = self.catalog.policy_kind(queue.scheduling_policy_arn)
        order = self._order(queue, kind, list(self.runnable.get(queue.arn, {}).values()))
        stamp = ms(now)
        out: dict[str, Any] = {
            "frontOfQueue": {
                "jobs": [
                    {"jobArn": j.job_arn, "earliestTimeAtPosition": self._since(j)}
                    for j in order[:FRONT_OF_QUEUE]
                ],
                "lastUpdatedAt": stamp,
            }
        }
        if kind == "quotashare":
            heads: dict[str, ServiceJob] = {}
            for job in order:
                heads.setdefault(share_key(job)[1], job)
            out["frontOfQuotaShares"] = {
                "quotaShares": {
                    name: [{"jobArn": j.job_arn, "earliestTimeAtPosition": self._since(j, name)}]
                    for name, j in heads.items()
                },
                "lastUpdatedAt": stamp,
            }
        total = Usage()
        for holders in self.holders.values():
            for job in holders.values():
                if job.queue_arn == queue.arn:
                    total.add(job.demand)
        shares = sorted(
            (
                (name, u)
                for (qarn, name), u in self.share_usage.items()
                if qarn == queue.arn and u.total > 0
            ),
            key=lambda item: (-item[1].total, item[0]),
        )
        utilization: dict[str, Any] = {"totalCapacityUsage": total.to_api(), "lastUpdatedAt": stamp}
        if kind == "fairshare":
            utilization["fairshareUtilization"] = {
                "activeShareCount": len(shares),
                "topCapacityUtilization": [
                    {"shareIdentifier": name, "capacityUsage": u.to_api()}
                    for name, u in shares[:TOP_SHARES]
                ],
            }
        elif kind == "quotashare":
            utilization["quotaShareUtilization"] = {
                "topCapacityUtilization": [
                    {"quotaShareName": name, "capacityUsage": u.to_api()}
                    for name, u in shares[:TOP_SHARES]
                ],
            }
        out["queueUtilization"] = utilization
        return out

    def capacity_report(self) -> dict[str, Any]:
        """What the emulator's scheduler holds now and the most it ever held, per service
        environment and per queue (for tests and the demo; not an AWS API)."""
        envs = {}
        for arn, env in self.catalog.environments.items():
            used = self.env_usage.get(arn, Usage())
            peak = self.peak_env.get(arn, {"instances": 0.0, "jobs": 0})
            envs[env.name] = {
                "capacityLimits": env.capacity_limits,
                "instancesInUse": used.total,
                "capacityUsage": used.to_api(),
                "activeJobs": len(self.holders.get(arn, {})),
                "peakInstances": peak["instances"],
                "peakActiveJobs": int(peak["jobs"]),
            }
        queues = {
            q.name: {
                "activeJobs": self.queue_active.get(q.arn, 0),
                "peakActiveJobs": self.peak_queue.get(q.arn, 0),
                "runnableJobs": len(self.runnable.get(q.arn, {})),
            }
            for q in self.catalog.queues.values()
        }
        return {"environments": envs, "queues": queues}
