"""DescribeTrainingJob of an attempt carries what a downstream task (or the SageMaker Python
SDK) reads: artifacts, metrics, times, status transitions, and no empty placeholders; IAM
SimulatePrincipalPolicy answers."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from airflow_batch_service.core.verdict import training_job_name

from .helpers import PAYLOAD, describe, failed, hang, run_to_end, scenario, submit_args, succeeded


def raw_describe(sm, name: str) -> dict:
    """DescribeTrainingJob's raw JSON (before botocore's parser drops anything)."""
    seen: dict = {}

    def hook(response_dict, **_):
        seen["body"] = json.loads(response_dict["body"])

    sm.meta.events.register("before-parse.sagemaker.DescribeTrainingJob", hook)
    try:
        sm.describe_training_job(TrainingJobName=name)
    finally:
        sm.meta.events.unregister("before-parse.sagemaker.DescribeTrainingJob", hook)
    return seen["body"]


def empty_members(value, path="") -> list[str]:
    if isinstance(value, dict):
        found = [path or "<root>"] if not value else []
        for key, item in value.items():
            found += empty_members(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        found = [path] if not value else []
        for i, item in enumerate(value):
            found += empty_members(item, f"{path}[{i}]")
        return found
    return []


def assert_in_sagemaker_shape(body: dict) -> None:
    import botocore.session

    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("DescribeTrainingJob")
        .output_shape
    )
    assert not set(body) - set(shape.members), sorted(set(body) - set(shape.members))
    assert not set(shape.required_members) - set(body), sorted(
        set(shape.required_members) - set(body)
    )


SCENARIO = scenario(
    "metered",
    failed(seconds=3, metrics={"train:loss": 2.5}),
    succeeded(seconds=7, metrics={"validation:accuracy": 0.93, "train:loss": 0.125}),
)


def test_completed_attempt_reports_artifacts_metrics_times_and_transitions(emu, batch):
    sm = emu.client("sagemaker")
    emu.load_scenarios(SCENARIO)
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "metered", retryStrategy={"attempts": 2})
    )
    final = run_to_end(emu, batch, job["jobId"])
    assert final["status"] == "SUCCEEDED"
    first, second = (training_job_name(a["serviceResourceId"]["value"]) for a in final["attempts"])

    body = raw_describe(sm, second)
    assert empty_members(body) == []
    assert_in_sagemaker_shape(body)
    assert body["ModelArtifacts"] == {
        "S3ModelArtifacts": f"s3://bucket/out/{second}/output/model.tar.gz"
    }
    assert [(m["MetricName"], m["Value"]) for m in body["FinalMetricDataList"]] == [
        ("validation:accuracy", 0.93),
        ("train:loss", 0.125),
    ]
    assert (body["TrainingTimeInSeconds"], body["BillableTimeInSeconds"]) == (7, 7)
    assert (
        body["AlgorithmSpecification"] == PAYLOAD["AlgorithmSpecification"]
    )  # no moto MetricDefinitions
    for absent in (
        "HyperParameters",
        "InputDataConfig",
        "VpcConfig",
        "CheckpointConfig",
        "DebugHookConfig",
        "ExperimentConfig",
        "DebugRuleConfigurations",
        "TensorBoardOutputConfig",
        "FailureReason",
    ):
        assert absent not in body

    described = sm.describe_training_job(TrainingJobName=second)
    transitions = described["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert all(t["StatusMessage"] for t in transitions)
    assert all(t["EndTime"] >= t["StartTime"] for t in transitions)
    assert [t["StartTime"] for t in transitions[1:]] == [t["EndTime"] for t in transitions[:-1]]
    training = transitions[2]
    assert (training["EndTime"] - training["StartTime"]).total_seconds() == pytest.approx(
        7, abs=0.002
    )  # ms on the wire
    assert training["StartTime"] == described["TrainingStartTime"]
    assert transitions[-1]["EndTime"] == described["TrainingEndTime"]
    attempt = final["attempts"][1]  # the same instants as Batch's attempt (ms on both wires)
    assert described["TrainingStartTime"].timestamp() == pytest.approx(
        attempt["startedAt"] / 1000, abs=0.0015
    )
    assert described["TrainingEndTime"].timestamp() == pytest.approx(
        attempt["stoppedAt"] / 1000, abs=0.0015
    )

    failed = raw_describe(sm, first)
    assert empty_members(failed) == []
    assert failed["TrainingJobStatus"] == "Failed"
    assert [m["MetricName"] for m in failed["FinalMetricDataList"]] == ["train:loss"]
    assert failed["TrainingTimeInSeconds"] == 3
    assert [t["Status"] for t in failed["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Failed",
    ]
    assert failed["SecondaryStatusTransitions"][-1]["StatusMessage"].startswith(
        "Training job failed. Reason: "
    )


def test_in_progress_attempt_has_no_final_numbers_yet(emu, batch):
    sm = emu.client("sagemaker")
    emu.load_scenarios(SCENARIO)
    job = batch.submit_service_job(**submit_args(emu.queue_name, "metered"))
    emu.advance(4)  # RUNNING
    name = training_job_name(
        describe(batch, job["jobId"])["latestAttempt"]["serviceResourceId"]["value"]
    )
    body = raw_describe(sm, name)
    assert (body["TrainingJobStatus"], body["SecondaryStatus"]) == ("InProgress", "Training")
    assert empty_members(body) == []
    for absent in (
        "FinalMetricDataList",
        "TrainingTimeInSeconds",
        "BillableTimeInSeconds",
        "TrainingEndTime",
    ):
        assert absent not in body
    assert [t["Status"] for t in body["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
    ]
    assert "EndTime" not in body["SecondaryStatusTransitions"][-1]
    assert body["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"/{name}/output/model.tar.gz")


def test_no_scripted_metrics_means_no_final_metric_list(emu, batch):
    sm = emu.client("sagemaker")
    job = batch.submit_service_job(**submit_args(emu.queue_name, "plain"))
    final = run_to_end(emu, batch, job["jobId"])
    body = raw_describe(sm, training_job_name(final["latestAttempt"]["serviceResourceId"]["value"]))
    assert body["TrainingJobStatus"] == "Completed"
    assert "FinalMetricDataList" not in body  # moto's invented "train:progress" is gone
    assert body["TrainingTimeInSeconds"] == 1


def test_terminated_attempt_is_stopped_with_its_times(emu, batch):
    sm = emu.client("sagemaker")
    emu.load_scenarios(scenario("hang", hang(metrics={"m": 1})))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "hang"))
    emu.advance(9)  # RUNNING since t=4
    batch.terminate_service_job(jobId=job["jobId"], reason="enough")
    name = training_job_name(
        describe(batch, job["jobId"])["latestAttempt"]["serviceResourceId"]["value"]
    )
    body = raw_describe(sm, name)
    assert body["TrainingJobStatus"] == "Stopped"
    assert body["TrainingTimeInSeconds"] == 5
    assert [t["Status"] for t in body["SecondaryStatusTransitions"]][-1] == "Stopped"


def test_output_path_without_payload_output_config(emu, batch):
    sm = emu.client("sagemaker")
    payload = {k: v for k, v in PAYLOAD.items() if k != "OutputDataConfig"}
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "noout", serviceRequestPayload=json.dumps(payload))
    )
    final = run_to_end(emu, batch, job["jobId"])
    name = training_job_name(final["latestAttempt"]["serviceResourceId"]["value"])
    artifacts = raw_describe(sm, name)["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifacts == f"s3://airflow-batch-service-emulator/output/{name}/output/model.tar.gz"


@pytest.mark.parametrize(
    ("metrics", "words"),
    [
        ([1, 2], "metrics: must be an object"),
        ({"acc": "high"}, "metrics.acc: must be a finite number"),
        ({"acc": True}, "metrics.acc: must be a finite number"),
        ({"": 1}, "metric names are strings of 1-255 characters"),
    ],
)
def test_bad_scenario_metrics_are_refused(emu, metrics, words):
    with pytest.raises(ValueError) as err:
        emu.load_scenarios({"jobs": [{"jobName": "x", "attempts": [{"metrics": metrics}]}]})
    assert words in str(err.value) and "jobs[0].attempts[0]" in str(err.value)


def test_scenario_metrics_round_trip(emu):
    loaded = emu.load_scenarios(SCENARIO)
    assert loaded["scenarios"]["jobs"][0]["attempts"][1]["metrics"] == {
        "validation:accuracy": 0.93,
        "train:loss": 0.125,
    }


def test_iam_simulate_principal_policy_allows(emu):
    iam = emu.client("iam")
    role = "arn:aws:iam::123456789012:role/sm"
    out = iam.simulate_principal_policy(
        PolicySourceArn=role,
        ActionNames=["s3:PutObject", "s3:GetObject"],
        ResourceArns=["arn:aws:s3:::b/*"],
    )
    assert [
        (r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"])
        for r in out["EvaluationResults"]
    ] == [
        ("s3:PutObject", "arn:aws:s3:::b/*", "allowed"),
        ("s3:GetObject", "arn:aws:s3:::b/*", "allowed"),
    ]
    assert out["IsTruncated"] is False
    pages = list(
        iam.get_paginator("simulate_principal_policy").paginate(
            PolicySourceArn=role, ActionNames=["s3:ListBucket"]
        )
    )
    assert pages[0]["EvaluationResults"][0]["EvalResourceName"] == "*"


def test_other_iam_calls_still_work(emu):
    iam = emu.client("iam")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    assert iam.get_role(RoleName="r")["Role"]["RoleName"] == "r"
    with pytest.raises(ClientError):
        iam.get_role(RoleName="missing")
