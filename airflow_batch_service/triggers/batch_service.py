"""``BatchServiceJobTrigger``: the deferred wait on a service job, in the triggerer.

It drives the same wait as the sensor and the operator (``airflow_batch_service.waiting``:
one ``core.watch.WaitLoop``, the same log lines, verdicts, backoff with jitter and deadline),
only awaiting its I/O instead of blocking: throttling, 5xx and connection errors back off and
never end it. Its event is a ``WaitOutcome`` dict that the task's ``execute_complete`` hands to
``waiting.finish``, so a deferred wait ends the task exactly as a poking one would.

Every trigger of a triggerer process with the same ``aws_conn_id`` / ``region_name`` /
``verify`` / ``botocore_config`` shares ONE boto3 client (``shared_clients``), called through
``shared_clients.run_blocking`` (a small thread pool).

Cancellation: on Airflow versions whose ``BaseTrigger`` has ``on_kill`` (3.3+), a user's kill,
clear or mark of the deferred task calls it, and a trigger with ``terminate_on_kill=True`` (the
operator's: it owns its job) terminates the job with ``kill_reason``. Before 3.3 only
``cleanup()`` runs, on every exit including a triggerer restart, so it must not (and does not)
terminate anything: the job keeps running.

Nothing heavy is imported at module level: the triggerer imports this by classpath.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


def defer_timeout(deadline_ms: int | None, poll_interval: float) -> Any:
    """Airflow's deferral timeout for a wait ending at ``deadline_ms``: only a backstop, a
    little after the deadline, should the trigger never report (it ends itself on time)."""
    if deadline_ms is None:
        return None
    from datetime import timedelta

    from airflow_batch_service.waiting import now_ms

    remaining = max(0.0, (deadline_ms - now_ms()) / 1000)
    return timedelta(seconds=remaining + max(60.0, 2 * poll_interval))


class BatchServiceJobTrigger(BaseTrigger):
    """Wait for a service job to finish; fire one event saying how it ended.

    :param job_id: the jobId (or ARN).
    :param aws_conn_id: the ``aws`` connection; ``region_name``, ``verify`` and
        ``botocore_config`` (a dict) as on the operator. All four are serialized.
    :param poll_interval: seconds between describes (jittered; backs off on transient errors).
    :param max_runnable_seconds: terminate and fail a job stuck in RUNNABLE longer than this.
    :param state: the wait state (``JobWait.state()``) at deferral: what was logged already,
        when the wait began, the error streak.
    :param deadline_ms: epoch ms at which the wait times out (the one timeout concept), or None.
    :param terminate_on_timeout: terminate the job when the deadline passes (the operator owns
        its job) or leave it running (the sensor).
    :param timeout_what: the first sentence of the timeout message.
    :param terminate_on_kill: terminate the job from ``on_kill`` (Airflow 3.3+).
    :param kill_reason: the TerminateServiceJob reason used by ``on_kill``.
    :param terminate_reason_prefix: prefix of the reason when the wait itself terminates the job.
    :param stream_logs: copy the training job's CloudWatch lines into the task log.
    :param log_state: the log tail's state (``LogTail.to_dict()``) at deferral.
    :param timeout_kind: which limit ``deadline_ms`` is: ``"execution_timeout"`` (the task's
        own, which Airflow does not apply to deferred tasks; the event then makes
        ``execute_complete`` raise ``AirflowTaskTimeout``), ``"wait_timeout"`` or ``"timeout"``.
    :param not_found_grace: seconds a job may be "not found" before the wait says it does not
        exist (default 120).
    """

    def __init__(
        self,
        *,
        job_id: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: Mapping[str, Any] | None = None,
        poll_interval: float = 30,
        max_runnable_seconds: float | None = None,
        state: Mapping[str, Any] | None = None,
        deadline_ms: int | None = None,
        terminate_on_timeout: bool = False,
        timeout_what: str = "The wait timed out.",
        terminate_on_kill: bool = False,
        kill_reason: str | None = None,
        terminate_reason_prefix: str = "",
        stream_logs: bool = True,
        log_state: Mapping[str, Any] | None = None,
        timeout_kind: str | None = None,
        not_found_grace: float | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = dict(botocore_config) if botocore_config else None
        self.poll_interval = poll_interval
        self.max_runnable_seconds = max_runnable_seconds
        self.state = dict(state) if state else None
        self.deadline_ms = deadline_ms
        self.terminate_on_timeout = terminate_on_timeout
        self.timeout_what = timeout_what
        self.terminate_on_kill = terminate_on_kill
        self.kill_reason = kill_reason or f"The Airflow task waiting on service job {job_id} was killed"
        self.terminate_reason_prefix = terminate_reason_prefix
        self.stream_logs = stream_logs
        self.log_state = dict(log_state) if log_state else None
        self.timeout_kind = timeout_kind
        self.not_found_grace = not_found_grace

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
                "poll_interval": self.poll_interval,
                "max_runnable_seconds": self.max_runnable_seconds,
                "state": self.state,
                "deadline_ms": self.deadline_ms,
                "terminate_on_timeout": self.terminate_on_timeout,
                "timeout_what": self.timeout_what,
                "terminate_on_kill": self.terminate_on_kill,
                "kill_reason": self.kill_reason,
                "terminate_reason_prefix": self.terminate_reason_prefix,
                "stream_logs": self.stream_logs,
                "log_state": self.log_state,
                "timeout_kind": self.timeout_kind,
                "not_found_grace": self.not_found_grace,
            },
        )

    def _client_kwargs(self) -> dict[str, Any]:
        from airflow_batch_service.shared_clients import connection_kwargs

        return connection_kwargs(self)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_batch_service.core.logtail import LogTail
        from airflow_batch_service.shared_clients import get_shared_client_async
        from airflow_batch_service.training_logs import fetch_new_lines_async, follow_verdict
        from airflow_batch_service.waiting import AsyncJobWait

        self.log.info(
            "Waiting for service job %s in the triggerer (poll every %gs)",
            self.job_id, self.poll_interval,
        )
        client = await get_shared_client_async("batch", **self._client_kwargs())
        tail = LogTail.from_dict(self.log_state) if self.stream_logs else None
        logs_client: Any = None
        wait = AsyncJobWait.create(
            client,
            self.job_id,
            log=self.log,
            poll_interval=self.poll_interval,
            max_runnable_seconds=self.max_runnable_seconds,
            state=self.state,
            deadline_ms=self.deadline_ms,
            terminate_on_timeout=self.terminate_on_timeout,
            timeout_what=self.timeout_what,
            terminate_reason_prefix=self.terminate_reason_prefix,
            on_verdict=(lambda verdict: follow_verdict(tail, verdict)) if tail else None,
            timeout_kind=self.timeout_kind,
            not_found_grace=self.not_found_grace,
        )
        while True:
            step = await wait.poll()
            if (
                tail is not None
                and step.verdict is not None
                and tail.due(wait.clock(), final=step.done)
            ):
                if logs_client is None:
                    logs_client = await get_shared_client_async("logs", **self._client_kwargs())
                for line in await fetch_new_lines_async(logs_client, tail):
                    self.log.info("%s", line)
            outcome = wait.outcome(step)
            if outcome is not None:
                outcome = await wait.settle(outcome)
                yield TriggerEvent(outcome.to_event())
                return
            await asyncio.sleep(wait.sleep_for(step))

    async def on_kill(self) -> None:
        """Airflow 3.3+: the user killed, cleared or marked the deferred task. Terminate the job
        if this wait owns it (``terminate_on_kill``); a sensor's trigger leaves it alone."""
        if not self.terminate_on_kill:
            self.log.info(
                "Deferred wait on service job %s killed; the job is left running (its owner "
                "terminates it)", self.job_id,
            )
            return
        from airflow_batch_service.shared_clients import get_shared_client_async, run_blocking

        try:
            client = await get_shared_client_async("batch", **self._client_kwargs())
            await asyncio.wait_for(
                run_blocking(
                    client.terminate_service_job, jobId=self.job_id, reason=self.kill_reason[:1000]
                ),
                timeout=30,
            )
        except Exception:
            self.log.exception("Could not terminate service job %s on kill", self.job_id)
            return
        self.log.info("Terminated service job %s: %s", self.job_id, self.kill_reason)
