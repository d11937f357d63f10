"""The resource-status wait's I/O half: how its calls reach the hook, and how its end ends a
task; the rules are ``core.resource_wait``'s.

``core.resource_wait.resource_flow`` is the whole wait as a generator of ``core.flow``
requests, stepped by the same drivers as the job wait (``_shared.drivers``): :func:`run` with
blocking calls on a hook (a sensor's poke, the create operator's wait on the worker), :func:`arun`
in the triggerer (through :func:`watch`). What differs is only how a call is made
(:class:`Calls`): a resource describe has no ``async`` twin, so in the triggerer the blocking
method runs in a thread through asgiref, as the amazon provider's triggers do (on Airflow 3.0
the triggerer's connection lookup only works from its threads); and a worker re-raises an AWS
error as it was raised, so :class:`Calls` keeps the exception behind ``Failed``.

:func:`finish` turns an outcome (or a trigger's event) into the task's result or Airflow
exception, the same for every mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)
from asgiref.sync import sync_to_async

from airflow_batch_service._shared import drivers
from airflow_batch_service.core.errors import classify_exception
from airflow_batch_service.core.flow import Call, Failed, Request
from airflow_batch_service.core.outcome import Ending
from airflow_batch_service.core.resource_wait import (
    RESOURCES,
    ResourceOutcome,
    ResourceWait,
    ending,
    resource_flow,
)
from airflow_batch_service.core.strict_json import strict_json
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

T = TypeVar("T")

#: The Airflow exception of each way a wait ends a task (any other: retryable).
_RAISES: dict[Ending, type[Exception]] = {
    Ending.FAIL: AirflowFailException,
    Ending.SENSOR_TIMEOUT: AirflowSensorTimeout,
}


class Calls:
    """Makes a flow's :class:`Call` on a hook. An AWS error (``core.errors``) comes back as
    :class:`Failed`, and the exception is kept (:attr:`raised`); anything else propagates (a
    bug fails loudly, it is never polled around)."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook
        self.raised: Exception | None = None

    def _failed(self, exc: Exception) -> Failed:
        mapped = classify_exception(exc)
        if mapped is None:
            raise exc
        self.raised = exc
        return Failed(*mapped)

    def call(self, request: Call) -> Any:
        try:
            return getattr(self.hook, request.method)(**request.kwargs)
        except Exception as exc:
            return self._failed(exc)

    async def acall(self, request: Call) -> Any:
        try:
            return await sync_to_async(getattr(self.hook, request.method))(**request.kwargs)
        except Exception as exc:
            return self._failed(exc)


def run(
    flow: Generator[Request, Any, T],
    calls: Calls,
    log: Any,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Step ``flow`` with blocking calls until it returns."""
    return drivers.run(flow, calls.call, log, sleep=sleep)


async def arun(flow: Generator[Request, Any, T], calls: Calls, log: Any) -> T:
    """Step ``flow`` with the hook's blocking methods run in a thread, until it returns."""
    return await drivers.arun(flow, calls.acall, log)


async def watch(
    kind: str,
    identifier: str,
    *,
    poll_interval: float,
    max_attempts: int | None,
    treat_non_existing_as_deleted: bool,
    connection: Mapping[str, Any],
    log: Any,
) -> ResourceOutcome:
    """A trigger's whole wait on ``identifier`` (a ``core.resource_wait.RESOURCES`` ``kind``).

    The hook is built in a thread (the connection lookup, as the amazon provider's triggers
    do). An exception no AWS error explains while describing (a missing connection) ends the
    wait as a failure that says so: a trigger has no worker to raise it on.
    """
    wait = ResourceWait(
        RESOURCES[kind],
        identifier,
        poll_interval=poll_interval,
        max_attempts=max_attempts,
        treat_non_existing_as_deleted=treat_non_existing_as_deleted,
    )
    args = dict(connection)
    args["config"] = args.pop("botocore_config", None)
    hook = await sync_to_async(BatchServiceJobHook)(**args)
    try:
        return await arun(resource_flow(wait), Calls(hook), log)
    except Exception as exc:
        return wait.describe_failed(str(exc))


def finish(
    outcome: ResourceOutcome,
    log: Any,
    *,
    sensor: bool,
    calls: Calls | None = None,
    soft_fail: bool = False,
    prefix: str = "",
) -> dict[str, Any]:
    """The task's result for ``outcome``: the summary on success; otherwise the exception
    ``core.resource_wait.ending`` names (``prefix`` before its message). On the worker
    (``calls`` given) an AWS error that ended the wait is re-raised as it was raised, so
    Airflow's retries apply to it as to any AWS error; ``soft_fail`` skips instead."""
    how = ending(outcome, sensor=sensor)
    if how is Ending.RETURN:
        return strict_json(outcome.value)
    if outcome.error and calls is not None and calls.raised is not None:
        raise calls.raised
    message = f"{prefix}{outcome.message}"
    if soft_fail:
        log.warning("Skipping (soft_fail): %s", message)
        raise AirflowSkipException(message)
    raise _RAISES.get(how, AirflowException)(message)
