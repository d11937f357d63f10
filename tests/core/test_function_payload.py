"""The decorated job's CreateTrainingJob payload: short form, escape hatch, the runner."""

from __future__ import annotations

from airflow_batch_service.core import function_job
from airflow_batch_service.core.function_payload import ShortForm, compose, training_job_name

CHANNEL = "s3://b/out/airflow-batch-service/functions/tok/abc/"
SHORT = ShortForm(
    image_uri="img:1",
    role_arn="arn:aws:iam::1:role/r",
    output_s3_uri="s3://b/out",
    instance_type="ml.g5.xlarge",
)


def _fields(problems) -> dict[str, str]:
    return {p.field: p.rule for p in problems}


def test_the_short_form_makes_a_complete_payload_that_runs_the_runner() -> None:
    payload, problems = compose(SHORT, None, function_name="train_model", channel_uri=CHANNEL)
    assert problems == []
    assert payload["TrainingJobName"] == "train-model"
    assert payload["AlgorithmSpecification"] == {
        "TrainingImage": "img:1",
        "TrainingInputMode": "File",
        "ContainerEntrypoint": ["python3", "/opt/ml/input/data/airflow_function/runner.py"],
    }
    assert payload["ResourceConfig"] == {
        "InstanceType": "ml.g5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }
    assert payload["OutputDataConfig"] == {"S3OutputPath": "s3://b/out"}
    assert function_job.function_channel(payload) == CHANNEL


def test_the_escape_hatch_is_kept_and_must_agree() -> None:
    user = {
        "AlgorithmSpecification": {
            "TrainingImage": "other:2",
            "MetricDefinitions": [{"Name": "m", "Regex": "m=(.*)"}],
        },
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://d/"}}}
        ],
        "VpcConfig": {"Subnets": ["s"], "SecurityGroupIds": ["g"]},
    }
    payload, problems = compose(SHORT, user, function_name="f", channel_uri=CHANNEL)
    assert _fields(problems) == {
        "image_uri": "'img:1' differs from service_request_payload.AlgorithmSpecification."
        "TrainingImage ('other:2'): give it one way"
    }
    payload, problems = compose(
        ShortForm(role_arn="arn:aws:iam::1:role/r", output_s3_uri="s3://b/out"),
        user,
        function_name="f",
        channel_uri=CHANNEL,
    )
    assert problems == []
    assert payload["VpcConfig"] == user["VpcConfig"]
    assert [c["ChannelName"] for c in payload["InputDataConfig"]] == ["train", "airflow_function"]
    assert payload["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "m"
    assert user["AlgorithmSpecification"].get("ContainerEntrypoint") is None  # not mutated


def test_missing_and_wrong_inputs_are_named() -> None:
    _, problems = compose(
        ShortForm(output_s3_uri="/local/path", environment={"API_KEY": "x"}),
        None,
        function_name="f",
        channel_uri=CHANNEL,
    )
    fields = _fields(problems)
    assert set(fields) == {"image_uri", "role_arn", "output_s3_uri", "environment.API_KEY"}
    assert "must be an S3 URI" in fields["output_s3_uri"]
    _, problems = compose(
        SHORT,
        {"AlgorithmSpecification": {"ContainerEntrypoint": ["bash"], "ContainerArguments": ["x"]}},
        function_name="f",
        channel_uri=CHANNEL,
    )
    assert set(_fields(problems)) == {
        "service_request_payload.AlgorithmSpecification.ContainerEntrypoint",
        "service_request_payload.AlgorithmSpecification.ContainerArguments",
    }


def test_names_fit_what_batch_leaves() -> None:
    assert training_job_name("a_very_long_function_name_for_training") == "a-very-long-function-na"
    assert training_job_name("__") == "function"


def test_output_archive_sits_beside_the_model() -> None:
    assert (
        function_job.output_archive_uri("s3://b/out/AWSBatchx/output/model.tar.gz")
        == "s3://b/out/AWSBatchx/output/output.tar.gz"
    )
