"""``BatchServiceJobTrigger``: the deferred wait on a service job, in the triggerer.

A declaration over the one wait: it rebuilds ``core.wait.JobWait`` from what the task
serialized and steps ``core.wait.wait_flow`` with the hook's async twins
(``waiting.arun``): the same log lines, verdicts, backoff with jitter and deadline as a poke,
only awaited. Its event is ``WaitOutcome.to_event()``, which the task's ``execute_complete``
hands to ``waiting.finish``, so a deferred wait ends the task exactly as a poking one would.

Its I/O goes only through :class:`BatchServiceJobHook`, built from the connection arguments the
way the amazon provider's ``AwsBaseHookMixin`` builds it (``config=botocore_config``); the
hook's async twins share ONE boto3 client per connection in the triggerer process
(``shared_clients``).

Imports stay lazy: the triggerer imports this module by classpath for every trigger row, and
importing it loads neither boto3 nor the wait (``tests/provider/test_deferrable.py`` checks).

Cancellation: on Airflow versions whose ``BaseTrigger`` has ``on_kill`` (3.3+), a user's kill,
clear or mark of the deferred task calls it, and a trigger with ``terminate_on_kill=True`` (the
operator's: it owns its job) terminates the job with ``kill_reason``. Airflow decides by the
cancel's message, which some awaits drop; the wait therefore runs under
``cancellation.keeping_cancel_message``, so the message survives wherever the cancel lands;
the terminate in ``on_kill`` runs under ``cancellation.finishing_even_if_cancelled``, since the
triggerer repeats its cancel until the trigger is gone. Before 3.3 only ``cleanup()`` runs, on
every exit including a triggerer restart, so it must not (and does not) terminate anything: the
job keeps running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_batch_service._shared.cancellation import (
    finishing_even_if_cancelled,
    keeping_cancel_message,
)

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

#: What ``serialize`` carries besides the four connection arguments.
_FIELDS = (
    "job_id", "poll_interval", "max_runnable_seconds", "state", "deadline_ms",
    "terminate_on_timeout", "timeout_what", "timeout_kind", "terminate_on_kill", "kill_reason",
    "terminate_reason_prefix", "stream_logs", "log_state", "not_found_grace",
    "read_training_result",
)  # fmt: skip


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
    :param timeout_kind: which limit ``deadline_ms`` is (``core.wait``'s ``EXECUTION_TIMEOUT``,
        ``WAIT_TIMEOUT``, ``SENSOR_TIMEOUT``); ``timeout_what``: its message's first sentence.
    :param terminate_on_timeout: terminate the job when the deadline passes (the operator owns
        its job) or leave it running (the sensor).
    :param terminate_on_kill: terminate the job from ``on_kill`` (Airflow 3.3+), with
        ``kill_reason``.
    :param terminate_reason_prefix: prefix of the reason when the wait itself terminates the job.
    :param stream_logs: copy the training job's CloudWatch lines into the task log;
        ``log_state``: the log tail's state (``LogTail.to_dict()``) at deferral.
    :param not_found_grace: seconds a job may be "not found" before the wait says it does not
        exist (default 120).
    :param read_training_result: when the wait ends, read the final attempt's training job
        (one DescribeTrainingJob) into the event's ``training_job`` and the summary.
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
        timeout_kind: str | None = None,
        terminate_on_kill: bool = False,
        kill_reason: str | None = None,
        terminate_reason_prefix: str = "",
        stream_logs: bool = True,
        log_state: Mapping[str, Any] | None = None,
        not_found_grace: float | None = None,
        read_training_result: bool = False,
    ) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = dict(botocore_config) if botocore_config else None
        self.job_id = job_id
        self.poll_interval = poll_interval
        self.max_runnable_seconds = max_runnable_seconds
        self.state = dict(state) if state else None
        self.deadline_ms = deadline_ms
        self.terminate_on_timeout = terminate_on_timeout
        self.timeout_what = timeout_what
        self.timeout_kind = timeout_kind
        self.terminate_on_kill = terminate_on_kill
        self.kill_reason = (
            kill_reason or f"The Airflow task waiting on service job {job_id} was killed"
        )
        self.terminate_reason_prefix = terminate_reason_prefix
        self.stream_logs = stream_logs
        self.log_state = dict(log_state) if log_state else None
        self.not_found_grace = not_found_grace
        self.read_training_result = read_training_result

    @cached_property
    def hook(self) -> BatchServiceJobHook:
        """The process's hook for the serialized connection arguments (``AwsBaseHookMixin``'s
        mapping), shared with every other trigger that has the same ones (``shared_clients``)."""
        from airflow_batch_service._shared.clients import get_shared_hook

        return get_shared_hook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        from airflow.providers.amazon.aws.utils.mixins import AwsHookParams

        connection = AwsHookParams(
            self.aws_conn_id, self.region_name, self.verify, self.botocore_config
        )._asdict()
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {**connection, **{name: getattr(self, name) for name in _FIELDS}},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_batch_service._shared.waiting import arun, now_ms
        from airflow_batch_service.core.logtail import LogTail
        from airflow_batch_service.core.wait import SENSOR_TIMEOUT, JobWait, Limit, wait_flow

        self.log.info(
            "Waiting for service job %s in the triggerer (poll every %gs)",
            self.job_id,
            self.poll_interval,
        )
        limit = None
        if self.deadline_ms is not None:
            limit = Limit(self.deadline_ms, self.timeout_kind or SENSOR_TIMEOUT, self.timeout_what)
        wait = JobWait.create(
            self.job_id,
            poll_interval=self.poll_interval,
            max_runnable_seconds=self.max_runnable_seconds,
            state=self.state,
            not_found_grace=self.not_found_grace,
            limit=limit,
            terminate_on_timeout=self.terminate_on_timeout,
            terminate_reason_prefix=self.terminate_reason_prefix,
            read_training_result=self.read_training_result,
        )
        tail = LogTail.from_dict(self.log_state) if self.stream_logs else None
        # The wait runs in a child task: a user's kill must reach Airflow with its message
        # however deep in an AWS call it lands, or on_kill never runs (``cancellation``).
        outcome = await keeping_cancel_message(
            arun(
                wait_flow(wait, clock=now_ms, tail=tail),
                self.hook,
                self.log,
                share_polls=self.poll_interval,
            )
        )
        assert outcome is not None  # the flow runs until the wait ends
        yield TriggerEvent(outcome.to_event())

    async def on_kill(self) -> None:
        """Airflow 3.3+: the user killed, cleared or marked the deferred task. Terminate the job
        if this wait owns it (``terminate_on_kill``); a sensor's trigger leaves it alone."""
        if not self.terminate_on_kill:
            self.log.info(
                "Deferred wait on service job %s killed; the job is left running (its owner "
                "terminates it)",
                self.job_id,
            )
            return
        # The triggerer cancels a killed trigger again at each sync until it is gone, which
        # would cancel this terminate mid-way: it runs in a task of its own.
        await finishing_even_if_cancelled(self._terminate_on_kill())

    async def _terminate_on_kill(self) -> None:
        try:
            await asyncio.wait_for(
                self.hook.aterminate_service_job(self.job_id, self.kill_reason), timeout=30
            )
        except Exception:
            self.log.exception("Could not terminate service job %s on kill", self.job_id)
            return
        self.log.info("Terminated service job %s: %s", self.job_id, self.kill_reason)
