"""What the resource sensors do when they run: poke, defer, and end a deferred wait.

Loaded by ``sensors.service_operations`` only when a sensor runs (never at DAG parsing). Each
piece runs ``core.resource_wait`` through ``_shared.resource_waiting``: a poke is one step of
the flow (``once``), a deferral hands the same flow to the trigger, and both ends go through
``finish``, so a poked and a deferred wait end the task the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import PokeReturnValue

from airflow_batch_service._shared.resource_waiting import Calls, finish, run
from airflow_batch_service._shared.waiting import connection_args
from airflow_batch_service.core.resource_wait import (
    RESOURCES,
    ResourceOutcome,
    ResourceWait,
    attempts_within,
    resource_poke,
)
from airflow_batch_service.links.service_operations import persist_quietly
from airflow_batch_service.triggers.service_operations import (
    BatchServiceEnvironmentTrigger,
    BatchServiceJobQueueTrigger,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.sensors.service_operations import _ResourceStatusSensor

TRIGGERS = {
    t.resource_arg: t for t in (BatchServiceEnvironmentTrigger, BatchServiceJobQueueTrigger)
}


def refuse_bad_input(sensor: _ResourceStatusSensor) -> None:
    """Fail before any call on a missing resource, a negative interval, a bad ``max_retries``."""
    value = sensor.resource
    if not isinstance(value, str) or not value.strip():
        raise AirflowFailException(
            f"{sensor.resource_arg}: must be a non-empty name or ARN, got {value!r}; "
            "nothing was called"
        )
    if not isinstance(sensor.poke_interval, int | float) or sensor.poke_interval < 0:
        raise AirflowFailException(
            f"poke_interval: must be a number of seconds >= 0, got {sensor.poke_interval!r}"
        )
    retries = sensor.max_retries
    if retries is not None and (
        isinstance(retries, bool) or not isinstance(retries, int) or retries < 1
    ):
        raise AirflowFailException(
            f"max_retries: must be a positive integer or None, got {retries!r}"
        )


def persist_link(sensor: _ResourceStatusSensor, context: Context, summary: dict[str, Any]) -> None:
    """Persist the console link once the resource's ARN is known (once per ARN)."""
    arn = summary.get("arn")
    if not arn or arn == sensor._linked_arn:
        return
    sensor._linked_arn = arn
    persist_quietly(
        sensor.link,
        context,
        sensor,
        region_name=sensor.hook.conn_region_name,
        aws_partition=sensor.hook.conn_partition,
        **{sensor.link_arg: arn},
    )


def poke(sensor: _ResourceStatusSensor, context: Context) -> bool | PokeReturnValue:
    """One describe: False while the wait goes on, the summary when done, or the exception."""
    wait = ResourceWait(
        RESOURCES[sensor.resource_arg],
        sensor.resource,
        poll_interval=sensor.poke_interval,
        treat_non_existing_as_deleted=sensor.treat_non_existing_as_deleted,
    )
    calls = Calls(sensor.hook)
    outcome = run(resource_poke(wait), calls, sensor.log)
    if wait.last_check is not None:
        persist_link(sensor, context, wait.last_check.summary)
    if outcome is None:
        return False
    summary = finish(outcome, sensor.log, sensor=True, calls=calls)
    return PokeReturnValue(is_done=True, xcom_value=summary)


def trigger(sensor: _ResourceStatusSensor, max_attempts: int | None) -> Any:
    return TRIGGERS[sensor.resource_arg](
        **{sensor.resource_arg: sensor.resource},
        poll_interval=sensor.poke_interval,
        max_attempts=max_attempts,
        treat_non_existing_as_deleted=sensor.treat_non_existing_as_deleted,
        **connection_args(sensor),
    )


def look_then_defer(sensor: _ResourceStatusSensor, context: Context) -> Any:
    """One look first: a resource already ready (or broken) ends here, and the link is
    persisted before anything is deferred. Then the wait goes to the triggerer, with as many
    describes as fit in ``timeout`` unless ``max_retries`` says otherwise."""
    result = poke(sensor, context)
    if isinstance(result, PokeReturnValue) and result.is_done:
        return result.xcom_value
    max_attempts = sensor.max_retries
    if max_attempts is None:
        max_attempts = attempts_within(sensor.timeout, sensor.poke_interval)
    sensor.defer(
        trigger=trigger(sensor, max_attempts),
        method_name="execute_complete",
        timeout=timedelta(seconds=float(sensor.timeout)) if sensor.timeout else None,
    )


def complete(
    sensor: _ResourceStatusSensor, context: Context, event: dict[str, Any] | None
) -> dict[str, Any]:
    outcome = ResourceOutcome.from_event(event)
    persist_link(sensor, context, outcome.value)
    return finish(outcome, sensor.log, sensor=True, soft_fail=sensor.soft_fail)
