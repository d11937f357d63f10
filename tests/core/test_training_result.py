"""``core.training_result``: a DescribeTrainingJob response to the XCom result schema."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from airflow_batch_service.core.training_result import TRAINING_RESULT_KEYS, training_result

NAME = "AWSBatchtrain0123456789abcdef0123456789abcdef"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{NAME.lower()}"
WHEN = datetime(2026, 11, 24, 8, 17, 30, tzinfo=UTC)


def completed(**overrides):
    response = {
        "TrainingJobName": NAME,
        "TrainingJobArn": ARN,
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket/out/{NAME}/output/model.tar.gz"},
        "FinalMetricDataList": [
            {"MetricName": "validation:accuracy", "Value": 0.93, "Timestamp": WHEN},
            {"MetricName": "train:loss", "Value": 0.12, "Timestamp": WHEN},
        ],
        "TrainingTimeInSeconds": 1260,
        "BillableTimeInSeconds": 1190,
        "CreationTime": WHEN,
        "TrainingStartTime": WHEN,
        "TrainingEndTime": WHEN,
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": WHEN, "EndTime": WHEN, "StatusMessage": "x"}
        ],
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    response.update(overrides)
    return response


def test_a_completed_job_gives_every_field():
    assert training_result(completed()) == {
        "trainingJobName": NAME,
        "trainingJobArn": ARN,
        "trainingJobStatus": "Completed",
        "secondaryStatus": "Completed",
        "modelArtifacts": f"s3://bucket/out/{NAME}/output/model.tar.gz",
        "finalMetrics": {"validation:accuracy": 0.93, "train:loss": 0.12},
        "finalMetricsNonFinite": {},
        "trainingTimeInSeconds": 1260,
        "billableTimeInSeconds": 1190,
        "failureReason": None,
    }


def test_exactly_the_schema_keys_and_json_able_with_datetimes_in_the_input():
    result = training_result(completed())
    assert tuple(result) == TRAINING_RESULT_KEYS
    assert json.loads(json.dumps(result)) == result


def test_epoch_numbers_instead_of_datetimes_are_fine():
    response = completed(CreationTime=1.7e9, TrainingEndTime=1700000000123)
    response["FinalMetricDataList"][0]["Timestamp"] = 1.7e9
    assert training_result(response)["finalMetrics"]["validation:accuracy"] == 0.93


def test_a_failed_job_before_training_has_no_artifacts_metrics_or_seconds():
    result = training_result(
        {
            "TrainingJobName": NAME,
            "TrainingJobArn": ARN,
            "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed",
            "FailureReason": "ClientError: ValidationException: bad hyperparameter",
        }
    )
    assert result["trainingJobStatus"] == "Failed"
    assert result["failureReason"] == "ClientError: ValidationException: bad hyperparameter"
    assert result["modelArtifacts"] is None
    assert result["finalMetrics"] == {}
    assert result["trainingTimeInSeconds"] is None and result["billableTimeInSeconds"] is None


def test_non_finite_metrics_become_none_and_a_repeated_name_keeps_the_last():
    result = training_result(
        completed(
            FinalMetricDataList=[
                {"MetricName": "loss", "Value": float("nan")},
                {"MetricName": "acc", "Value": 0.5},
                {"MetricName": "acc", "Value": 0.7},
                {"MetricName": "inf", "Value": float("inf")},
                {"MetricName": "neg", "Value": float("-inf")},
                {"MetricName": "was-nan", "Value": float("nan")},
                {"MetricName": "was-nan", "Value": 0.25},
                {"Value": 1.0},
                "junk",
            ]
        )
    )
    assert result["finalMetrics"] == {
        "loss": None,
        "acc": 0.7,
        "inf": None,
        "neg": None,
        "was-nan": 0.25,
    }
    # The originals, as float() reads them back.
    assert result["finalMetricsNonFinite"] == {"loss": "NaN", "inf": "Infinity", "neg": "-Infinity"}
    assert float(result["finalMetricsNonFinite"]["inf"]) == float("inf")
    json.loads(json.dumps(result, allow_nan=False))


def test_malformed_or_empty_input_gives_the_empty_result_and_the_input_is_untouched():
    empty = training_result({})
    dicts = ("finalMetrics", "finalMetricsNonFinite")
    assert empty == {key: ({} if key in dicts else None) for key in TRAINING_RESULT_KEYS}
    assert (
        training_result(
            {"ModelArtifacts": "s3://x", "FinalMetricDataList": {}, "TrainingTimeInSeconds": True}
        )
        == empty
    )
    assert training_result(None) == empty  # type: ignore[arg-type]
    original = completed()
    kept = copy.deepcopy(original)
    result = training_result(original)
    result["finalMetrics"]["new"] = 1
    assert original == kept


def test_the_emulator_training_job_reads_as_a_result():
    """The emulator's DescribeTrainingJob (moto-backed) after a successful service job."""
    import moto

    from airflow_batch_service.emulator.handle import Emulator

    payload = {
        "TrainingJobName": "unit-train",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
        "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
        "ResourceConfig": {
            "InstanceType": "ml.g5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    with moto.mock_aws():
        emulator = Emulator()
        emulator.configure(seconds_per_state=0.0)
        emulator.create_queue("q")
        batch = emulator.client("batch")
        job = batch.submit_service_job(
            jobName="j",
            jobQueue="q",
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload=json.dumps(payload),
        )
        emulator.advance(60)
        described = batch.describe_service_job(jobId=job["jobId"])
        assert described["status"] == "SUCCEEDED"
        arn = described["latestAttempt"]["serviceResourceId"]["value"]
        training = emulator.client("sagemaker").describe_training_job(
            TrainingJobName=arn.rsplit("/", 1)[-1]
        )
    result = training_result(training)
    assert result["trainingJobStatus"] == "Completed"
    assert result["trainingJobArn"] == arn
    assert result["modelArtifacts"].startswith("s3://bucket/out/")
    assert isinstance(result["billableTimeInSeconds"], int)
    json.dumps(result)
