"""The one synchronous wait on a service job, shared by the sensor and the operator.

It only does I/O: describe through the hook, map an exception to ``core.errors``' kinds, log
what ``core.watch.WaitLoop`` says, and turn a finished step into a return value or an
exception. Every decision (what to log, when a job is stuck, what a failure means, how long to
back off) is the core's, so ``BatchServiceJobSensor`` and
``BatchSubmitServiceJobOperator(wait_for_completion=True)`` cannot drift apart. A later async
trigger replaces :meth:`SyncJobWait.poll`'s describe with an awaited one and keeps the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_batch_service.core.errors import ErrorKind, classify
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


@dataclass
class SyncJobWait:
    """Poll one job with a hook; carry a :class:`WaitLoop` across polls.

    ``on_verdict`` is called with every fresh verdict (the operator and sensor persist the
    training-job links from it as soon as an attempt exists).
    """

    hook: BatchServiceJobHook
    loop: WaitLoop
    log: logging.Logger | Any
    on_verdict: Callable[[Verdict], None] | None = None
    clock: Callable[[], int] = field(default=now_ms)

    @classmethod
    def create(
        cls,
        hook: BatchServiceJobHook,
        job_id: str,
        *,
        log: Any,
        poll_interval: float,
        max_runnable_seconds: float | None = None,
        state: Mapping[str, Any] | None = None,
        started_ms: int | None = None,
        on_verdict: Callable[[Verdict], None] | None = None,
    ) -> SyncJobWait:
        """Build a wait, resuming from :meth:`state` when a reschedule-mode poke hands it one."""
        state = state or {}
        watcher = JobWatcher(
            max_runnable_seconds=max_runnable_seconds,
            state=WatchState.from_dict(state.get("watch")),
        )
        policy = PollPolicy(interval=poll_interval, max_backoff=max(poll_interval, 300.0))
        loop = WaitLoop(
            job_id,
            policy=policy,
            watcher=watcher,
            started_ms=state.get("started_ms", started_ms),
            consecutive_errors=int(state.get("errors", 0)),
        )
        return cls(hook=hook, loop=loop, log=log, on_verdict=on_verdict)

    def state(self) -> dict[str, Any]:
        """JSON-able wait state: what was logged already, when the wait began, error streak."""
        return {
            "watch": self.loop.watcher.state.to_dict(),
            "started_ms": self.loop.started_ms,
            "errors": self.loop.consecutive_errors,
        }

    def poll(self) -> Step:
        """Describe once, feed the loop, log what it says. Never raises for a transient error."""
        if self.loop.started_ms is None:
            self.loop.started_ms = self.clock()
        try:
            describe = self.hook.describe_service_job(self.loop.job_id)
        except Exception as exc:
            mapped = classify_exception(exc)
            if mapped is None:
                raise
            step = self.loop.on_error(mapped[0], mapped[1], self.clock())
            for message in step.messages:
                self.log.warning(message)
            return step
        step = self.loop.on_response(describe, self.clock())
        for message in step.messages:
            self.log.info(message)
        if self.on_verdict is not None and step.verdict is not None:
            self.on_verdict(step.verdict)
        return step

    def conclude(self, step: Step, *, terminate_reason_prefix: str = "") -> dict[str, Any] | None:
        """``None`` while in progress; the verdict's summary on success; raises otherwise.

        A failed job raises ``AirflowFailException`` (an Airflow retry would only re-watch a
        job Batch has already given up on). A job stuck in RUNNABLE past
        ``max_runnable_seconds`` is terminated first. A wait that cannot go on (a job never
        visible, a fatal AWS error) raises ``AirflowException``, which Airflow may retry.
        """
        from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

        if step.error is not None:
            self.log.error(step.error)
            raise AirflowException(step.error)
        observation = step.observation
        if observation is None:
            return None
        verdict = observation.verdict
        if observation.terminate_reason and not verdict.done:
            reason = observation.terminate_reason
            self.log.error("%s; terminating it", reason)
            batch_reason = f"{terminate_reason_prefix}{reason}"[:1000]
            try:
                self.hook.terminate_service_job(self.loop.job_id, reason=batch_reason)
                done = "The job was terminated."
            except Exception as exc:  # say so loudly: the job may still be queued and billed
                self.log.exception("could not terminate service job %s", self.loop.job_id)
                done = f"Terminating the job FAILED ({exc}); it may still be queued: terminate it."
            raise AirflowFailException(f"{reason}. {done}\n{verdict.explain()}")
        if not verdict.done:
            return None
        if verdict.succeeded:
            return verdict.summary()
        explanation = verdict.explain()
        self.log.error(explanation)
        raise AirflowFailException(explanation)

    def run_until_done(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        terminate_reason_prefix: str = "",
    ) -> dict[str, Any]:
        """Poll, sleeping as the loop says (jittered interval, backoff after errors)."""
        while True:
            step = self.poll()
            result = self.conclude(step, terminate_reason_prefix=terminate_reason_prefix)
            if result is not None:
                return result
            sleep(step.sleep)
