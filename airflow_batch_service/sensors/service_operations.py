"""Sensors for the resources service jobs run on: a service environment and a job queue.

``BatchServiceEnvironmentSensor`` and ``BatchServiceJobQueueSensor`` mirror the amazon
provider's ``BatchComputeEnvironmentSensor`` and ``BatchJobQueueSensor`` (same argument names,
same meaning of a status: ``VALID`` or ``DELETED`` ends the wait, ``CREATING`` / ``UPDATING`` /
``DELETING`` waits, anything else fails), for SAGEMAKER_TRAINING resources, and add what those
lack: ``deferrable=True`` (``triggers.service_operations``), a console link, a summary XCom
(``name``, ``arn``, ``status``, ``state``, ``statusReason``), and waiting through throttling and
5xx instead of failing on them. The queue sensor also fails a queue that is not
``SAGEMAKER_TRAINING``: service jobs can never use it.

A failed status (``INVALID``) or a resource that does not exist fails the task with
``AirflowFailException`` (waiting or retrying would not change it; ``soft_fail`` skips
instead). ``timeout`` bounds the wait in every mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk import PokeReturnValue

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.service_operations import (
    BatchServiceEnvironmentLink,
    BatchServiceJobQueueLink,
    persist_quietly,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class _ResourceStatusSensor(AwsBaseSensor[BatchServiceJobHook]):
    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    #: The argument naming the resource (also its template field).
    resource_arg = "resource"
    what = "resource"

    def __init__(
        self,
        *,
        treat_non_existing_as_deleted: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 30,
        max_retries: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.treat_non_existing_as_deleted = treat_non_existing_as_deleted
        self.deferrable = deferrable
        self.max_retries = max_retries
        self._linked_arn: str | None = None

    @property
    def resource(self) -> str:
        return getattr(self, self.resource_arg)

    # -- subclass hooks -----------------------------------------------------------------

    def describe(self) -> dict[str, Any] | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, description: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def trigger(self, max_attempts: int | None) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def persist_link(self, context: Context, summary: dict[str, Any]) -> None:
        """Persist the console link once the ARN is known."""

    # -- the sensor ---------------------------------------------------------------------

    def _refuse_bad_input(self) -> None:
        from airflow.providers.common.compat.sdk import AirflowFailException

        value = self.resource
        if not isinstance(value, str) or not value.strip():
            raise AirflowFailException(
                f"{self.resource_arg}: must be a non-empty name or ARN, got {value!r}; "
                "nothing was called"
            )
        if not isinstance(self.poke_interval, int | float) or self.poke_interval < 0:
            raise AirflowFailException(
                f"poke_interval: must be a number of seconds >= 0, got {self.poke_interval!r}"
            )
        if self.max_retries is not None and (
            isinstance(self.max_retries, bool)
            or not isinstance(self.max_retries, int)
            or self.max_retries < 1
        ):
            raise AirflowFailException(
                f"max_retries: must be a positive integer or None, got {self.max_retries!r}"
            )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_batch_service.core.errors import is_retryable
        from airflow_batch_service.core.operations import ResourceStatus

        try:
            description = self.describe()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            self.log.warning(
                "Describing %s %s failed (%s); asking again at the next poke",
                self.what,
                self.resource,
                exc,
            )
            return False
        check = self.check(description)
        arn = check.summary.get("arn")
        if arn and arn != self._linked_arn:
            self._linked_arn = arn
            self.persist_link(context, check.summary)
        if check.outcome is ResourceStatus.READY:
            self.log.info("%s", check.message)
            return PokeReturnValue(is_done=True, xcom_value=check.summary)
        if check.outcome is ResourceStatus.FAILED:
            self.log.error("%s", check.message)
            raise AirflowFailException(check.message)
        self.log.info("%s", check.message)
        return False

    def execute(self, context: Context) -> Any:
        self._refuse_bad_input()
        if not self.deferrable:
            return super().execute(context)
        # One look first: a resource that is already ready (or broken) ends here, and the link
        # is persisted before anything is deferred.
        result = self.poke(context)
        if isinstance(result, PokeReturnValue) and result.is_done:
            return result.xcom_value
        max_attempts = self.max_retries
        if max_attempts is None and self.timeout is not None and self.poke_interval > 0:
            max_attempts = max(1, math.ceil(float(self.timeout) / self.poke_interval))
        self.defer(
            trigger=self.trigger(max_attempts),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)) if self.timeout else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """The trigger's event -> the poke's result: the summary, or the same exception."""
        from airflow.providers.common.compat.sdk import (
            AirflowFailException,
            AirflowSensorTimeout,
            AirflowSkipException,
        )

        from airflow_batch_service.triggers.service_operations import SUCCESS, TIMEOUT

        event = event or {}
        value = event.get("value") or {}
        if isinstance(value, dict) and value.get("arn"):
            self.persist_link(context, value)
        message = str(event.get("message") or event)
        if event.get("status") == SUCCESS:
            return value
        if self.soft_fail:
            self.log.warning("Skipping (soft_fail): %s", message)
            raise AirflowSkipException(message)
        if event.get("status") == TIMEOUT:
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(message)


class BatchServiceEnvironmentSensor(_ResourceStatusSensor):
    """Wait until a SAGEMAKER_TRAINING service environment is ``VALID`` (or ``DELETED``).

    The service-job counterpart of the amazon provider's ``BatchComputeEnvironmentSensor``.

    :param service_environment: the service environment's name or ARN (templated).
    :param treat_non_existing_as_deleted: a missing environment counts as deleted, so the wait
        for a deletion ends (default False: a missing one fails the task).
    :param deferrable: wait in the triggerer (``BatchServiceEnvironmentTrigger``). Default:
        ``[operators] default_deferrable``.
    :param poke_interval: seconds between DescribeServiceEnvironments calls (default 30).
    :param max_retries: deferrable mode: describes before giving up (default:
        ``timeout / poke_interval``).
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.

    Returns (XCom) ``{"name", "arn", "status", "state", "statusReason"}``. ``INVALID`` or a
    missing environment fails with ``AirflowFailException``, naming the ``statusReason``.
    """

    template_fields: Sequence[str] = aws_template_fields("service_environment")
    operator_extra_links = (BatchServiceEnvironmentLink(),)
    resource_arg = "service_environment"
    what = "service environment"

    def __init__(self, *, service_environment: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_environment = service_environment

    def describe(self) -> dict[str, Any] | None:
        return self.hook.describe_service_environment(self.service_environment)

    def check(self, description: Any) -> Any:
        from airflow_batch_service.core.operations import check_service_environment

        return check_service_environment(
            self.service_environment,
            description,
            treat_non_existing_as_deleted=self.treat_non_existing_as_deleted,
        )

    def trigger(self, max_attempts: int | None) -> Any:
        from airflow_batch_service.triggers.service_operations import (
            BatchServiceEnvironmentTrigger,
        )

        return BatchServiceEnvironmentTrigger(
            service_environment=self.service_environment,
            poll_interval=self.poke_interval,
            max_attempts=max_attempts,
            treat_non_existing_as_deleted=self.treat_non_existing_as_deleted,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )

    def persist_link(self, context: Context, summary: dict[str, Any]) -> None:
        persist_quietly(
            BatchServiceEnvironmentLink,
            context,
            self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            service_environment_arn=summary["arn"],
        )


class BatchServiceJobQueueSensor(_ResourceStatusSensor):
    """Wait until a SAGEMAKER_TRAINING job queue is ``VALID`` (or ``DELETED``).

    The service-job counterpart of the amazon provider's ``BatchJobQueueSensor``; a queue
    that exists but is not ``SAGEMAKER_TRAINING`` fails the task.

    :param job_queue: the job queue's name or ARN (templated).
    :param treat_non_existing_as_deleted: a missing queue counts as deleted (default False).
    :param deferrable: wait in the triggerer (``BatchServiceJobQueueTrigger``).
    :param poke_interval: seconds between DescribeJobQueues calls (default 30).
    :param max_retries: deferrable mode: describes before giving up (default:
        ``timeout / poke_interval``).
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.

    Returns (XCom) ``{"name", "arn", "status", "state", "statusReason"}``: a ``VALID`` but
    ``DISABLED`` queue ends the wait too (its ``state`` says so); the submit operator refuses
    a disabled queue.
    """

    template_fields: Sequence[str] = aws_template_fields("job_queue")
    operator_extra_links = (BatchServiceJobQueueLink(),)
    resource_arg = "job_queue"
    what = "job queue"

    def __init__(self, *, job_queue: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_queue = job_queue

    def describe(self) -> dict[str, Any] | None:
        return self.hook.describe_job_queue_now(self.job_queue)

    def check(self, description: Any) -> Any:
        from airflow_batch_service.core.operations import check_job_queue

        return check_job_queue(
            self.job_queue,
            description,
            treat_non_existing_as_deleted=self.treat_non_existing_as_deleted,
        )

    def trigger(self, max_attempts: int | None) -> Any:
        from airflow_batch_service.triggers.service_operations import BatchServiceJobQueueTrigger

        return BatchServiceJobQueueTrigger(
            job_queue=self.job_queue,
            poll_interval=self.poke_interval,
            max_attempts=max_attempts,
            treat_non_existing_as_deleted=self.treat_non_existing_as_deleted,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )

    def persist_link(self, context: Context, summary: dict[str, Any]) -> None:
        persist_quietly(
            BatchServiceJobQueueLink,
            context,
            self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_queue_arn=summary["arn"],
        )
