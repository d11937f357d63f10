"""The console script, the AWS CLI against the server, reset back to the startup state, the
connection helper and the pytest plugin as users enable it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_batch_service.emulator import EmulatorServer, aws_connection_json, aws_connection_uri
from airflow_batch_service.emulator.server import READY_PREFIX

from .helpers import PAYLOAD, all_jobs, failed, run_to_end, scenario, scenarios, script, submit_args

BIN = Path(sys.executable).parent
CLI_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def console_server(tmp_path):
    """``airflow-batch-service emulator`` started the way a user starts it (port 0, frozen)."""
    scenarios = tmp_path / "scenarios.json"
    scenarios.write_text(json.dumps(scenario("cli-flaky", failed())))
    process = subprocess.Popen(
        [
            str(BIN / "airflow-batch-service"),
            "emulator",
            "--port",
            "0",
            "--queue",
            "cli-q",
            "--freeze-clock",
            "--seconds-per-state",
            "1",
            "--scenarios",
            str(scenarios),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=CLI_ENV,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith(READY_PREFIX), line
        url = line[len(READY_PREFIX) :].strip()
        assert url.startswith("http://127.0.0.1:")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def aws(url: str, *args: str) -> dict:
    out = subprocess.run(
        [str(BIN / "aws"), "batch", *args, "--endpoint-url", url, "--output", "json"],
        capture_output=True,
        text=True,
        env=CLI_ENV,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def advance(url: str, seconds: float) -> None:
    request = urllib.request.Request(
        f"{url}/_emulator/clock", data=json.dumps({"advance": seconds}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def test_aws_cli_drives_the_full_lifecycle(console_server):
    url = console_server
    env = aws(
        url,
        "create-service-environment",
        "--service-environment-name",
        "cli-env",
        "--service-environment-type",
        "SAGEMAKER_TRAINING",
        "--capacity-limits",
        "maxCapacity=2,capacityUnit=NUM_INSTANCES",
    )
    assert env["serviceEnvironmentName"] == "cli-env"
    described = aws(url, "describe-service-environments", "--service-environments", "cli-env")
    assert described["serviceEnvironments"][0]["status"] == "VALID"
    aws(
        url,
        "create-job-queue",
        "--job-queue-name",
        "cli-q2",
        "--priority",
        "1",
        "--job-queue-type",
        "SAGEMAKER_TRAINING",
        "--service-environment-order",
        "order=1,serviceEnvironment=cli-env",
    )
    payload = json.dumps(PAYLOAD)
    job = aws(
        url,
        "submit-service-job",
        "--job-name",
        "cli-job",
        "--job-queue",
        "cli-q2",
        "--service-job-type",
        "SAGEMAKER_TRAINING",
        "--service-request-payload",
        payload,
        "--retry-strategy",
        "attempts=2",
    )
    seen = []
    for _ in range(10):
        status = aws(url, "describe-service-job", "--job-id", job["jobId"])["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "SUCCEEDED":
            break
        advance(url, 1)
    assert seen == ["SUBMITTED", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING", "SUCCEEDED"]

    flaky = aws(
        url,
        "submit-service-job",
        "--job-name",
        "cli-flaky",
        "--job-queue",
        "cli-q",
        "--service-job-type",
        "SAGEMAKER_TRAINING",
        "--service-request-payload",
        payload,
    )
    other = aws(
        url,
        "submit-service-job",
        "--job-name",
        "cli-other",
        "--job-queue",
        "cli-q2",
        "--service-job-type",
        "SAGEMAKER_TRAINING",
        "--service-request-payload",
        payload,
    )
    aws(url, "update-service-job", "--job-id", other["jobId"], "--scheduling-priority", "5")
    assert aws(url, "describe-service-job", "--job-id", other["jobId"])["schedulingPriority"] == 5
    aws(url, "terminate-service-job", "--job-id", other["jobId"], "--reason", "from the CLI")
    advance(url, 20)
    assert (
        aws(url, "describe-service-job", "--job-id", flaky["jobId"])["status"] == "FAILED"
    )  # the --scenarios file

    assert [
        j["jobName"]
        for j in aws(
            url, "list-service-jobs", "--job-queue", "cli-q2", "--job-status", "SUCCEEDED"
        )["jobSummaryList"]
    ] == ["cli-job"]
    failed = aws(url, "list-service-jobs", "--job-queue", "cli-q2", "--job-status", "FAILED")[
        "jobSummaryList"
    ]
    # (awscli 1.46 parses with its own older botocore, whose summary has no isTerminated yet)
    assert [(j["jobName"], j["statusReason"]) for j in failed] == [("cli-other", "from the CLI")]
    by_name = aws(
        url, "list-service-jobs", "--job-queue", "cli-q2", "--filters", "name=JOB_NAME,values=CLI*"
    )
    assert [j["jobName"] for j in by_name["jobSummaryList"]] == ["cli-other", "cli-job"]
    page = aws(
        url,
        "list-service-jobs",
        "--job-queue",
        "cli-q2",
        "--filters",
        "name=JOB_NAME,values=cli*",
        "--max-items",
        "1",
    )
    assert [j["jobName"] for j in page["jobSummaryList"]] == ["cli-other"] and page["NextToken"]
    rest = aws(
        url,
        "list-service-jobs",
        "--job-queue",
        "cli-q2",
        "--filters",
        "name=JOB_NAME,values=cli*",
        "--max-items",
        "1",
        "--starting-token",
        page["NextToken"],
    )
    assert [j["jobName"] for j in rest["jobSummaryList"]] == ["cli-job"]


def test_cli_refuses_a_bad_scenario_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"jobs": [{"jobName": "x", "attempts": [{"result": "MAYBE"}]}]}))
    out = subprocess.run(
        [str(BIN / "airflow-batch-service"), "emulator", "--port", "0", "--scenarios", str(bad)],
        capture_output=True,
        text=True,
        env=CLI_ENV,
        timeout=60,
    )
    assert out.returncode == 2 and "jobs[0].attempts[0].result" in out.stderr


def test_reset_brings_back_the_startup_state():
    startup_scenarios = scenarios(script("boot-*", failed()), seconds_per_state=3)
    with EmulatorServer(
        queues=["boot-q"],
        scenarios=startup_scenarios,
        client_token_mode="return_existing",
        faults={"UpdateServiceJob": {"errorRate": 1}},
        fault_seed=1,
        freeze_clock=True,
    ) as server:
        emu = server.emulator
        batch = emu.client()
        settings = emu.settings()
        assert (settings["secondsPerState"], settings["clientTokenMode"]) == (3, "return_existing")
        emu.configure(seconds_per_state=1, client_token_mode="reject")
        emu.load_scenarios(scenarios())
        emu.set_faults({})
        emu.create_queue("extra-q")
        batch.submit_service_job(**submit_args("boot-q", "boot-0"))

        emu.reset()
        settings = emu.settings()
        assert (settings["secondsPerState"], settings["clientTokenMode"]) == (3, "return_existing")
        assert settings["faults"] == {
            "UpdateServiceJob": {
                "throttleRate": 0,
                "errorRate": 1,
                "latencyMs": 0,
                "notFoundForMs": 0,
            }
        }
        assert settings["seed"] == 1
        no_retries = emu.client(config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(ClientError) as err:  # the --faults file is in force again
            no_retries.update_service_job(jobId="any", schedulingPriority=1)
        assert err.value.response["Error"]["Code"] == "ServerException"
        assert [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]] == ["boot-q"]
        assert all_jobs(batch, "boot-q") == []
        assert emu.stats() == {"UpdateServiceJob": 1, "DescribeJobQueues": 1, "ListServiceJobs": 1}
        job = batch.submit_service_job(**submit_args("boot-q", "boot-1"))
        final = run_to_end(emu, batch, job["jobId"])
        assert final["status"] == "FAILED"  # the startup scenario is in force again
        assert final["scheduledAt"] - final["createdAt"] == 6000  # and its 3 s per state
        again = batch.submit_service_job(**submit_args("boot-q", "boot-2", clientToken="t"))
        assert (
            batch.submit_service_job(**submit_args("boot-q", "boot-2", clientToken="t"))["jobId"]
            == again["jobId"]
        )


def test_server_binds_loopback_and_stops():
    server = EmulatorServer()
    server.start()
    try:
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        pid = server._process.pid
    finally:
        server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_connection_helpers_point_airflow_at_the_endpoint():
    url = "http://127.0.0.1:4566"
    conn = json.loads(aws_connection_json(url))
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == url
    assert conn["extra"]["service_config"]["sts"]["endpoint_url"] == url
    uri = urlsplit(aws_connection_uri(url, region="eu-west-1"))
    assert (uri.scheme, uri.username, uri.password) == ("aws", "testing", "testing")
    extra = json.loads(unquote(parse_qs(uri.query)["__extra__"][0]))
    assert extra["endpoint_url"] == url and extra["region_name"] == "eu-west-1"


def test_plugin_works_for_users_who_enable_it(tmp_path):
    (tmp_path / "test_user.py").write_text(
        "import json\n"
        "def test_submit(batch_emulator):\n"
        "    batch = batch_emulator.client()\n"
        "    job = batch.submit_service_job(jobName='u', jobQueue=batch_emulator.queue_name,\n"
        "        serviceJobType='SAGEMAKER_TRAINING', serviceRequestPayload=json.dumps({}))\n"
        "    assert batch.describe_service_job(jobId=job['jobId'])['jobQueue'] == batch_emulator.queue_arn\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "airflow_batch_service.emulator.pytest_plugin",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_user.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
