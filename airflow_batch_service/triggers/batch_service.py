"""``BatchServiceJobTrigger``: the deferred wait on a service job, in the triggerer.

A declaration over the one wait: what it serializes is a ``_shared.wait_spec.WaitSpec`` (each
field declared there once), from which ``waiting.wait_deferred`` rebuilds ``core.wait.JobWait``
and steps ``core.wait.wait_flow`` with the hook's async twins (``waiting.arun``): the same log
lines, verdicts, backoff with jitter and deadline as a poke, only awaited. Its event is
``WaitOutcome.to_event()``, which the task's ``execute_complete`` hands to ``waiting.finish``,
so a deferred wait ends the task exactly as a poking one would.

Its I/O goes only through :class:`BatchServiceJobHook`, built from the connection arguments the
way the amazon provider's ``AwsBaseHookMixin`` builds it (``config=botocore_config``); the
hook's async twins share ONE boto3 client per connection in the triggerer process
(``shared_clients``).

Imports stay lazy: the triggerer imports this module by classpath for every trigger row, and
importing it loads neither boto3 nor the wait (``tests/provider/test_trigger.py`` checks).

Cancellation: on Airflow versions whose ``BaseTrigger`` has ``on_kill`` (3.3+), a user's kill,
clear or mark of the deferred task calls it, and a trigger with ``terminate_on_kill=True`` (the
operator's: it owns its job) terminates the job with ``kill_reason``. Airflow decides by the
cancel's message, which some awaits drop; the wait therefore runs under
``cancellation.keeping_cancel_message``, so the message survives wherever the cancel lands;
the terminate in ``on_kill`` runs under ``cancellation.finishing_even_if_cancelled``, since the
triggerer repeats its cancel until the trigger is gone. Airflow 3.3.2 sends the same message
when a triggerer that stalled past its health threshold cancels the triggers another one
adopted, so before terminating, ``on_kill`` asks Airflow for the task instance's state and
leaves the job alone while the task is still deferred (``core.kill_rule``,
``_shared.task_state``). Before 3.3 only ``cleanup()`` runs, on every exit including a
triggerer restart, so it must not (and does not) terminate anything: the job keeps running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_batch_service._shared.cancellation import (
    finishing_even_if_cancelled,
    keeping_cancel_message,
)
from airflow_batch_service._shared.task_state import current_attachment, task_instance_state
from airflow_batch_service._shared.wait_spec import WaitSpec
from airflow_batch_service.core.kill_rule import DEFERRED, decide_on_kill

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

#: The spec's fields, readable as the trigger's own attributes (``trigger.job_id``).
_SPEC_FIELDS = frozenset(WaitSpec.__dataclass_fields__)


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

    These are the fields of ``WaitSpec`` (``self.spec``), which declares them once: what
    ``serialize`` stores and the triggerer passes back here. Each reads as an attribute of the
    trigger too (``trigger.job_id``).
    """

    def __init__(self, **spec: Any) -> None:
        super().__init__()
        self.spec = WaitSpec(**spec)

    @classmethod
    def from_spec(cls, spec: WaitSpec) -> BatchServiceJobTrigger:
        """The trigger for ``spec``, built as the triggerer rebuilds it: from its kwargs."""
        return cls(**spec.to_kwargs())

    def __getattr__(self, name: str) -> Any:
        """A spec field read as the trigger's attribute (only those: anything else is missing)."""
        spec = self.__dict__.get("spec")
        if spec is None or name not in _SPEC_FIELDS:
            raise AttributeError(name)
        return getattr(spec, name)

    @cached_property
    def hook(self) -> BatchServiceJobHook:
        """The process's hook for the serialized connection arguments (``AwsBaseHookMixin``'s
        mapping), shared with every other trigger that has the same ones (``shared_clients``)."""
        from airflow_batch_service._shared.clients import (  # lazy: boto3 only when a trigger runs
            get_shared_hook,
        )

        spec = self.spec
        return get_shared_hook(
            aws_conn_id=spec.aws_conn_id,
            region_name=spec.region_name,
            verify=spec.verify,
            botocore_config=spec.botocore_config,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", self.spec.to_kwargs()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_batch_service._shared import waiting  # lazy: the wait only when a trigger runs

        self.log.info(
            "Waiting for service job %s in the triggerer (poll every %gs)",
            self.spec.job_id,
            self.spec.poll_interval,
        )
        # The wait runs in a child task: a user's kill must reach Airflow with its message
        # however deep in an AWS call it lands, or on_kill never runs (``cancellation``).
        outcome = await keeping_cancel_message(
            waiting.wait_deferred(self.spec, self.hook, self.log)
        )
        yield TriggerEvent(outcome.to_event())

    async def on_kill(self) -> None:
        """Airflow 3.3+: the triggerer says the user killed, cleared or marked the deferred
        task. Terminate the job if this wait owns it (``terminate_on_kill``) and Airflow
        confirms the task is no longer deferred (``core.kill_rule``: a triggerer hand-over
        says the same); a sensor's trigger leaves the job alone."""
        if not self.spec.terminate_on_kill:
            self.log.info(
                "Deferred wait on service job %s killed; the job is left running (its owner "
                "terminates it)",
                self.spec.job_id,
            )
            return
        # Said before any await: Airflow closes the trigger's log when its repeated cancel
        # (each sync) cuts this on_kill short, and what follows may then reach only the
        # triggerer's own log.
        self.log.info(
            "Deferred wait on service job %s cancelled as a kill: asking Airflow whether its "
            "task is still deferred (the answer may be in the triggerer's log)",
            self.spec.job_id,
        )
        # The triggerer cancels a killed trigger again at each sync until it is gone, which
        # would cancel this terminate mid-way: it runs in a task of its own.
        await finishing_even_if_cancelled(self._terminate_on_kill())

    async def _terminate_on_kill(self) -> None:
        # Airflow 3.3.2 also says "user action" when a triggerer that stalled cancels the copies
        # of triggers another triggerer adopted: ask Airflow whether the task is still deferred
        # before terminating (``core.kill_rule``).
        ti = getattr(self, "task_instance", None)
        state, problem = await task_instance_state(ti)
        current_job, current_try = (
            await current_attachment(ti) if state == DEFERRED else (None, None)
        )
        own_try = getattr(ti, "try_number", None)
        decision = decide_on_kill(
            state,
            current_job,
            self.spec.job_id,
            current_try=current_try,
            own_try=own_try if isinstance(own_try, int) else None,
        )
        if not decision.terminate:
            self.log.warning(
                "Deferred wait on service job %s cancelled as a kill, but %s.",
                self.spec.job_id,
                decision.why,
            )
            return
        self.log.info(
            "Deferred wait on service job %s killed: %s%s.",
            self.spec.job_id,
            decision.why,
            f" ({problem})" if problem else "",
        )
        try:
            await asyncio.wait_for(
                self.hook.aterminate_service_job(self.spec.job_id, self.spec.kill_reason),
                timeout=30,
            )
        except Exception:
            self.log.exception("Could not terminate service job %s on kill", self.spec.job_id)
            return
        self.log.info("Terminated service job %s: %s", self.spec.job_id, self.spec.kill_reason)
