"""The model asset in Airflow's terms: ``model_asset`` as an outlet, and its event's extra.

When the DAG is parsed, :func:`model_asset_outlet` turns the ``model_asset`` argument of the
operator, the sensor or ``@task.batch_service`` into an ``airflow.sdk.Asset`` (the URI rules
are ``core.model_asset``'s) and :func:`with_outlet` adds it to the task's ``outlets``, beside
any the user gave: Airflow then knows which DAGs the task's success schedules.

When a wait ends the task successfully (``_shared.task_end.end_task``, in every mode, a
deferred wait's ``execute_complete`` included), :func:`record_asset_event` writes what the job
produced into ``context["outlet_events"][asset].extra``. Airflow stores that extra with the
asset event only when the task succeeds: a task that fails after it (the decorator cannot
read its function's result) emits no event, and a failed job never reaches it.

Imported by the shells at module level, so cheap: ``airflow.sdk.Asset`` (which parsing a DAG
has loaded already) and ``core.model_asset`` (standard library only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

from airflow_batch_service.core.model_asset import (
    ARGUMENT,
    ModelAssetError,
    OutputPath,
    asset_extra,
    model_asset_uri,
)

if TYPE_CHECKING:
    from airflow_batch_service.core.outcome import WaitOutcome


def model_asset_outlet(
    value: Any, output: OutputPath | None, *, waits: bool = True
) -> Asset | None:
    """The asset ``model_asset`` names (None when not set). ``output``: the task's output path
    at DAG parse (``core.model_asset.output_path``), None for a task without a payload;
    ``waits``: whether the task waits for its job (the operator without
    ``wait_for_completion`` does not, and would announce a model not trained yet).
    Raises ``core.model_asset.ModelAssetError`` (a ``ValueError``) naming the rule."""
    if value is None or value is False:
        return None
    if not waits:
        raise ModelAssetError(
            f"{ARGUMENT}: the asset event announces the trained model, so the task must wait "
            "for its job: set wait_for_completion=True, or give model_asset to the "
            "BatchServiceJobSensor that waits for the job"
        )
    if isinstance(value, Asset):
        return value
    uri = model_asset_uri(value, output)
    try:
        return Asset(uri=uri)
    except (ValueError, TypeError) as err:
        raise ModelAssetError(
            f"{ARGUMENT}: {uri!r} is not an asset URI Airflow accepts: {err}"
        ) from err


def with_outlet(outlets: Any, asset: Asset | None) -> Any:
    """``outlets`` (as the user gave them: None, one item or a list) with ``asset`` added
    once; unchanged when there is no asset."""
    if asset is None:
        return outlets
    if outlets is None:
        given: list[Any] = []
    elif isinstance(outlets, list | tuple):
        given = list(outlets)
    else:
        given = [outlets]
    return given if asset in given else [*given, asset]


def record_asset_event(context: Mapping[str, Any], task: Any, outcome: WaitOutcome) -> None:
    """Set the model asset event's extra from a succeeded wait's ``outcome`` (see the module
    doc); nothing when the task has no ``model_asset``. Call it only once the task is known
    to end successfully."""
    asset = getattr(task, "model_asset", None)
    if asset is None:
        return
    events = context.get("outlet_events")
    if events is None:  # a context Airflow did not build (a bare test): nowhere to record
        task.log.debug("no outlet_events in the context: the model asset event has no extra")
        return
    extra = asset_extra(
        outcome.summary,
        outcome.training_job,
        job_id=outcome.job_id or getattr(task, "job_id", None),
        job_name=outcome.job_name,
        job_queue=_job_queue(task, outcome),
    )
    accessor = events[asset]
    accessor.extra = {**(accessor.extra or {}), **extra}
    task.log.info(
        "Model asset %s: %s from training job %s",
        asset.uri,
        extra["model_uri"] or "(no model artifact)",
        extra["training_job_name"] or "(unknown)",
    )


def _job_queue(task: Any, outcome: WaitOutcome) -> str | None:
    """The job's queue: the operator's argument; the sensor's job, described once."""
    summary = outcome.summary or {}
    queue = summary.get("jobQueue") or getattr(task, "job_queue", None)
    if isinstance(queue, str) and queue:
        return queue
    if not outcome.job_id:
        return None
    try:
        described = task.hook.describe_service_job(outcome.job_id)
    except Exception:  # the queue is worth a describe, not the task
        task.log.debug("could not describe job %s for its queue", outcome.job_id, exc_info=True)
        return None
    value = described.get("jobQueue") if isinstance(described, Mapping) else None
    return value if isinstance(value, str) and value else None
