"""Deferred waits on a service environment's or a job queue's status, in the triggerer.

``BatchServiceEnvironmentTrigger`` (``BatchServiceEnvironmentSensor`` and
``BatchCreateServiceEnvironmentOperator`` with ``deferrable=True``) and
``BatchServiceJobQueueTrigger`` (``BatchServiceJobQueueSensor``) describe their resource every
``poll_interval`` seconds, through :class:`BatchServiceJobHook` methods run in a thread, and
fire one event: ``{"status": "success" | "failure" | "timeout", "message", "value"}`` where
``value`` is the resource's summary (``core.operations.ResourceCheck.summary``).
Throttling, 5xx and connection errors are logged and polled through; they never end the wait.
What a status means comes from ``core.operations`` (the same as a poke).

Nothing heavy is imported at module level: the triggerer imports this by classpath.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_batch_service.core.errors import is_retryable

#: Event statuses.
SUCCESS, FAILURE, TIMEOUT = "success", "failure", "timeout"


class _ResourceStatusTrigger(BaseTrigger):
    """Poll one resource's status until it is ready, failed, or ``max_attempts`` ran out."""

    #: What the resource is called in messages; set by subclasses.
    what = "resource"
    #: The serialized name of the resource argument; set by subclasses.
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

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                self.resource_arg: self.resource,
                "poll_interval": self.poll_interval,
                "max_attempts": self.max_attempts,
                "treat_non_existing_as_deleted": self.treat_non_existing_as_deleted,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    def hook(self) -> Any:
        from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

        return BatchServiceJobHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=dict(self.botocore_config) if self.botocore_config else None,
        )

    def describe(self, hook: Any) -> dict[str, Any] | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, description: Mapping[str, Any] | None) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Through asgiref, as the amazon provider: on Airflow 3.0 the triggerer's connection
        # lookup only works from its threads, and boto3 blocks.
        from asgiref.sync import sync_to_async

        from airflow_batch_service.core.operations import ResourceStatus

        hook = await sync_to_async(self.hook)()
        attempt = 0
        last = "no answer yet"
        while self.max_attempts is None or attempt < self.max_attempts:
            attempt += 1
            try:
                description = await sync_to_async(self.describe)(hook)
            except Exception as exc:
                if not is_retryable(exc):
                    yield TriggerEvent(
                        {
                            "status": FAILURE,
                            "message": f"describing {self.what} {self.resource} failed: {exc}",
                            "value": {},
                        }
                    )
                    return
                last = f"transient error: {exc}"
                self.log.warning(
                    "Describing %s %s failed (%s); asking again", self.what, self.resource, exc
                )
            else:
                check = self.check(description)
                if check.outcome is ResourceStatus.READY:
                    self.log.info("%s", check.message)
                    yield TriggerEvent(
                        {"status": SUCCESS, "message": check.message, "value": check.summary}
                    )
                    return
                if check.outcome is ResourceStatus.FAILED:
                    self.log.error("%s", check.message)
                    yield TriggerEvent(
                        {"status": FAILURE, "message": check.message, "value": check.summary}
                    )
                    return
                last = check.message
                self.log.info("%s", check.message)
            if self.max_attempts is not None and attempt >= self.max_attempts:
                break
            await asyncio.sleep(self.poll_interval)
        yield TriggerEvent(
            {
                "status": TIMEOUT,
                "message": (
                    f"{self.what} {self.resource} did not become ready within "
                    f"{self.max_attempts} polls every {self.poll_interval:g}s; last: {last}"
                ),
                "value": {},
            }
        )


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

    what = "service environment"
    resource_arg = "service_environment"

    def __init__(self, *, service_environment: str, **kwargs: Any) -> None:
        super().__init__(resource=service_environment, **kwargs)

    def describe(self, hook: Any) -> dict[str, Any] | None:
        return hook.describe_service_environment(self.resource)

    def check(self, description: Mapping[str, Any] | None) -> Any:
        from airflow_batch_service.core.operations import check_service_environment

        return check_service_environment(
            self.resource,
            description,
            treat_non_existing_as_deleted=self.treat_non_existing_as_deleted,
        )


class BatchServiceJobQueueTrigger(_ResourceStatusTrigger):
    """Wait for a ``SAGEMAKER_TRAINING`` job queue to be ``VALID`` (or ``DELETED``).

    :param job_queue: name or ARN.
    :param poll_interval: seconds between DescribeJobQueues calls.
    :param max_attempts: describes before a ``timeout`` event (None: no limit).
    :param treat_non_existing_as_deleted: a missing queue counts as deleted (success).
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.
    """

    what = "job queue"
    resource_arg = "job_queue"

    def __init__(self, *, job_queue: str, **kwargs: Any) -> None:
        super().__init__(resource=job_queue, **kwargs)

    def describe(self, hook: Any) -> dict[str, Any] | None:
        return hook.describe_job_queue_now(self.resource)

    def check(self, description: Mapping[str, Any] | None) -> Any:
        from airflow_batch_service.core.operations import check_job_queue

        return check_job_queue(
            self.resource,
            description,
            treat_non_existing_as_deleted=self.treat_non_existing_as_deleted,
        )
