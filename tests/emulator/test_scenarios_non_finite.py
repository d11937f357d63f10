"""Scenarios script what JSON columns refuse, as AWS can send it: NaN and infinite metrics (a
diverged training run) and a NUL character in a status reason. The emulator serves them
through DescribeServiceJob and DescribeTrainingJob in-process and over HTTP, and its control
API still answers in standard JSON."""

from __future__ import annotations

import json
import math
import urllib.request

import pytest

from airflow_batch_service.core.verdict import training_job_name
from airflow_batch_service.emulator.scenarios import ScenarioError, parse

from .helpers import failed, run_to_end, scenario, submit_args, succeeded

NAN, INF = float("nan"), float("inf")
REASON = "Received status from SageMaker: InternalServerError: worker\x00lost"


def strict_loads(text: str | bytes) -> object:
    """``json.loads`` as a client without the NaN/Infinity extension reads JSON."""

    def refuse(token: str) -> object:
        raise ValueError(f"not standard JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def metric_values(metrics: list[dict]) -> dict[str, str | float]:
    """``{name: value}``, a non-finite value as its spelling (NaN != NaN)."""
    out: dict[str, str | float] = {}
    for item in metrics:
        value = item["Value"]
        out[item["MetricName"]] = repr(value) if not math.isfinite(value) else value
    return out


@pytest.mark.parametrize(
    "spelled",
    [
        {"train:loss": NAN, "validation:auc": INF, "neg": -INF},  # floats, or JSON's tokens
        {"train:loss": "NaN", "validation:auc": "Infinity", "neg": "-Infinity"},  # strings
    ],
    ids=["floats", "strings"],
)
def test_non_finite_metrics_and_a_nul_reason_reach_describe_training_job(emu, batch, spelled):
    """Over HTTP the floats travel as JSON's ``NaN``/``Infinity`` tokens (Python's ``json``
    writes and reads them), the strings as plain JSON."""
    sm = emu.client("sagemaker")
    loaded = emu.load_scenarios(
        scenario("diverged", failed(REASON), succeeded(metrics={**spelled, "acc": 0.9}))
    )
    # What the control API answers is standard JSON: non-finite metrics as their strings.
    assert loaded["scenarios"]["jobs"][0]["attempts"][1]["metrics"] == {
        "train:loss": "NaN",
        "validation:auc": "Infinity",
        "neg": "-Infinity",
        "acc": 0.9,
    }
    assert loaded["scenarios"]["jobs"][0]["attempts"][0]["statusReason"] == REASON
    strict_loads(json.dumps(loaded))

    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "diverged", retryStrategy={"attempts": 2})
    )
    final = run_to_end(emu, batch, job["jobId"])
    assert final["status"] == "SUCCEEDED"
    assert final["attempts"][0]["statusReason"] == REASON
    first, second = (training_job_name(a["serviceResourceId"]["value"]) for a in final["attempts"])

    assert sm.describe_training_job(TrainingJobName=first)["FailureReason"] == REASON
    described = sm.describe_training_job(TrainingJobName=second)
    assert metric_values(described["FinalMetricDataList"]) == {
        "train:loss": "nan",
        "validation:auc": "inf",
        "neg": "-inf",
        "acc": 0.9,
    }


def test_a_client_without_nan_tokens_loads_the_string_spelling_over_http(batch_emulator_server):
    """The raw control route: a standard-JSON body in, a standard-JSON answer out."""
    document = {
        "jobs": [{"jobName": "x", "attempts": [{"metrics": {"loss": "NaN", "top": "Infinity"}}]}]
    }
    request = urllib.request.Request(
        f"{batch_emulator_server.endpoint_url}/_emulator/scenarios",
        data=json.dumps(document, allow_nan=False).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = strict_loads(response.read())
    assert isinstance(answer, dict)
    assert answer["scenarios"]["jobs"][0]["attempts"][0]["metrics"] == {
        "loss": "NaN",
        "top": "Infinity",
    }


def test_parse_reads_every_spelling_and_round_trips():
    text = '{"jobs": [{"jobName": "x", "attempts": [{"metrics": {"a": NaN, "b": -Infinity}}]}]}'
    (step,) = parse(text).jobs[0].steps
    assert math.isnan(step.metrics[0][1]) and step.metrics[1][1] == -INF
    again = parse(parse(text).to_dict())
    assert again.to_dict() == parse(text).to_dict()
    assert again.to_dict()["jobs"][0]["attempts"][0]["metrics"] == {"a": "NaN", "b": "-Infinity"}


@pytest.mark.parametrize("value", ["nan", "inf", "Inf", "", "1.5", None, [1.0]])
def test_other_strings_and_shapes_are_still_refused(value):
    document = {"jobs": [{"jobName": "x", "attempts": [{"metrics": {"m": value}}]}]}
    with pytest.raises(ScenarioError, match=r"metrics\.m: must be a finite number, NaN or"):
        parse(document)
