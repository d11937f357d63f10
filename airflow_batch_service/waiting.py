"""The one wait on a service job: one protocol core, a sync shell and an async shell.

The httpx model. :class:`JobWait` holds everything that is not I/O: the ``core.watch.WaitLoop``
(what to log, when a job is stuck, how long to back off), the deadline (the one timeout
concept, below), mapping an exception to ``core.errors``' kinds, and turning a finished step
into a :class:`WaitOutcome`. The shells only do the I/O:

- :class:`SyncJobWait` (the sensor's poke/reschedule and the operator's own wait) describes
  and terminates through the hook, and sleeps with ``time.sleep``;
- :class:`AsyncJobWait` (``BatchServiceJobTrigger``) awaits the same calls on a client shared
  by every trigger of the triggerer process (``airflow_batch_service.shared_clients``).

A :class:`WaitOutcome` becomes an event dict (:meth:`WaitOutcome.to_event`) and one function,
:func:`finish`, turns that dict into the task's result or exception, so the sync wait and a
deferred task's ``execute_complete`` end a task identically.

**The timeout concept.** A wait has one deadline: wall-clock time since the wait began
(the sensor: its first poke, Airflow's ``timeout``; the operator: the submit, its
``wait_timeout``). It is carried as an absolute epoch-ms ``deadline_ms`` into a deferral, so a
deferred wait ends at the same moment a poking one would. What happens to the job when the
deadline passes depends only on who owns it, never on the mode: the sensor leaves it running
(``AirflowSensorTimeout``), the operator terminates it (``AirflowFailException``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_batch_service.core.errors import ErrorKind, classify
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.verdict import Verdict
from airflow_batch_service.core.watch import JobWatcher, PollPolicy, Step, WaitLoop, WatchState

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

#: Connection-level failures: the request never got an answer. Always worth retrying.
_CONNECTION_ERRORS = (
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyConnectionError",
    "SSLError",
    "HTTPClientError",
    "ConnectionError",
)

#: Event statuses (``WaitOutcome.status``).
SUCCESS, FAILED, ERROR, TIMEOUT = "success", "failed", "error", "timeout"

#: Default seconds a job may be "not found" right after its submit before the wait says it
#: does not exist (``not_found_grace`` on the sensor, the operator and the trigger).
NOT_FOUND_GRACE = 120.0


def now_ms() -> int:
    return int(time.time() * 1000)


def classify_exception(exc: BaseException) -> tuple[ErrorKind, str] | None:
    """Map a botocore exception to ``(kind, message)``; ``None`` means "not an AWS error,
    let it propagate" (a bug should fail loudly, not be polled around)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) or {}
        code = error.get("Code")
        status = (exc.response.get("ResponseMetadata", {}) or {}).get("HTTPStatusCode")
        message = error.get("Message") or str(exc)
        return classify(code, status, message), f"{code} (HTTP {status}): {message}"
    if isinstance(exc, BotoCoreError):
        names = {cls.__name__ for cls in type(exc).__mro__}
        if names.intersection(_CONNECTION_ERRORS):
            return ErrorKind.TRANSIENT, f"{type(exc).__name__}: {exc}"
        return ErrorKind.FATAL, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return ErrorKind.TRANSIENT, f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True)
class WaitOutcome:
    """How a wait ended, as data: what a trigger yields and what ``finish`` acts on.

    ``terminate_reason`` is set when the shell must terminate the job before reporting
    (stuck in RUNNABLE, or the operator's wait timed out); ``terminated`` records how that went.
    """

    status: str
    job_id: str
    message: str
    summary: dict[str, Any] | None = None
    training_job_arn: str | None = None
    terminate_reason: str | None = None
    terminated: str | None = None
    #: For a job Batch failed: ``Verdict.cause`` (``core.retry.Cause`` value) or "unknown";
    #: ``"not_found"`` for a job that does not exist.
    cause: str | None = None
    #: The job's statusReason at the end (who terminated it, which attempt failed how).
    status_reason: str | None = None
    #: Which limit ended the wait: "execution_timeout", "wait_timeout" or "timeout" (sensor).
    timeout: str | None = None

    def to_event(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "job_id": self.job_id,
            "message": self.message,
            "summary": self.summary,
            "training_job_arn": self.training_job_arn,
            "terminated": self.terminated,
            "cause": self.cause,
            "status_reason": self.status_reason,
            "timeout": self.timeout,
        }


#: Failures a fresh submission may get past: Batch gave up without the user's say-so.
RESUBMITTABLE_CAUSES = frozenset(
    {Cause.ATTEMPTS_EXHAUSTED.value, Cause.TIMED_OUT.value, Cause.PREEMPTION_LIMIT.value, "unknown"}
)


def finish(
    event: Mapping[str, Any], log: Any, *, resubmit_on_retry: bool = False
) -> dict[str, Any]:
    """Turn a wait's event into the task's result: the summary on success; otherwise raise.

    - ``success``: returns ``Verdict.summary()``.
    - ``failed``: ``AirflowFailException`` with ``Verdict.explain()``: Airflow must not retry.
      A sensor's retry would only re-watch a job Batch has already given up on; an EXIT rule is
      the user saying the failure is final; a terminated job was stopped on purpose (by a
      person, ``max_runnable_seconds`` or the operator's ``wait_timeout``).
      Except with ``resubmit_on_retry`` (the operator, whose retry submits a new job, see
      ``durable``): attempts exhausted, an attempt timeout or the preemption limit raise
      ``AirflowException`` instead, so the task's own ``retries`` get a fresh job.
    - ``timeout`` (the sensor's): ``AirflowSensorTimeout``; the job keeps running.
    - ``error`` (a job never visible, a fatal AWS error): ``AirflowException``, which Airflow
      may retry.
    """
    from airflow.providers.common.compat.sdk import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
    )

    status = event.get("status")
    message = str(event.get("message") or "")
    if status == SUCCESS and event.get("summary") is not None:
        return dict(event["summary"])
    log.error(message)
    if event.get("timeout") == EXECUTION_TIMEOUT:
        # What Airflow raises when execution_timeout passes on a worker: retryable, as there.
        raise task_timeout_error(message)
    if status == FAILED:
        if (
            resubmit_on_retry
            and not event.get("terminated")
            and event.get("cause") in RESUBMITTABLE_CAUSES
        ):
            raise AirflowException(
                f"{message}\nBatch gave up on this job without an EXIT rule: if the task has "
                "retries left, Airflow retries it and the retry submits a new job."
            )
        raise AirflowFailException(message)
    if status == TIMEOUT:
        raise AirflowSensorTimeout(message)
    raise AirflowException(message or f"unexpected wait event {dict(event)!r}")


#: ``WaitOutcome.timeout`` values.
EXECUTION_TIMEOUT, WAIT_TIMEOUT, SENSOR_TIMEOUT = "execution_timeout", "wait_timeout", "timeout"


def task_timeout_error(message: str) -> BaseException:
    """``AirflowTaskTimeout`` (what a worker raises at ``execution_timeout``) with ``message``."""
    try:
        from airflow.sdk.exceptions import AirflowTaskTimeout
    except ImportError:  # Airflow 3.0
        from airflow.exceptions import AirflowTaskTimeout  # type: ignore[no-redef]
    return AirflowTaskTimeout(message)


def timeout_message(
    job_id: str,
    verdict: Verdict | None,
    *,
    terminates: bool,
    what: str,
    not_found: bool = False,
) -> str:
    """The one wording of a wait timeout, for every mode.

    ``not_found``: every describe said the job does not exist, so nothing is "still running".
    """
    if verdict is None and not_found:
        return (
            f"{what} Service job {job_id} was never found: every DescribeServiceJob answered "
            "that it does not exist (check the job id and the connection's region)."
        )
    where = (
        verdict.explain()
        if verdict is not None
        else f"service job {job_id} was never seen (no successful describe)"
    )
    # The owner's shell terminates the job and appends how that went to the first line.
    fate = "" if terminates else " The service job was NOT terminated and keeps running in Batch."
    return f"{what}{fate}\nIts state at the last poll:\n{where}"


@dataclass
class JobWait:
    """Everything about waiting on one job except the I/O. See the module docstring.

    ``on_verdict`` is called with every fresh verdict (links, log tailing). ``deadline_ms``
    (epoch ms, or None) is the wait's timeout; ``terminate_on_timeout`` says whether the
    owner terminates the job when it passes (the operator) or leaves it (the sensor).
    """

    loop: WaitLoop
    log: logging.Logger | Any
    on_verdict: Callable[[Verdict], None] | None = None
    clock: Callable[[], int] = field(default=now_ms)
    deadline_ms: int | None = None
    terminate_on_timeout: bool = False
    timeout_what: str = "The wait timed out."
    terminate_reason_prefix: str = ""
    last_verdict: Verdict | None = None
    #: The operator's wait: see :func:`finish`.
    resubmit_on_retry: bool = False
    #: Which limit ``deadline_ms`` is (``WaitOutcome.timeout``).
    timeout_kind: str | None = None

    @classmethod
    def create(
        cls,
        job_id: str,
        *,
        log: Any,
        poll_interval: float,
        max_runnable_seconds: float | None = None,
        state: Mapping[str, Any] | None = None,
        started_ms: int | None = None,
        on_verdict: Callable[[Verdict], None] | None = None,
        not_found_grace: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Build a wait, resuming from :meth:`state` (a reschedule poke, a deferral)."""
        state = state or {}
        watcher = JobWatcher(
            max_runnable_seconds=max_runnable_seconds,
            state=WatchState.from_dict(state.get("watch")),
        )
        policy = PollPolicy(
            interval=poll_interval,
            max_backoff=max(poll_interval, 300.0),
            not_found_grace=NOT_FOUND_GRACE if not_found_grace is None else not_found_grace,
        )
        loop = WaitLoop(
            job_id,
            policy=policy,
            watcher=watcher,
            started_ms=state.get("started_ms", started_ms),
            consecutive_errors=int(state.get("errors", 0)),
        )
        return cls(loop=loop, log=log, on_verdict=on_verdict, **kwargs)

    @property
    def job_id(self) -> str:
        return self.loop.job_id

    def state(self) -> dict[str, Any]:
        """JSON-able wait state: what was logged already, when the wait began, error streak."""
        return {
            "watch": self.loop.watcher.state.to_dict(),
            "started_ms": self.loop.started_ms,
            "errors": self.loop.consecutive_errors,
        }

    # -- the protocol: feed it what the I/O returned ------------------------------------

    def begin(self) -> None:
        if self.loop.started_ms is None:
            self.loop.started_ms = self.clock()

    def on_describe(self, describe: Mapping[str, Any]) -> Step:
        step = self.loop.on_response(describe, self.clock())
        for message in step.messages:
            self.log.info(message)
        if step.verdict is not None:
            self.last_verdict = step.verdict
            if self.on_verdict is not None:
                self.on_verdict(step.verdict)
        return step

    def on_exception(self, exc: BaseException) -> Step:
        """A describe failed: transient errors become a backoff step; a bug re-raises."""
        mapped = classify_exception(exc)
        if mapped is None:
            raise exc
        step = self.loop.on_error(mapped[0], mapped[1], self.clock())
        for message in step.messages:
            self.log.warning(message)
        return step

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without one."""
        if self.deadline_ms is None:
            return None
        return max(0.0, (self.deadline_ms - self.clock()) / 1000)

    def sleep_for(self, step: Step) -> float:
        """The step's sleep, never past the deadline (so the timeout is honoured on time)."""
        remaining = self.remaining()
        return step.sleep if remaining is None else min(step.sleep, remaining)

    def outcome(self, step: Step) -> WaitOutcome | None:
        """None while the wait goes on; otherwise how it ended (termination still to do)."""
        job_id = self.job_id
        arn = self.last_verdict.latest_training_job_arn if self.last_verdict else None
        if step.error is not None:
            if step.not_found:  # final: a retry would look for the same missing job
                return WaitOutcome(FAILED, job_id, step.error, cause="not_found")
            return WaitOutcome(ERROR, job_id, step.error, training_job_arn=arn)
        observation = step.observation
        if observation is not None:
            verdict = observation.verdict
            if observation.terminate_reason and not verdict.done:
                return WaitOutcome(
                    FAILED,
                    job_id,
                    f"{observation.terminate_reason}.\n{verdict.explain()}",
                    training_job_arn=arn,
                    terminate_reason=observation.terminate_reason,
                )
            if verdict.done:
                if verdict.succeeded:
                    return WaitOutcome(
                        SUCCESS,
                        job_id,
                        verdict.headline(),
                        summary=verdict.summary(),
                        training_job_arn=arn,
                    )
                return WaitOutcome(
                    FAILED,
                    job_id,
                    verdict.explain(),
                    training_job_arn=arn,
                    cause=verdict.cause.value if verdict.cause else "unknown",
                    status_reason=verdict.status_reason,
                )
        if self.deadline_ms is not None and self.clock() >= self.deadline_ms:
            return self.timed_out()
        return None

    def timed_out(self) -> WaitOutcome:
        from airflow_batch_service.core.errors import ErrorKind

        never_found = self.last_verdict is None and self.loop.last_error is ErrorKind.NOT_FOUND
        message = timeout_message(
            self.job_id,
            self.last_verdict,
            terminates=self.terminate_on_timeout,
            what=self.timeout_what,
            not_found=never_found,
        )
        arn = self.last_verdict.latest_training_job_arn if self.last_verdict else None
        kind = self.timeout_kind or (WAIT_TIMEOUT if self.terminate_on_timeout else SENSOR_TIMEOUT)
        if never_found:  # nothing to terminate, nothing keeps running
            return WaitOutcome(FAILED, self.job_id, message, cause="not_found", timeout=kind)
        if self.terminate_on_timeout:
            return WaitOutcome(
                FAILED,
                self.job_id,
                message,
                training_job_arn=arn,
                terminate_reason=self.timeout_what,
                timeout=kind,
            )
        return WaitOutcome(TIMEOUT, self.job_id, message, training_job_arn=arn, timeout=kind)

    def batch_reason(self, reason: str) -> str:
        return f"{self.terminate_reason_prefix}{reason}"[:1000]

    def terminated(self, outcome: WaitOutcome, error: BaseException | None) -> WaitOutcome:
        """The outcome once the shell tried to terminate the job (``error`` if that failed)."""
        if error is None:
            done = "The job was terminated."
        else:
            self.log.error("could not terminate service job %s: %s", self.job_id, error)
            done = f"Terminating the job FAILED ({error}); it may still be queued: terminate it."
        head, _, rest = outcome.message.partition("\n")
        message = f"{head} {done}\n{rest}" if rest else f"{head} {done}"
        return WaitOutcome(
            outcome.status,
            outcome.job_id,
            message,
            summary=outcome.summary,
            training_job_arn=outcome.training_job_arn,
            terminated=done,
            cause=outcome.cause,
            status_reason=outcome.status_reason,
            timeout=outcome.timeout,
        )


@dataclass
class SyncJobWait(JobWait):
    """The blocking shell: describe and terminate through a hook, ``time.sleep`` between."""

    hook: BatchServiceJobHook | Any = None

    @classmethod
    def create(  # type: ignore[override]
        cls, hook: BatchServiceJobHook, job_id: str, **kwargs: Any
    ) -> SyncJobWait:
        return super().create(job_id, hook=hook, **kwargs)

    def poll(self) -> Step:
        """Describe once, feed the core, log what it says. Never raises for a transient error."""
        self.begin()
        try:
            describe = self.hook.describe_service_job(self.job_id)
        except Exception as exc:
            return self.on_exception(exc)
        return self.on_describe(describe)

    def settle(self, outcome: WaitOutcome) -> WaitOutcome:
        """Terminate the job if the outcome says so (stuck in RUNNABLE, operator timeout)."""
        if outcome.terminate_reason is None:
            return outcome
        self.log.error("%s; terminating service job %s", outcome.terminate_reason, self.job_id)
        try:
            self.hook.terminate_service_job(
                self.job_id, reason=self.batch_reason(outcome.terminate_reason)
            )
        except Exception as exc:  # say so loudly: the job may still be queued and billed
            return self.terminated(outcome, exc)
        return self.terminated(outcome, None)

    def conclude(
        self, step: Step, *, terminate_reason_prefix: str | None = None
    ) -> dict[str, Any] | None:
        """``None`` while in progress; the verdict's summary on success; raises otherwise
        (see :func:`finish`)."""
        if terminate_reason_prefix is not None:
            self.terminate_reason_prefix = terminate_reason_prefix
        outcome = self.outcome(step)
        if outcome is None:
            return None
        return finish(
            self.settle(outcome).to_event(), self.log, resubmit_on_retry=self.resubmit_on_retry
        )

    def run_until_outcome(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        terminate_reason_prefix: str | None = None,
        on_step: Callable[[Step], None] | None = None,
    ) -> WaitOutcome:
        """Poll, sleeping as the loop says (jittered interval, backoff after errors), until
        the job ends or the deadline passes; the outcome, termination done."""
        if terminate_reason_prefix is not None:
            self.terminate_reason_prefix = terminate_reason_prefix
        while True:
            step = self.poll()
            if on_step is not None:
                on_step(step)
            outcome = self.outcome(step)
            if outcome is not None:
                return self.settle(outcome)
            sleep(self.sleep_for(step))

    def run_until_done(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        terminate_reason_prefix: str | None = None,
        on_step: Callable[[Step], None] | None = None,
    ) -> dict[str, Any]:
        """:meth:`run_until_outcome`, then :func:`finish`: the summary, or the exception."""
        outcome = self.run_until_outcome(
            sleep=sleep, terminate_reason_prefix=terminate_reason_prefix, on_step=on_step
        )
        return finish(outcome.to_event(), self.log, resubmit_on_retry=self.resubmit_on_retry)


@dataclass
class AsyncJobWait(JobWait):
    """The asyncio shell: the same calls on a shared boto3 client, offloaded to a thread.

    ``client`` is a botocore Batch client (thread-safe); see ``shared_clients`` for why a
    shared, thread-offloaded boto3 client and not aiobotocore. Calls run on
    ``shared_clients.run_blocking``'s thread pool.
    """

    client: Any = None

    @classmethod
    def create(cls, client: Any, job_id: str, **kwargs: Any) -> AsyncJobWait:  # type: ignore[override]
        return super().create(job_id, client=client, **kwargs)

    async def poll(self) -> Step:
        from airflow_batch_service.shared_clients import run_blocking

        self.begin()
        try:
            response = await run_blocking(self.client.describe_service_job, jobId=self.job_id)
        except Exception as exc:
            return self.on_exception(exc)
        return self.on_describe({k: v for k, v in response.items() if k != "ResponseMetadata"})

    async def terminate(self, reason: str) -> None:
        from airflow_batch_service.shared_clients import run_blocking

        await run_blocking(
            self.client.terminate_service_job, jobId=self.job_id, reason=self.batch_reason(reason)
        )

    async def settle(self, outcome: WaitOutcome) -> WaitOutcome:
        if outcome.terminate_reason is None:
            return outcome
        self.log.error("%s; terminating service job %s", outcome.terminate_reason, self.job_id)
        try:
            await self.terminate(outcome.terminate_reason)
        except Exception as exc:
            return self.terminated(outcome, exc)
        return self.terminated(outcome, None)
