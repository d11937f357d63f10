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

The classes only declare: a poke, a deferral and a deferred wait's end all run the one
resource wait (``core.resource_wait``), through ``sensors._service_ops_run``, which each entry
point imports when it runs so that parsing a DAG loads none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.service_operations import (
    BatchServiceEnvironmentLink,
    BatchServiceJobQueueLink,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, PokeReturnValue


class _ResourceStatusSensor(AwsBaseSensor[BatchServiceJobHook]):
    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    #: The argument naming the resource (also its template field, and its kind in
    #: ``core.resource_wait.RESOURCES``).
    resource_arg = "resource"
    #: The console link, and the name of the ARN among its parameters.
    link: type[BatchServiceEnvironmentLink | BatchServiceJobQueueLink] = BatchServiceJobQueueLink
    link_arg = "job_queue_arn"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A resource sensor names its argument and its link once; the templated fields and
        the task's extra links follow from them."""
        super().__init_subclass__(**kwargs)
        cls.template_fields = aws_template_fields(cls.resource_arg)
        cls.operator_extra_links = (cls.link(),)

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

    def poke(self, context: Context) -> bool | PokeReturnValue:
        from airflow_batch_service.sensors import (  # lazy: DAG parse loads no wait
            _service_ops_run as run,
        )

        return run.poke(self, context)

    def execute(self, context: Context) -> Any:
        from airflow_batch_service.sensors import (  # lazy: DAG parse loads no wait
            _service_ops_run as run,
        )

        run.refuse_bad_input(self)
        if not self.deferrable:
            return super().execute(context)
        return run.look_then_defer(self, context)

    def trigger(self, max_attempts: int | None) -> Any:
        """The trigger that waits for this sensor in the triggerer."""
        from airflow_batch_service.sensors import (  # lazy: DAG parse loads no wait
            _service_ops_run as run,
        )

        return run.trigger(self, max_attempts)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """The trigger's event -> the poke's result: the summary, or the same exception."""
        from airflow_batch_service.sensors import (  # lazy: DAG parse loads no wait
            _service_ops_run as run,
        )

        return run.complete(self, context, event)


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

    resource_arg, link, link_arg = (
        "service_environment",
        BatchServiceEnvironmentLink,
        "service_environment_arn",
    )

    def __init__(self, *, service_environment: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service_environment = service_environment


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

    resource_arg, link, link_arg = "job_queue", BatchServiceJobQueueLink, "job_queue_arn"

    def __init__(self, *, job_queue: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_queue = job_queue
