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
books: who holds capacity where, who waits where, the timers. Each change of a job's status is
reported to the catalog as it is applied (:meth:`World.sync`), at its own time and in order:
AWS's state-change events (``events``). Besides reads, moving the clock (``control.advance``)
and, in server mode, a ticker (``ticker``) bring the world up to date, so the events flow
while nobody reads.

A transition a scenario holds until clients have seen the job (``holdUntilSeen``) has no timer
until the answer that releases it: the job then tells the world (:meth:`World._release_hold`),
which stamps the release with the time the world was last brought to (the time of the state
that answer showed) and re-times the job from there. A named gate (``holdUntilReleased``)
works the same way: opening it re-times every job waiting at it (:meth:`World.gate_opened`),
and so does the exit of a real function run (:meth:`World.function_exited`).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Protocol

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.emulator import scheduler as rules
from airflow_batch_service.emulator import snapshot
from airflow_batch_service.emulator.attempts import AttemptSink
from airflow_batch_service.emulator.jobs import ServiceJob
from airflow_batch_service.emulator.resources import QuotaShare, ServiceEnvironment, ServiceQueue
from airflow_batch_service.emulator.scheduler import Usage
from airflow_batch_service.emulator.world_quota import pass_quota

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
    def gate_opened(self, name: str) -> float | None: ...
    def share_distribution(self, arn: str | None) -> list[dict[str, Any]]: ...
    def state_changed(
        self, job: ServiceJob, at: float, before: ServiceJobStatus, preempted: bool
    ) -> None: ...


def share_key(job: ServiceJob) -> ShareKey:
    return (job.queue_arn, job.share)


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
        self.moves: dict[str, list[tuple[float, tuple[Any, ...], str]]] = {}

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
        job.gate_opened = self.catalog.gate_opened
        self.sync(job, job.created)

    def gate_opened(self, name: str, at: float) -> list[str]:
        """The gate ``name`` opened at ``at``: re-time every job waiting at it (the next read
        applies what is due). Returns their ids. Call after :meth:`advance` to ``at``."""
        released = [
            job
            for job in self.catalog.jobs.values()
            if not job.terminal and job.step.gate_for(job.status.value) == name
        ]
        for job in released:
            self.sync(job, max(at, job.entered))
        return [job.job_id for job in released]

    def function_exited(self, job: ServiceJob, at: float) -> None:
        """The real function behind ``job``'s attempt exited at ``at`` (``function_runs``):
        re-time the job, which waited in RUNNING with no timer (the next read applies what is
        due). Call after :meth:`advance` to ``at``."""
        if self.catalog.jobs.get(job.job_id) is job and not job.terminal:
            self.sync(job, max(at, job.entered))

    def at_gates(self) -> dict[str, list[str]]:
        """``{gate: [job ids]}`` of the jobs waiting at a shut gate now."""
        out: dict[str, list[str]] = {}
        for job in self.catalog.jobs.values():
            gate = job.waiting_at
            if gate is not None:
                out.setdefault(gate, []).append(job.job_id)
        return out

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
        """Book a change of ``job`` (made at ``at``): capacity, waiting lists, its next timer;
        and a change of status is reported (``state_changed``: AWS's state-change event)."""
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
        if job.changes != job.reported[0]:
            _, before, preemptions = job.reported
            job.reported = (job.changes, job.status, job.preempted_count)
            self.catalog.state_changed(job, at, before, job.preempted_count > preemptions)

    def _moved(self, queue_arn: str, at: float, job: ServiceJob) -> None:
        moves = self.moves.setdefault(queue_arn, [])
        moves.append((at, self.position_key(job), job.share))
        runnable = self.runnable.get(queue_arn, {})
        if len(moves) > 2 * len(runnable) + 256:
            oldest = min((j.entered for j in runnable.values()), default=at)
            moves[:] = [m for m in moves if m[0] >= oldest]

    def position_key(self, job: ServiceJob) -> tuple[Any, ...]:
        queue = self.catalog.queues.get(job.queue_arn)
        kind = self.catalog.policy_kind(queue.scheduling_policy_arn) if queue else None
        return rules.priority_key(job) if kind else rules.fifo_key(job)

    # ---------------------------------------------------------------- capacity
    def acquire(self, job: ServiceJob, env: ServiceEnvironment, at: float) -> None:
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

    def preempt(self, victim: ServiceJob, at: float, reason: str) -> None:
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
                        changed |= pass_quota(self, queue, envs[0], at)
                    else:
                        changed |= self._pass_plain(queue, envs, kind, at)
                if not changed:
                    break
        finally:
            self._in_pass = False

    def order(
        self, queue: ServiceQueue, kind: str | None, jobs: list[ServiceJob]
    ) -> list[ServiceJob]:
        if kind == "fairshare":
            distribution = self.catalog.share_distribution(queue.scheduling_policy_arn)
            usage = {
                name: u.total for (qarn, name), u in self.share_usage.items() if qarn == queue.arn
            }
            return rules.fair_share_order(
                jobs,
                share_of=lambda j: j.share,
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
        for job in self.order(queue, kind, list(self.waiting[queue.arn].values())):
            for env, lim, used in limits:
                if rules.fits(lim, used, job.demand):
                    self.acquire(job, env, at)
                    changed = True
                    break
            if all(rules.exhausted(lim, used) for _, lim, used in limits):
                break
        return changed

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
    def snapshot(self, queue: ServiceQueue, now: float) -> dict[str, Any]:
        """GetJobQueueSnapshot for a SAGEMAKER_TRAINING queue (``snapshot.snapshot``)."""
        self.advance(now)
        return snapshot.snapshot(self, queue, now)

    def capacity_report(self) -> dict[str, Any]:
        """What the scheduler holds now and the most it ever held (``snapshot.capacity_report``)."""
        return snapshot.capacity_report(self)
