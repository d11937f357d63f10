"""The trained model as an Airflow asset: which URI names it, and what its asset event says.

A task with ``model_asset`` declares an asset as one of its ``outlets``, so that DAGs can be
scheduled on it; when its job succeeded the asset event carries what the next DAG needs to
use the model without reading XCom from another DAG (:func:`asset_extra`).

The asset is declared when the DAG is parsed (Airflow reads ``outlets`` from the parsed DAG to
know which DAGs an asset schedules), so its URI must be known then: a literal string, or
``{output_path}`` (:data:`OUTPUT_PATH`), which stands for the payload's
``OutputDataConfig.S3OutputPath`` and is replaced when the task is built
(:func:`model_asset_uri`). A payload whose output path is a Jinja template, comes from an XCom
or is missing cannot name the asset; that is refused at DAG parse, naming ``model_asset`` and
the rule (:class:`ModelAssetError`), not discovered when the job ends.

The extra is strict JSON (``core.strict_json``): Airflow stores it in a JSON column that
PostgreSQL guards. A NaN or infinite final metric is ``None`` in ``final_metrics`` and spelled
in ``final_metrics_non_finite`` (``"NaN"``, ``"Infinity"``, ``"-Infinity"``), the way the
training result (``core.training_result``) represents it.

Pure: standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_batch_service.core.strict_json import strict_json

#: The argument's name, in every message.
ARGUMENT = "model_asset"
#: What a ``model_asset`` string writes for the payload's output path.
OUTPUT_PATH = "{output_path}"
#: The keys of :func:`asset_extra`'s dict, in order.
EXTRA_KEYS = (
    "job_id",
    "job_arn",
    "job_name",
    "job_queue",
    "status",
    "training_job_name",
    "model_uri",
    "final_metrics",
    "final_metrics_non_finite",
    "billable_seconds",
    "attempts",
)

_TEMPLATE_MARKS = ("{{", "{%", "{#")


class ModelAssetError(ValueError):
    """A ``model_asset`` that cannot name an asset at DAG parse; the message says why."""


@dataclass(frozen=True)
class OutputPath:
    """The job's output path as known at DAG parse (``rstrip("/")``), or why it is not."""

    path: str | None
    problem: str | None = None


def _is_template(text: str) -> bool:
    return any(mark in text for mark in _TEMPLATE_MARKS)


def _literal(value: Any, where: str) -> OutputPath:
    if value is None or value == "":
        return OutputPath(None, f"{where} is not set")
    if not isinstance(value, str):
        return OutputPath(None, f"{where} is {type(value).__name__}, not a literal string")
    if _is_template(value):
        return OutputPath(
            None, f"{where} is a Jinja template ({value!r}), rendered only at run time"
        )
    path = value.rstrip("/")
    if not path:
        return OutputPath(None, f"{where} is {value!r}")
    return OutputPath(path)


def output_path(payload: Any, *, output_s3_uri: Any = None, short_form: bool = False) -> OutputPath:
    """The output path at DAG parse: ``output_s3_uri`` (the decorator's short form) when
    given, else ``payload``'s ``OutputDataConfig.S3OutputPath`` (a dict, or JSON text).
    ``short_form``: the task has ``output_s3_uri`` (the decorator), which a problem names."""
    if output_s3_uri is not None:
        return _literal(output_s3_uri, "output_s3_uri")
    found = _payload_output_path(payload)
    if short_form and found.problem:
        return OutputPath(None, f"output_s3_uri is not set and {found.problem}")
    return found


def _payload_output_path(payload: Any) -> OutputPath:
    where = "service_request_payload"
    if payload is None:
        return OutputPath(None, f"{where} is not set")
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            if _is_template(payload):
                return OutputPath(None, f"{where} is a Jinja template, rendered only at run time")
            return OutputPath(None, f"{where} is a string that is not JSON")
    if not isinstance(payload, Mapping):
        kind = type(payload).__name__
        return OutputPath(
            None, f"{where} is {kind} (an XCom, or not a dict), known only at run time"
        )
    config = payload.get("OutputDataConfig")
    value = config.get("S3OutputPath") if isinstance(config, Mapping) else None
    return _literal(value, f"{where}.OutputDataConfig.S3OutputPath")


def model_asset_uri(value: str | bool, output: OutputPath | None) -> str:
    """The asset URI ``value`` names: ``True`` is the output path, a string has
    :data:`OUTPUT_PATH` replaced by it. ``output``: the task's output path (None: the task has
    no payload, as the sensor). Raises :class:`ModelAssetError` naming the rule."""
    if value is True:
        template = OUTPUT_PATH
    elif isinstance(value, str) and not isinstance(value, bool):
        template = value
    else:
        raise ModelAssetError(
            f"{ARGUMENT}: must be an airflow.sdk.Asset, a URI string or True, "
            f"got {type(value).__name__} {value!r}"
        )
    if not template.strip():
        raise ModelAssetError(f"{ARGUMENT}: an empty URI names no asset")
    if _is_template(template):
        raise ModelAssetError(
            f"{ARGUMENT}: {value!r} is a Jinja template, but the asset is declared when the DAG "
            f"is parsed (its outlets), before anything is rendered: give a literal URI"
            + ("" if output is None else f" (or {OUTPUT_PATH} for the payload's output path)")
        )
    if OUTPUT_PATH not in template:
        return template
    what = "True" if value is True else f"{value!r} ({OUTPUT_PATH})"
    if output is None:
        raise ModelAssetError(
            f"{ARGUMENT}: {what} stands for the job's output path, which a task without a "
            "payload (the sensor) does not know: give an Asset or a literal URI"
        )
    if output.path is None:
        raise ModelAssetError(
            f"{ARGUMENT}: {what} stands for the payload's OutputDataConfig.S3OutputPath, which "
            f"must be literal when the DAG is parsed, but {output.problem}: give an Asset or a "
            "literal URI instead"
        )
    return template.replace(OUTPUT_PATH, output.path)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _training_job_name(training_job: Mapping[str, Any], summary: Mapping[str, Any]) -> str | None:
    name = _text(training_job.get("trainingJobName"))
    if name:
        return name
    arn = _text(training_job.get("trainingJobArn")) or _text(summary.get("trainingJobArn"))
    return arn.rsplit("/", 1)[-1] if arn else None


def asset_extra(
    summary: Mapping[str, Any] | None,
    training_job: Mapping[str, Any] | None,
    *,
    job_id: str | None = None,
    job_name: str | None = None,
    job_queue: str | None = None,
) -> dict[str, Any]:
    """The model asset event's extra, from a succeeded wait: its ``summary``
    (``Verdict.summary()``) and ``training_job`` (``core.training_result``), as strict JSON.

    Every :data:`EXTRA_KEYS` key is present (``None``, or ``{}`` for the metrics, when not
    known). ``job_id``, ``job_name`` and ``job_queue`` fill what the summary lacks.
    """
    s = summary if isinstance(summary, Mapping) else {}
    t = training_job if isinstance(training_job, Mapping) else {}
    attempts = s.get("attempts")
    metrics = t.get("finalMetrics")
    non_finite = t.get("finalMetricsNonFinite")
    extra = {
        "job_id": _text(s.get("jobId")) or _text(job_id),
        "job_arn": _text(s.get("jobArn")),
        "job_name": _text(s.get("jobName")) or _text(job_name),
        "job_queue": _text(s.get("jobQueue")) or _text(job_queue),
        "status": _text(s.get("status")),
        "training_job_name": _training_job_name(t, s),
        "model_uri": _text(t.get("modelArtifacts")),
        "final_metrics": dict(metrics) if isinstance(metrics, Mapping) else {},
        "final_metrics_non_finite": dict(non_finite) if isinstance(non_finite, Mapping) else {},
        "billable_seconds": _seconds(t.get("billableTimeInSeconds")),
        "attempts": len(attempts) if isinstance(attempts, list | tuple) else None,
    }
    return dict(strict_json(extra))
