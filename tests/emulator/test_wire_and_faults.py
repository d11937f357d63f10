"""The wire details real clients rely on (JSON answers, tags on quota-share ARNs), lost
responses, and faults on the CloudWatch Logs and SageMaker calls."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from airflow_batch_service.core.errors import ErrorKind, classify

from .helpers import all_jobs, error_of, submit_args
from .wire_support import BIN, CLI_ENV, NO_RETRIES, outcome, submits


# --------------------------------------------------------------------- wire fidelity
def test_every_batch_answer_is_json(emu):
    batch = emu.client(config=NO_RETRIES)
    seen: list[tuple[str, int, str]] = []

    def hook(operation_model, response_dict, **_):
        headers = {k.lower(): v for k, v in response_dict["headers"].items()}
        seen.append(
            (operation_model.name, response_dict["status_code"], headers.get("content-type"))
        )

    batch.meta.events.register("before-parse.batch.*", hook)
    job = batch.submit_service_job(**submit_args(emu.queue_name, "ct"))
    batch.describe_service_job(jobId=job["jobId"])
    batch.list_service_jobs(jobQueue=emu.queue_name)
    batch.terminate_service_job(jobId=job["jobId"], reason="r")  # an empty {} answer
    batch.describe_job_queues()  # moto's own handler, extended
    batch.list_scheduling_policies()  # moto's own handler, untouched
    outcome(lambda: batch.describe_service_job(jobId="nope"))  # ClientException
    outcome(lambda: batch.list_consumable_resources())  # not implemented: a 400
    batch.tag_resource(resourceArn=job["jobArn"], tags={"k": "v"})
    batch.list_tags_for_resource(resourceArn=job["jobArn"])
    assert len(seen) == 10
    assert {ct for _, _, ct in seen} == {"application/json"}, seen
    assert any(status == 400 for _, status, _ in seen)


def test_tags_on_a_quota_share_arn(emu):
    emu.create_queue("qs", quota_share=True)
    batch = emu.client(config=NO_RETRIES)
    arn = batch.list_quota_shares(jobQueue="qs")["quotaShares"][0]["quotaShareArn"]
    assert arn.count("/") == 2  # ...:quota-share/qs/default
    batch.tag_resource(resourceArn=arn, tags={"team": "nlp", "cost": "a"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "nlp", "cost": "a"}
    batch.untag_resource(resourceArn=arn, tagKeys=["cost"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "nlp"}
    assert batch.describe_quota_share(quotaShareArn=arn)["tags"] == {"team": "nlp"}


def test_tag_route_answers_json_not_html_in_server_mode(batch_emulator_server):
    emu = batch_emulator_server
    emu.create_queue("qs2", quota_share=True)
    arn = emu.client().list_quota_shares(jobQueue="qs2")["quotaShares"][0]["quotaShareArn"]
    # the decoded path a proxy or a careless client sends: three segments after /v1/tags/
    request = urllib.request.Request(
        f"{emu.endpoint_url}/v1/tags/{arn}",
        method="GET",
        headers={
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/batch/aws4_request"
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        assert json.loads(response.read()) == {"tags": {}}


# ---------------------------------------------------------------------- lost responses
def test_lost_response_the_job_exists_though_the_client_saw_a_5xx(emu):
    batch = emu.client(config=NO_RETRIES)
    emu.set_faults({"SubmitServiceJob": {"lostResponseRate": 1}})
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args(emu.queue_name, "ghost"))
    code, status, message = error_of(err)
    assert (code, status) == ("ServerException", 500)
    assert classify(code, status, message) is ErrorKind.TRANSIENT
    assert [j["jobName"] for j in all_jobs(batch, emu.queue_name)] == ["ghost"]


@pytest.mark.parametrize("mode", ["reject", "return_existing"])
def test_resubmit_after_a_lost_response_follows_the_client_token_mode(emu, mode):
    emu.configure(client_token_mode=mode)
    batch = emu.client(config=NO_RETRIES)
    emu.set_faults({"SubmitServiceJob": {"lostResponseRate": 1}})
    args = submit_args(emu.queue_name, "once", clientToken="tok-1")
    with pytest.raises(ClientError):
        batch.submit_service_job(**args)
    emu.clear_faults()
    [first] = all_jobs(batch, emu.queue_name)
    if mode == "reject":
        with pytest.raises(ClientError) as err:
            batch.submit_service_job(**args)
        code, status, message = error_of(err)
        assert (code, status) == ("ClientException", 400)
        assert first["jobId"] in message and "second request is rejected" in message
    else:
        assert batch.submit_service_job(**args)["jobId"] == first["jobId"]
    assert len(all_jobs(batch, emu.queue_name)) == 1


def test_lost_response_as_a_read_timeout(emu):
    """In-process: botocore's ReadTimeoutError from the mocked send; server: the answer is
    held past the client's read timeout."""
    batch = emu.client(config=Config(read_timeout=1, retries={"total_max_attempts": 1}))
    emu.set_faults(
        {
            "TerminateServiceJob": {
                "lostResponseRate": 1,
                "lostResponseMode": "timeout",
                "lostResponseHoldMs": 1500,
            }
        }
    )
    job = batch.submit_service_job(**submit_args(emu.queue_name, "slow"))
    with pytest.raises(ReadTimeoutError):
        batch.terminate_service_job(jobId=job["jobId"], reason="stop")
    described = batch.describe_service_job(jobId=job["jobId"])
    assert (described["status"], described["statusReason"], described["isTerminated"]) == (
        "FAILED",
        "stop",
        True,
    )
    assert emu.settings()["faults"]["TerminateServiceJob"]["lostResponseMode"] == "timeout"


def test_lost_responses_are_seeded_like_other_faults(emu):
    batch = emu.client(config=NO_RETRIES)

    def run(tag: str) -> list[str]:
        emu.set_faults({"SubmitServiceJob": {"lostResponseRate": 0.5}}, seed=3)
        return submits(batch, emu.queue_name, 12, tag)

    first, second = run("a"), run("b")
    assert first == second and set(first) == {"ok", "ServerException"}
    assert len(all_jobs(batch, emu.queue_name)) == 24  # lost or not, every submit took effect


# ------------------------------------------------------------ faults on Logs and SageMaker
def _attempt_training_job(emu, batch) -> str:
    job = batch.submit_service_job(**submit_args(emu.queue_name, "side"))
    emu.advance(10)
    arn = batch.describe_service_job(jobId=job["jobId"])["latestAttempt"]["serviceResourceId"][
        "value"
    ]
    return arn.rsplit("/", 1)[-1]


def test_faults_reach_cloudwatch_logs_and_sagemaker(emu):
    batch = emu.client(config=NO_RETRIES)
    logs = emu.client("logs", config=NO_RETRIES)
    sm = emu.client("sagemaker", config=NO_RETRIES)
    name = _attempt_training_job(emu, batch)
    group = "/aws/sagemaker/TrainingJobs"
    [stream] = [
        s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
    ]
    emu.set_faults(
        {
            "GetLogEvents": {"throttleRate": 1},
            "logs:DescribeLogStreams": {"errorRate": 1},
            "sagemaker:DescribeTrainingJob": {"errorRate": 1},
        }
    )
    with pytest.raises(ClientError) as err:
        logs.get_log_events(logGroupName=group, logStreamName=stream)
    assert error_of(err)[:2] == ("ThrottlingException", 400)
    with pytest.raises(ClientError) as err:
        logs.describe_log_streams(logGroupName=group)
    assert error_of(err)[:2] == ("ServiceUnavailableException", 500)
    with pytest.raises(ClientError) as err:
        sm.describe_training_job(TrainingJobName=name)
    assert error_of(err)[:2] == ("InternalFailure", 500)
    assert sm.list_training_jobs()["TrainingJobSummaries"]  # other SageMaker calls unaffected
    assert batch.list_service_jobs(jobQueue=emu.queue_name, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert "GetLogEvents" not in emu.stats()  # stats count Batch calls only


def test_batch_wildcard_leaves_logs_and_sagemaker_alone_but_their_own_wildcards_do_not(emu):
    batch = emu.client(config=NO_RETRIES)
    logs = emu.client("logs", config=NO_RETRIES)
    sm = emu.client("sagemaker", config=NO_RETRIES)
    name = _attempt_training_job(emu, batch)
    emu.set_faults({"*": {"errorRate": 1}})
    assert outcome(lambda: logs.describe_log_groups()) == "ok"
    assert outcome(lambda: sm.describe_training_job(TrainingJobName=name)) == "ok"
    assert outcome(lambda: batch.list_service_jobs(jobQueue=emu.queue_name)) == "ServerException"
    emu.set_faults({"logs:*": {"throttleRate": 1}, "sagemaker:*": {"throttleRate": 1}})
    assert outcome(lambda: logs.describe_log_groups()) == "ThrottlingException"
    assert outcome(lambda: sm.describe_training_job(TrainingJobName=name)) == "ThrottlingException"
    assert outcome(lambda: batch.list_service_jobs(jobQueue=emu.queue_name)) == "ok"


def test_a_lost_describe_training_job_and_log_read(emu):
    batch = emu.client(config=NO_RETRIES)
    logs = emu.client("logs", config=NO_RETRIES)
    sm = emu.client("sagemaker", config=NO_RETRIES)
    name = _attempt_training_job(emu, batch)
    emu.set_faults(
        {"DescribeTrainingJob": {"lostResponseRate": 1}, "GetLogEvents": {"lostResponseRate": 1}}
    )
    assert outcome(lambda: sm.describe_training_job(TrainingJobName=name)) == "InternalFailure"
    group = "/aws/sagemaker/TrainingJobs"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    assert (
        outcome(lambda: logs.get_log_events(logGroupName=group, logStreamName=stream))
        == "ServiceUnavailableException"
    )


def test_boto3_retries_sagemaker_and_logs_faults(emu):
    batch = emu.client(config=NO_RETRIES)
    name = _attempt_training_job(emu, batch)
    sm = emu.client(
        "sagemaker", config=Config(retries={"total_max_attempts": 4, "mode": "standard"})
    )
    emu.set_faults({"DescribeTrainingJob": {"throttleRate": 0.5}}, seed=11)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobName"] == name


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        ({"DescribeServiceJobs": {"errorRate": 1}}, "did you mean DescribeServiceJob"),
        ({"s3:GetObject": {"errorRate": 1}}, "unknown service 's3'"),
        (
            {"logs:DescribeTrainingJob": {"errorRate": 1}},
            "logs has no operation 'DescribeTrainingJob'",
        ),
        (
            {"SubmitServiceJob": {"lostResponseRate": 1.5}},
            "lostResponseRate: is a rate between 0 and 1",
        ),
        ({"SubmitServiceJob": {"lostResponseRate": 0.5, "errorRate": 0.6}}, "must not exceed 1"),
        (
            {"SubmitServiceJob": {"lostResponseRate": 1, "lostResponseMode": "sometimes"}},
            "lostResponseMode: must be one of error, timeout",
        ),
        (
            {"SubmitServiceJob": {"lostResponseHoldMs": -1}},
            "lostResponseHoldMs: must be a non-negative number",
        ),
    ],
)
def test_malformed_plans_are_refused_naming_the_key(emu, plan, words):
    with pytest.raises(ValueError) as err:
        emu.set_faults(plan)
    assert words in str(err.value)


def test_console_server_refuses_a_fault_file_with_an_unknown_operation(tmp_path):
    bad = tmp_path / "faults.json"
    bad.write_text(json.dumps({"faults": {"GetLogEvent": {"errorRate": 1}}}))
    out = subprocess.run(
        [str(BIN / "airflow-batch-service"), "emulator", "--port", "0", "--faults", str(bad)],
        capture_output=True,
        text=True,
        env=CLI_ENV,
        timeout=60,
    )
    assert out.returncode == 2 and "GetLogEvent" in out.stderr and "GetLogEvents" in out.stderr
