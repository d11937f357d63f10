"""What a finished training job produced, as a small JSON-able dict for XCom.

:func:`training_result` reads one SageMaker ``DescribeTrainingJob`` response (boto3's, with
``datetime`` objects, or an emulator's / a JSON copy's with epoch numbers: no time field is
read) and keeps what the next task of a DAG needs: the model artifact's S3 URI, the final
metrics by name, the training and billable seconds, the training job's name, ARN, status and
secondary status, and the failure reason. Every key is always present (``None`` or ``{}`` when
the training job did not get that far), so a downstream task can index it without guards:

```python
{
    "trainingJobName": "AWSBatchtrain-3f2a...",
    "trainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/awsbatch...",
    "trainingJobStatus": "Completed",
    "secondaryStatus": "Completed",
    "modelArtifacts": "s3://my-bucket/models/AWSBatchtrain-3f2a.../output/model.tar.gz",
    "finalMetrics": {"validation:accuracy": 0.93, "train:loss": None},
    "finalMetricsNonFinite": {"train:loss": "NaN"},
    "trainingTimeInSeconds": 1260,
    "billableTimeInSeconds": 1260,
    "failureReason": None,
}
```

A metric that is NaN or infinite (a diverged loss) has no JSON spelling, and Airflow's
database (PostgreSQL) refuses the whole value that carries one: ``finalMetrics`` holds
``None`` for it and ``finalMetricsNonFinite`` maps its name to the original, spelled
``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (``core.strict_json.non_finite_text``; what
``float()`` reads back). ``finalMetricsNonFinite`` is ``{}`` when every metric is finite.

Pure: standard library only, no Airflow, no boto3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from airflow_batch_service.core.strict_json import non_finite_text

#: The keys of :func:`training_result`'s dict, in order.
TRAINING_RESULT_KEYS = (
    "trainingJobName",
    "trainingJobArn",
    "trainingJobStatus",
    "secondaryStatus",
    "modelArtifacts",
    "finalMetrics",
    "finalMetricsNonFinite",
    "trainingTimeInSeconds",
    "billableTimeInSeconds",
    "failureReason",
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: Any) -> int | None:
    """A whole number of seconds, or None (SageMaker leaves them out until the job ends)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _metric_value(value: Any) -> float | int | None:
    """A metric as a JSON number: NaN and infinities (a diverged loss) become None, since
    JSON has no spelling for them and XCom would refuse or mangle the whole result (the
    original is kept in ``finalMetricsNonFinite``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _metric_items(describe_training_job: Mapping[str, Any]) -> dict[str, Any]:
    """``FinalMetricDataList`` as ``{MetricName: Value}``, values as given (a repeated name:
    the last wins)."""
    out: dict[str, Any] = {}
    items = describe_training_job.get("FinalMetricDataList")
    if not isinstance(items, list | tuple):
        return out
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name = item.get("MetricName")
        if isinstance(name, str) and name:
            out[name] = item.get("Value")
    return out


def final_metrics(describe_training_job: Mapping[str, Any]) -> dict[str, float | int | None]:
    """``FinalMetricDataList`` as ``{MetricName: Value}`` (a repeated name: the last wins);
    a value that is not a finite number is None."""
    return {name: _metric_value(v) for name, v in _metric_items(describe_training_job).items()}


def non_finite_metrics(describe_training_job: Mapping[str, Any]) -> dict[str, str]:
    """The metrics that are NaN or infinite, ``{MetricName: "NaN" | "Infinity" |
    "-Infinity"}`` (``core.strict_json.non_finite_text``): what ``final_metrics`` has as None."""
    return {
        name: non_finite_text(value)
        for name, value in _metric_items(describe_training_job).items()
        if isinstance(value, float) and not math.isfinite(value)
    }


def model_artifacts(describe_training_job: Mapping[str, Any]) -> str | None:
    """``ModelArtifacts.S3ModelArtifacts``, or None (a job that failed before uploading)."""
    artifacts = describe_training_job.get("ModelArtifacts")
    if not isinstance(artifacts, Mapping):
        return None
    return _text(artifacts.get("S3ModelArtifacts"))


def training_result(describe_training_job: Mapping[str, Any]) -> dict[str, Any]:
    """The training job's outcome from a ``DescribeTrainingJob`` response (see module doc).

    Missing or malformed fields come out as ``None`` (``{}`` for ``finalMetrics`` and
    ``finalMetricsNonFinite``); the input is never modified and nothing in the output refers
    into it.
    """
    d = describe_training_job if isinstance(describe_training_job, Mapping) else {}
    return {
        "trainingJobName": _text(d.get("TrainingJobName")),
        "trainingJobArn": _text(d.get("TrainingJobArn")),
        "trainingJobStatus": _text(d.get("TrainingJobStatus")),
        "secondaryStatus": _text(d.get("SecondaryStatus")),
        "modelArtifacts": model_artifacts(d),
        "finalMetrics": final_metrics(d),
        "finalMetricsNonFinite": non_finite_metrics(d),
        "trainingTimeInSeconds": _seconds(d.get("TrainingTimeInSeconds")),
        "billableTimeInSeconds": _seconds(d.get("BillableTimeInSeconds")),
        "failureReason": _text(d.get("FailureReason")),
    }
