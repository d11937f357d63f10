"""One service job and its lifecycle, advanced lazily from elapsed time.

Nothing runs on its own: on every read (and clock move) the backend's :class:`~.world.World`
replays, in time order over all jobs, each transition whose time has come
(:meth:`ServiceJob.next_due` says which and when), stamping it with the time it *should* have
happened. So a job read once after an hour shows the same history as one polled every second.
The one transition a job cannot decide alone, RUNNABLE -> SCHEDULED, is the scheduler's
(:meth:`ServiceJob.start`): it depends on capacity, which other jobs free.

A scenario try may also hold the job in a status until a client has been shown it there
(``holdUntilSeen``): :meth:`ServiceJob.describe` and :meth:`ServiceJob.summary`, which build the
answers clients get, count those sightings, and the world re-times the job once there are
enough. Until then the held transition has no time at all; once released it happens no earlier
than it would have by time alone. A try may also wait in a status at a named gate
(``holdUntilReleased``, ``gates``) that a test opens: the same rule, released by the test.
An attempt that runs a real ``@task.batch_service`` function (``function_runs``) waits in
RUNNING the same way until the function's process has exited, and ends as it ended.

The decisions (retry, requeue or fail) are AWS's rules as ``aws_retry`` reads them, and the
reasons are ``status_reasons``' texts, both the emulator's own (never the provider's
``core``, whose reading they check); this module only sequences them.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_batch_service.core.status import TERMINAL_STATUSES, ServiceJobStatus
from airflow_batch_service.core.training_job import BATCH_NAME_PREFIX, BATCH_NAME_SUFFIX_HEX
from airflow_batch_service.emulator import job_views
from airflow_batch_service.emulator import status_reasons as reasons
from airflow_batch_service.emulator.attempts import (
    Attempt,
    AttemptEnd,
    AttemptSink,
    QueueView,
    capacity_usage,
    ms,
    training_job_base_name,
)
from airflow_batch_service.emulator.aws_retry import (
    USES_AN_ATTEMPT,
    Next,
    RunEnd,
    after_attempt,
    after_preemption,
    policy_of,
)
from airflow_batch_service.emulator.scenarios import Result, Step
from airflow_batch_service.emulator.scheduler import demand_of

S = ServiceJobStatus

#: Statuses that hold service-environment capacity.
ACTIVE_STATUSES = frozenset({S.SCHEDULED, S.STARTING, S.RUNNING})


@dataclass
class ServiceJob:
    job_id: str
    job_arn: str
    job_name: str
    queue_arn: str
    request: dict[str, Any]  # the SubmitServiceJob body as received (API shape)
    created: float  # seconds
    seconds_per_state: float
    steps: tuple[Step, ...]
    account_id: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    status: ServiceJobStatus = S.SUBMITTED
    status_reason: str | None = None
    entered: float = 0.0  # seconds; when the current status began
    scheduled_at: int | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    is_terminated: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    preempted: list[Attempt] = field(default_factory=list)
    preempted_count: int = 0
    step_index: int = 0  # how many scripted steps have been used
    step: Step = field(default_factory=Step)
    current: Attempt | None = None  # the attempt whose training job is live
    seq: int = 0  # submit order, to break createdAt ties when listing
    # Scheduler bookkeeping (owned by world.World):
    eligible: bool = False  # RUNNABLE long enough (runnableSeconds) to be dispatched
    env_arn: str | None = None  # the service environment whose capacity the job holds
    dispatched: float = 0.0  # seconds; when it last got capacity (victim choice)
    version: int = 0  # bumped on every change, to drop stale timer entries
    changes: int = 0  # status changes since the submit: each is a state-change event
    #: (changes, status, preemptions) when the world last reported the job (``events``).
    reported: tuple[int, ServiceJobStatus, int] = (0, S.SUBMITTED, 0)
    # holdUntilSeen bookkeeping, per stay in a status (reset on every status change):
    sightings: int = 0  # answers that showed the job in its held status
    released_at: float | None = None  # seconds; when enough answers had shown it
    #: Called once the sightings release the hold: the world stamps ``released_at`` and
    #: re-times the job (a held transition has no timer until then).
    on_release: Callable[[ServiceJob], None] | None = field(default=None, repr=False, compare=False)
    #: When a named gate opened, None while shut (``holdUntilReleased``; set by the world).
    gate_opened: Callable[[str], float | None] | None = field(
        default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.entered = self.created
        self.payload: dict[str, Any] = json.loads(self.request["serviceRequestPayload"])
        self.policy = policy_of(self.request.get("retryStrategy"))
        self.usage = capacity_usage(self.payload)
        self.demand = demand_of(self.usage)
        self.size = sum(self.demand.values())

    # ----------------------------------------------------------------- reading
    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def scheduling_priority(self) -> int | None:
        return self.request.get("schedulingPriority")

    @property
    def share(self) -> str:
        """The quota share or fair share the job counts against ("" for neither)."""
        return str(self.request.get("quotaShareName") or self.request.get("shareIdentifier") or "")

    @property
    def priority(self) -> int:
        """schedulingPriority for ordering; unset counts as 0 (the lowest)."""
        return int(self.request.get("schedulingPriority") or 0)

    @property
    def active(self) -> bool:
        """SCHEDULED, STARTING or RUNNING: holding capacity."""
        return self.status in ACTIVE_STATUSES

    @property
    def eligible_at(self) -> float:
        """When a RUNNABLE job may first be dispatched: one state (or the try's
        runnableSeconds) after it became RUNNABLE."""
        wait = (
            self.step.runnable_seconds
            if self.step.runnable_seconds is not None
            else self.seconds_per_state
        )
        return self.entered + wait

    def describe(self) -> dict[str, Any]:
        """The DescribeServiceJob response. Building it counts as showing the job to a
        client (``holdUntilSeen``)."""
        self._shown()
        return job_views.describe(self)

    def summary(self) -> dict[str, Any]:
        """A ListServiceJobs summary. Building it counts as showing the job to a client
        (``holdUntilSeen``)."""
        self._shown()
        return job_views.summary(self)

    # ------------------------------------------------------------------ holds
    def _shown(self) -> None:
        """A client is being shown the job as it is now: count it towards the try's hold of
        this status, and release the hold on the last sighting it needs."""
        needed = self.step.sightings_needed(self.status.value)
        if not needed or self.released_at is not None:
            return
        self.sightings += 1
        if self.sightings >= needed and self.on_release is not None:
            self.on_release(self)

    @property
    def waiting_at(self) -> str | None:
        """The gate the job waits at now (``holdUntilReleased``), None if it waits at none."""
        gate = None if self.terminal else self.step.gate_for(self.status.value)
        if gate is None or self.gate_opened is None or self.gate_opened(gate) is not None:
            return None
        return gate

    def _after_hold(self, at: float) -> float | None:
        """When the job may leave its status, given it may by time alone at ``at``: then, or
        when the last hold on it was released if later; None while a hold still keeps it (the
        try wants it seen more often, or waits at a shut gate)."""
        if self.step.sightings_needed(self.status.value):
            if self.released_at is None:
                return None
            at = max(at, self.released_at)
        gate = self.step.gate_for(self.status.value)
        if gate is not None:
            opened = self.gate_opened(gate) if self.gate_opened is not None else None
            if opened is None:
                return None
            at = max(at, opened)
        return at

    def _after_function(self, at: float | None) -> float | None:
        """When the run may end, given it may at ``at`` otherwise: no earlier than the real
        function behind the attempt exited (``function_runs``); None while it still runs."""
        function = self.current.function if self.current is not None else None
        if at is None or function is None:
            return at
        if function.exited_at is None:
            return None
        return max(at, function.exited_at)

    # ------------------------------------------------------------- advancing
    def next_due(self, queue: QueueView | None) -> tuple[float, Any] | None:
        """The job's own next transition, ``(time, action)``; call ``action(time, queue, sink)``.
        RUNNABLE -> SCHEDULED is not among them: the scheduler calls :meth:`start`."""
        return self._next(queue)

    def _next(self, queue: QueueView | None) -> tuple[float, Any] | None:
        sps = self.seconds_per_state
        st = self.status
        if st is S.SUBMITTED:
            return self.entered + sps, self._to_runnable_first
        if st is S.RUNNABLE:
            candidates: list[tuple[float, Any]] = []
            ready = None if self.eligible else self._after_hold(self.eligible_at)
            if ready is not None:
                candidates.append((ready, self._become_eligible))
            for action in queue.runnable_time_limits() if queue is not None else ():
                limit = float(action.get("maxTimeSeconds", math.inf))
                reason = str(action.get("reason", reasons.RUNNABLE_TIME_LIMIT))
                candidates.append(
                    (self.entered + limit, lambda at, q, s, r=reason: self._terminate_at(at, r, s))
                )
            return min(candidates, key=lambda c: c[0]) if candidates else None
        if st is S.SCHEDULED or st is S.STARTING:
            ends = self._after_hold(self.entered + sps)
            if ends is None:
                return None
            return ends, self._after_scheduled if st is S.SCHEDULED else self._to_running
        if st is S.RUNNING:
            candidates = []
            if self.step.result is not Result.HANG:
                run = self.step.seconds if self.step.seconds is not None else sps
                ends = self._after_function(self._after_hold(self.entered + run))
                if ends is not None:
                    candidates.append((ends, self._finish_run))
            timeout = (self.request.get("timeoutConfig") or {}).get("attemptDurationSeconds")
            if (
                timeout is not None
                and self.current is not None
                and self.current.run_started is not None
            ):
                candidates.append((self.current.run_started + float(timeout), self._time_out))
            return min(candidates, key=lambda c: c[0]) if candidates else None
        return None

    def _enter(self, status: ServiceJobStatus, at: float, reason: str | None = None) -> None:
        self.status = status
        self.entered = at
        self.changes += 1
        self.eligible = False
        self.sightings = 0
        self.released_at = None
        if reason is not None:
            self.status_reason = reason

    def _next_step(self) -> None:
        if self.step_index < len(self.steps):
            self.step = self.steps[self.step_index]
        else:
            self.step = Step()
        self.step_index += 1

    def _to_runnable_first(self, at: float, queue: QueueView | None, sink: AttemptSink) -> None:
        self._next_step()
        self._enter(S.RUNNABLE, at)

    def _requeue(self, at: float, reason: str, keep_step: bool = False) -> None:
        if not keep_step:
            self._next_step()
        self._enter(S.RUNNABLE, at, reason)

    def _become_eligible(self, at: float, queue: QueueView | None, sink: AttemptSink) -> None:
        self.eligible = True

    def start(self, at: float, sink: AttemptSink) -> None:
        """The scheduler gave this RUNNABLE job capacity: it is SCHEDULED now."""
        self._schedule(at, None, sink)

    def preempt(self, at: float, sink: AttemptSink, reason: str) -> None:
        """The scheduler takes this job's capacity back (cross-share or in-share preemption).
        The same path as a scripted PREEMPTED try; the scripted try is not used up by it (the
        requeued job runs the same scripted try again)."""
        self._preempt(at, sink, reason, keep_step=True)

    def _schedule(self, at: float, queue: QueueView | None, sink: AttemptSink) -> None:
        self.scheduled_at = ms(at)
        self._enter(S.SCHEDULED, at)
        if self.step.result is Result.CAPACITY:
            return  # SageMaker never got capacity: no training job, no attempt used
        name = f"{BATCH_NAME_PREFIX}{training_job_base_name(self.payload, self.job_name)}{secrets.token_hex(BATCH_NAME_SUFFIX_HEX // 2)}"
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:training-job/{name}"
        attempt = Attempt(name, arn, created=at)
        self.attempts.append(attempt)
        self.current = attempt
        sink.attempt_created(self, attempt)

    def _after_scheduled(self, at: float, queue: QueueView | None, sink: AttemptSink) -> None:
        if self.step.result is Result.CAPACITY:
            self._requeue(at, self.step.status_reason or reasons.CAPACITY_ERROR)
            return
        self._enter(S.STARTING, at)
        if self.current is not None:
            sink.attempt_progressed(self, self.current, S.STARTING)

    def _to_running(self, at: float, queue: QueueView | None, sink: AttemptSink) -> None:
        self._enter(S.RUNNING, at)
        self.started_at = ms(at)
        if self.current is not None:
            self.current.started_at = ms(at)
            self.current.run_started = at
            sink.attempt_progressed(self, self.current, S.RUNNING)

    def _close(self, at: float, reason: str, end: AttemptEnd, sink: AttemptSink) -> Attempt | None:
        attempt, self.current = self.current, None
        if attempt is not None:
            attempt.stopped_at = ms(at)
            attempt.status_reason = reason
            sink.attempt_ended(self, attempt, end, reason)
        return attempt

    def _fail(self, at: float, reason: str) -> None:
        self._enter(S.FAILED, at, reason)
        self.stopped_at = ms(at)

    def _finish_run(self, at: float, queue: QueueView | None, sink: AttemptSink) -> None:
        """The run ends as the try says; a try that succeeds ends as the real function behind
        the attempt did, if one ran (a scripted failure or preemption still wins)."""
        result = self.step.result
        function = self.current.function if self.current is not None else None
        failure = function.failure if function is not None else None
        if (result is Result.SUCCEEDED or result is Result.CAPACITY) and failure is None:
            self._close(at, reasons.TRAINING_COMPLETED, AttemptEnd.COMPLETED, sink)
            self._enter(S.SUCCEEDED, at, reasons.TRAINING_COMPLETED)
            self.stopped_at = ms(at)
        elif result is Result.PREEMPTED:
            self._preempt(at, sink, reasons.CROSS_SHARE_PREEMPTION)
        else:
            reason = (
                reasons.from_sagemaker(failure)
                if failure is not None and result is not Result.FAILED
                else self.step.failure_reason()
            )
            self._close(at, reason, AttemptEnd.FAILED, sink)
            self._after_attempt(at, RunEnd.FAILED, reason)

    def _after_attempt(self, at: float, end: RunEnd, reason: str) -> None:
        """The attempt just closed used one: Batch's retry rules say what comes next."""
        if after_attempt(self.policy, end, reason, len(self.attempts)) is Next.RETRY:
            self._requeue(at, reason)
        else:
            self._fail(at, reason)

    def _time_out(self, at: float, queue: QueueView | None, sink: AttemptSink) -> None:
        self._close(at, reasons.ATTEMPT_TIMEOUT, AttemptEnd.STOPPED, sink)
        self._after_attempt(at, RunEnd.TIMED_OUT, reasons.ATTEMPT_TIMEOUT)

    def _preempt(self, at: float, sink: AttemptSink, reason: str, keep_step: bool = False) -> None:
        attempt = self._close(at, reason, AttemptEnd.STOPPED, sink)
        if attempt is not None:
            if not USES_AN_ATTEMPT[RunEnd.PREEMPTED]:
                self.attempts.remove(attempt)  # reported in preemptionSummary instead
            self.preempted.append(attempt)
        self.preempted_count += 1
        configuration = self.request.get("preemptionConfiguration")
        if after_preemption(configuration, self.preempted_count) is Next.REQUEUE:
            self._requeue(at, reason, keep_step)
        else:
            self._fail(at, reasons.PREEMPTION_LIMIT)

    # ------------------------------------------------------------ user actions
    def _terminate_at(self, at: float, reason: str, sink: AttemptSink) -> None:
        self._close(at, reason, AttemptEnd.STOPPED, sink)
        self.is_terminated = True
        self._fail(at, reason)

    def terminate(self, now: float, reason: str, sink: AttemptSink) -> None:
        """TerminateServiceJob: FAILED now, isTerminated, the given reason; never retried.
        A job that already ended is left as it is (Batch answers success either way). The
        caller has brought the world up to ``now`` first."""
        if not self.terminal:
            self._terminate_at(now, reason, sink)
