"""Deferred waits on a service environment's or a job queue's status, in the triggerer.

``BatchServiceEnvironmentTrigger`` (``BatchServiceEnvironmentSensor`` and
``BatchCreateServiceEnvironmentOperator`` with ``deferrable=True``) and
``BatchServiceJobQueueTrigger`` (``BatchServiceJobQueueSensor``) describe their resource every
``poll_interval`` seconds, through :class:`BatchServiceJobHook` methods run in a thread, and
fire one event: ``{"status": "success" | "failure" | "timeout", "message", "value"}`` where
``value`` is the resource's summary (``core.operations.ResourceCheck.summary``), as strict JSON
(``core.strict_json``: Airflow stores the event, and PostgreSQL refuses a NUL character, which
a status reason from AWS may carry).
Throttling, 5xx and connection errors are logged and polled through; they never end the wait.

A declaration over the one resource wait: ``run`` steps ``core.resource_wait.resource_flow``
(the same rules, log lines and timeout as a poke) with ``_shared.resource_waiting.watch``.
Nothing heavy is imported at module level: the triggerer imports this by classpath.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.providers.amazon.aws.utils.mixins import AwsHookParams
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_batch_service.core.strict_json import strict_json

#: Event statuses (``core.resource_wait``'s, spelled here so that importing them is free).
SUCCESS, FAILURE, TIMEOUT = "success", "failure", "timeout"


class _ResourceStatusTrigger(BaseTrigger):
    """Poll one resource's status until it is ready, failed, or ``max_attempts`` ran out."""

    #: The serialized name of the resource argument, and the resource's kind in
    #: ``core.resource_wait.RESOURCES``; set by subclasses.
    resource_arg = "resource"

    def __init__(
        self,
        *,
        resource: str,
        poll_interval: float = 30,
        max_attempts: int | None = None,
        treat_non_existing_as_deleted: bool = False,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.resource = resource
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.treat_non_existing_as_deleted = treat_non_existing_as_deleted
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = dict(botocore_config) if botocore_config else None

    def connection_args(self) -> dict[str, Any]:
        """The hook's arguments, in the amazon provider's ``AwsHookParams`` shape."""
        params = (self.aws_conn_id, self.region_name, self.verify, self.botocore_config)
        return AwsHookParams(*params)._asdict()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                self.resource_arg: self.resource,
                "poll_interval": self.poll_interval,
                "max_attempts": self.max_attempts,
                "treat_non_existing_as_deleted": self.treat_non_existing_as_deleted,
                **self.connection_args(),
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_batch_service._shared.resource_waiting import (  # lazy: boto3, per trigger row
            watch,
        )

        outcome = await watch(
            self.resource_arg,
            self.resource,
            poll_interval=self.poll_interval,
            max_attempts=self.max_attempts,
            treat_non_existing_as_deleted=self.treat_non_existing_as_deleted,
            connection=self.connection_args(),
            log=self.log,
        )
        yield TriggerEvent(strict_json(outcome.to_event()))


class BatchServiceEnvironmentTrigger(_ResourceStatusTrigger):
    """Wait for a service environment to be ``VALID`` (or ``DELETED``).

    :param service_environment: name or ARN.
    :param poll_interval: seconds between DescribeServiceEnvironments calls.
    :param max_attempts: describes before the wait ends with a ``timeout`` event (None: no
        limit; the task's own deferral timeout still applies).
    :param treat_non_existing_as_deleted: a missing environment counts as deleted (success).
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config`` (all serialized).
    """

    resource_arg = "service_environment"

    def __init__(self, *, service_environment: str, **kwargs: Any) -> None:
        super().__init__(resource=service_environment, **kwargs)


class BatchServiceJobQueueTrigger(_ResourceStatusTrigger):
    """Wait for a ``SAGEMAKER_TRAINING`` job queue to be ``VALID`` (or ``DELETED``).

    :param job_queue: name or ARN.
    :param poll_interval: seconds between DescribeJobQueues calls.
    :param max_attempts: describes before a ``timeout`` event (None: no limit).
    :param treat_non_existing_as_deleted: a missing queue counts as deleted (success).
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.
    """

    resource_arg = "job_queue"

    def __init__(self, *, job_queue: str, **kwargs: Any) -> None:
        super().__init__(resource=job_queue, **kwargs)
