"""Each attempt's SageMaker training job and CloudWatch log stream."""

from __future__ import annotations

import re

from airflow_batch_service.core import reasons
from airflow_batch_service.core.verdict import training_job_name

from .helpers import capacity, describe, failed, hang, run_to_end, scenario, submit_args

NAME_RE = re.compile(r"^AWSBatchtrain[0-9a-f]{32}$")


def training_status(sm, arn: str) -> dict:
    return sm.describe_training_job(TrainingJobName=training_job_name(arn))


def test_training_job_status_follows_each_attempt(emu, batch):
    sm = emu.client("sagemaker")
    failure = reasons.sagemaker("InternalServerError: boom")
    emu.load_scenarios(scenario("sm", failed(failure)))
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "sm", retryStrategy={"attempts": 2})
    )
    emu.advance(2)  # SUBMITTED -> RUNNABLE -> SCHEDULED
    first_arn = describe(batch, job["jobId"])["latestAttempt"]["serviceResourceId"]["value"]
    assert NAME_RE.match(training_job_name(first_arn))
    assert first_arn.startswith("arn:aws:sagemaker:us-east-1:")
    assert training_status(sm, first_arn)["TrainingJobStatus"] == "InProgress"
    emu.advance(2)  # RUNNING: asked of SageMaker first, with no Batch call in between
    first = training_status(sm, first_arn)
    assert (first["TrainingJobStatus"], first["SecondaryStatus"]) == ("InProgress", "Training")
    emu.advance(1)  # attempt 1 fails
    first = training_status(sm, first_arn)
    assert (first["TrainingJobStatus"], first["FailureReason"]) == ("Failed", failure)
    final = run_to_end(emu, batch, job["jobId"])
    second_arn = final["attempts"][1]["serviceResourceId"]["value"]
    assert second_arn != first_arn
    assert training_status(sm, second_arn)["TrainingJobStatus"] == "Completed"


def test_terminated_attempt_stops_its_training_job(emu, batch):
    sm = emu.client("sagemaker")
    emu.load_scenarios(scenario("stop", hang()))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "stop"))
    emu.advance(10)
    arn = describe(batch, job["jobId"])["latestAttempt"]["serviceResourceId"]["value"]
    batch.terminate_service_job(jobId=job["jobId"], reason="stop it")
    assert training_status(sm, arn)["TrainingJobStatus"] == "Stopped"


def test_each_attempt_writes_a_log_stream(emu, batch):
    logs = emu.client("logs")
    emu.load_scenarios(scenario("logged", failed()))
    job = batch.submit_service_job(
        **submit_args(emu.queue_name, "logged", retryStrategy={"attempts": 2})
    )
    final = run_to_end(emu, batch, job["jobId"])
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
    expected = set()
    for attempt in final["attempts"]:
        name = training_job_name(attempt["serviceResourceId"]["value"])
        # the stream's epoch is the second the training job was created (the job was SCHEDULED)
        expected.add(f"{name}/algo-1-{(attempt['startedAt'] - 2000) // 1000}")
    assert {s["logStreamName"] for s in streams} == expected
    for stream in expected:
        lines = [
            e["message"]
            for e in logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
            )["events"]
        ]
        assert len(lines) >= 4
        assert "Training" in lines[3]
    final_name = training_job_name(final["attempts"][-1]["serviceResourceId"]["value"])
    last = next(s for s in expected if s.startswith(f"{final_name}/"))
    tail = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=last)[
        "events"
    ][-1]["message"]
    assert "Completed" in tail


def test_capacity_tries_create_no_training_job(emu, batch):
    sm = emu.client("sagemaker")
    emu.load_scenarios(scenario("cap", capacity()))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "cap"))
    final = run_to_end(emu, batch, job["jobId"])
    names = [j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]]
    assert names == [training_job_name(final["attempts"][0]["serviceResourceId"]["value"])]
