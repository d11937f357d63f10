"""``core.model_asset``: which URI ``model_asset`` names at DAG parse, and the asset event's
extra built from a succeeded wait's summary and training result (strict JSON)."""

from __future__ import annotations

import json

import pytest

from airflow_batch_service.core.model_asset import (
    EXTRA_KEYS,
    OUTPUT_PATH,
    ModelAssetError,
    OutputPath,
    asset_extra,
    model_asset_uri,
    output_path,
)
from airflow_batch_service.core.training_result import training_result
from airflow_batch_service.core.verdict import interpret

from .factories import attempt, describe

NAME = "AWSBatchtrain0123456789abcdef0123456789abcdef"

# -- the output path at DAG parse ------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"OutputDataConfig": {"S3OutputPath": "s3://bucket/models/"}},
        {"OutputDataConfig": {"S3OutputPath": "s3://bucket/models"}},
        json.dumps({"OutputDataConfig": {"S3OutputPath": "s3://bucket/models//"}}),
        # A template elsewhere in the payload does not matter: the path itself is literal.
        {
            "TrainingJobName": "{{ run_id }}",
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/models"},
        },
        json.dumps(
            {
                "TrainingJobName": "{{ run_id }}",
                "OutputDataConfig": {"S3OutputPath": "s3://bucket/models"},
            }
        ),
    ],
)
def test_a_literal_output_path_is_read_without_its_trailing_slash(payload) -> None:
    assert output_path(payload) == OutputPath("s3://bucket/models")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (None, "service_request_payload is not set"),
        ({}, "service_request_payload.OutputDataConfig.S3OutputPath is not set"),
        ({"OutputDataConfig": {}}, "OutputDataConfig.S3OutputPath is not set"),
        ({"OutputDataConfig": {"S3OutputPath": ""}}, "S3OutputPath is not set"),
        ({"OutputDataConfig": {"S3OutputPath": "/"}}, "S3OutputPath is '/'"),
        ({"OutputDataConfig": {"S3OutputPath": 7}}, "S3OutputPath is int, not a literal string"),
        (
            {"OutputDataConfig": {"S3OutputPath": "s3://b/{{ ds }}/"}},
            "S3OutputPath is a Jinja template ('s3://b/{{ ds }}/'), rendered only at run time",
        ),
        ("{{ ti.xcom_pull('payload') }}", "service_request_payload is a Jinja template"),
        ("not json", "service_request_payload is a string that is not JSON"),
        (object(), "service_request_payload is object (an XCom, or not a dict)"),
    ],
)
def test_an_output_path_not_literal_at_parse_says_why(payload, problem) -> None:
    found = output_path(payload)
    assert found.path is None
    assert found.problem is not None and problem in found.problem


def test_output_s3_uri_is_the_short_form_of_the_output_path() -> None:
    payload = {"OutputDataConfig": {"S3OutputPath": "s3://other/place"}}
    assert output_path(payload, output_s3_uri="s3://b/fn/", short_form=True).path == "s3://b/fn"
    assert output_path(payload, short_form=True).path == "s3://other/place"
    missing = output_path({}, short_form=True)
    assert missing.problem is not None
    assert missing.problem.startswith("output_s3_uri is not set and service_request_payload")
    templated = output_path({}, output_s3_uri="{{ var.value.out }}", short_form=True)
    assert templated.problem is not None and templated.problem.startswith(
        "output_s3_uri is a Jinja"
    )


# -- the URI ---------------------------------------------------------------------------------

HERE = OutputPath("s3://bucket/models")


@pytest.mark.parametrize(
    ("value", "uri"),
    [
        (True, "s3://bucket/models"),
        (OUTPUT_PATH, "s3://bucket/models"),
        ("{output_path}/model.tar.gz", "s3://bucket/models/model.tar.gz"),
        ("s3://elsewhere/churn-model", "s3://elsewhere/churn-model"),
        ("x-model://churn", "x-model://churn"),
    ],
)
def test_the_uri_a_model_asset_names(value, uri) -> None:
    assert model_asset_uri(value, HERE) == uri


def test_a_literal_uri_needs_no_output_path() -> None:
    assert model_asset_uri("s3://m/churn", None) == "s3://m/churn"
    assert model_asset_uri("s3://m/churn", OutputPath(None, "x is not set")) == "s3://m/churn"


@pytest.mark.parametrize(
    ("value", "output", "words"),
    [
        (True, None, ["model_asset: True", "a task without a payload (the sensor)"]),
        ("{output_path}/m", None, ["'{output_path}/m' ({output_path})", "(the sensor)"]),
        (
            True,
            OutputPath(None, "service_request_payload is a Jinja template"),
            ["model_asset: True", "must be literal when the DAG is parsed", "Jinja template"],
        ),
        ("s3://b/{{ ds }}", HERE, ["model_asset:", "Jinja template", "{output_path}"]),
        ("", HERE, ["model_asset: an empty URI"]),
        (3, HERE, ["model_asset: must be an airflow.sdk.Asset, a URI string or True", "int"]),
        (False, HERE, ["got bool False"]),
    ],
)
def test_a_model_asset_that_cannot_name_an_asset_at_parse_is_refused(value, output, words) -> None:
    with pytest.raises(ModelAssetError) as err:
        model_asset_uri(value, output)
    assert isinstance(err.value, ValueError)
    for word in words:
        assert word in str(err.value)


# -- the extra -------------------------------------------------------------------------------


def _summary(status: str = "SUCCEEDED", tries: int = 2) -> dict:
    attempts = [attempt(n, 1000 * n, 1000 * n + 500) for n in range(1, tries + 1)]
    return interpret(describe(status, attempts)).summary()


def _training(metrics: list, **overrides) -> dict:
    response = {
        "TrainingJobName": NAME,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{NAME.lower()}",
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket/out/{NAME}/output/model.tar.gz"},
        "FinalMetricDataList": [{"MetricName": k, "Value": v} for k, v in metrics],
        "BillableTimeInSeconds": 1190,
        **overrides,
    }
    return training_result(response)


def test_the_extra_of_a_succeeded_job() -> None:
    summary = _summary()
    extra = asset_extra(
        summary,
        _training([("validation:accuracy", 0.93), ("train:loss", 0.12)]),
        job_queue="ml-training",
    )
    assert tuple(extra) == EXTRA_KEYS
    assert extra == {
        "job_id": summary["jobId"],
        "job_arn": summary["jobArn"],
        "job_name": summary["jobName"],
        "job_queue": "ml-training",
        "status": "SUCCEEDED",
        "training_job_name": NAME,
        "model_uri": f"s3://bucket/out/{NAME}/output/model.tar.gz",
        "final_metrics": {"validation:accuracy": 0.93, "train:loss": 0.12},
        "final_metrics_non_finite": {},
        "billable_seconds": 1190,
        "attempts": 2,
    }
    assert json.loads(json.dumps(extra, allow_nan=False)) == extra


def test_non_finite_metrics_follow_the_strict_json_representation() -> None:
    extra = asset_extra(
        _summary(),
        _training([("train:loss", float("nan")), ("auc", float("inf")), ("acc", 0.9)]),
    )
    assert extra["final_metrics"] == {"train:loss": None, "auc": None, "acc": 0.9}
    assert extra["final_metrics_non_finite"] == {"train:loss": "NaN", "auc": "Infinity"}
    json.dumps(extra, allow_nan=False)  # what PostgreSQL's JSON column takes


def test_the_extra_is_strict_json_even_from_raw_values() -> None:
    """Whatever reaches it (a NUL in a name, a NaN a caller did not convert) comes out storable."""
    extra = asset_extra(
        {"jobId": "j\x00", "attempts": []},
        {"finalMetrics": {"loss": float("nan")}, "trainingJobName": "t"},
    )
    assert extra["job_id"] == "j\\u0000"
    assert extra["final_metrics"] == {"loss": None}
    assert extra["attempts"] == 0
    json.dumps(extra, allow_nan=False)


def test_what_is_unknown_is_none_and_the_arguments_fill_in() -> None:
    extra = asset_extra(None, None, job_id="abc", job_name="train-1", job_queue="q")
    assert tuple(extra) == EXTRA_KEYS
    assert extra["job_id"] == "abc" and extra["job_name"] == "train-1" and extra["job_queue"] == "q"
    for key in (
        "job_arn",
        "status",
        "training_job_name",
        "model_uri",
        "billable_seconds",
        "attempts",
    ):
        assert extra[key] is None, key
    assert extra["final_metrics"] == {} and extra["final_metrics_non_finite"] == {}


def test_the_training_job_name_falls_back_to_the_arn() -> None:
    summary = _summary()
    extra = asset_extra(summary, None)
    assert extra["training_job_name"] == summary["trainingJobArn"].rsplit("/", 1)[-1]
    assert extra["training_job_name"].startswith("AWSBatchtrain")


def test_the_summary_wins_over_the_arguments_and_inputs_are_not_modified() -> None:
    summary = _summary(tries=1)
    training = _training([("a", 1.0)])
    before = (json.dumps(summary, sort_keys=True), json.dumps(training, sort_keys=True))
    extra = asset_extra(summary, training, job_id="other", job_name="other")
    assert extra["job_id"] == summary["jobId"] and extra["job_name"] == summary["jobName"]
    assert extra["attempts"] == 1
    extra["final_metrics"]["b"] = 2.0
    assert (json.dumps(summary, sort_keys=True), json.dumps(training, sort_keys=True)) == before
