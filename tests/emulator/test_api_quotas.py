"""API quotas: token buckets on the emulator clock (SubmitServiceJob 5/s, other Batch calls
50/s), their wire shape, boto3's retries of a 429, and the console server's default."""

from __future__ import annotations

import json
import subprocess

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_batch_service.core.errors import ErrorKind, classify
from airflow_batch_service.emulator.server import READY_PREFIX

from .helpers import all_jobs, error_of, submit_args
from .wire_support import BIN, CLI_ENV, NO_RETRIES, lists, outcome, submits


# ------------------------------------------------------------------------- API quotas
def test_quotas_are_off_unless_asked(emu):
    batch = emu.client(config=NO_RETRIES)
    assert emu.settings()["apiQuotas"] == "off"
    assert set(submits(batch, emu.queue_name, 8, "free")) == {"ok"}
    assert set(lists(batch, emu.queue_name, 60)) == {"ok"}  # the clock is frozen: no refill
    assert "throttled" not in emu.stats()


def test_submit_quota_is_5_per_second_with_a_burst_of_5(emu):
    emu.configure(api_quotas="aws")
    emu.reset_stats()
    batch = emu.client(config=NO_RETRIES)
    assert submits(batch, emu.queue_name, 6, "a") == ["ok"] * 5 + ["TooManyRequestsException"]
    emu.advance(0.2)  # one token back
    assert submits(batch, emu.queue_name, 2, "b") == ["ok", "TooManyRequestsException"]
    emu.advance(0.1)  # half a token: not enough
    assert submits(batch, emu.queue_name, 1, "c") == ["TooManyRequestsException"]
    emu.advance(10)  # refills to the burst, not beyond
    assert submits(batch, emu.queue_name, 6, "d") == ["ok"] * 5 + ["TooManyRequestsException"]
    stats = emu.stats()
    assert stats["SubmitServiceJob"] == 15  # every call is counted, throttled or not
    assert stats["throttled"] == {"SubmitServiceJob": 4}
    assert len(all_jobs(batch, emu.queue_name)) == 11  # a throttled submit creates nothing


def test_other_batch_calls_share_50_per_second_and_not_the_submit_bucket(emu):
    emu.configure(api_quotas="aws")
    emu.reset_stats()
    batch = emu.client(config=NO_RETRIES)
    job = batch.submit_service_job(**submit_args(emu.queue_name, "shared"))
    calls = lists(batch, emu.queue_name, 30) + [
        outcome(lambda: batch.describe_service_job(jobId=job["jobId"])) for _ in range(20)
    ]
    assert calls == ["ok"] * 50
    assert (
        outcome(lambda: batch.describe_service_job(jobId=job["jobId"]))
        == "TooManyRequestsException"
    )
    assert outcome(lambda: batch.describe_job_queues()) == "TooManyRequestsException"
    assert submits(batch, emu.queue_name, 1, "own-bucket") == ["ok"]  # SubmitServiceJob has its own
    emu.advance(0.1)  # 5 tokens
    assert lists(batch, emu.queue_name, 6) == ["ok"] * 5 + ["TooManyRequestsException"]
    assert emu.stats()["throttled"] == {
        "DescribeServiceJob": 1,
        "DescribeJobQueues": 1,
        "ListServiceJobs": 1,
    }


def test_throttle_has_batchs_wire_shape(emu):
    emu.configure(api_quotas="aws")
    batch = emu.client(config=NO_RETRIES)
    seen: dict = {}
    batch.meta.events.register(
        "before-parse.batch.SubmitServiceJob", lambda response_dict, **_: seen.update(response_dict)
    )
    submits(batch, emu.queue_name, 5, "w")
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args(emu.queue_name, "w-6"))
    code, status, message = error_of(err)
    assert (code, status, message) == ("TooManyRequestsException", 429, "Too Many Requests.")
    assert classify(code, status, message) is ErrorKind.THROTTLED
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert json.loads(seen["body"]) == {
        "__type": "TooManyRequestsException",
        "message": "Too Many Requests.",
    }


def test_boto3_standard_mode_retries_the_429(emu):
    """botocore classifies the answer as throttling and retries it; the retry passes once a
    token is back (the clock moves between attempts, deterministically)."""
    emu.configure(api_quotas="aws")
    batch = emu.client(config=Config(retries={"total_max_attempts": 3, "mode": "standard"}))
    submits(emu.client(config=NO_RETRIES), emu.queue_name, 5, "fill")
    emu.reset_stats()
    with pytest.raises(ClientError) as err:  # clock frozen: every attempt is throttled
        batch.submit_service_job(**submit_args(emu.queue_name, "gives-up"))
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert emu.stats() == {"SubmitServiceJob": 3, "throttled": {"SubmitServiceJob": 3}}

    attempts = []

    def before_attempt(**_):
        attempts.append(1)
        if len(attempts) == 2:
            emu.advance(0.2)  # a token comes back before the first retry

    batch.meta.events.register("request-created.batch.SubmitServiceJob", before_attempt)
    emu.reset_stats()
    job = batch.submit_service_job(**submit_args(emu.queue_name, "retried"))
    assert job["ResponseMetadata"]["RetryAttempts"] == 1
    assert emu.stats() == {"SubmitServiceJob": 2, "throttled": {"SubmitServiceJob": 1}}


def test_buckets_are_per_region(emu):
    emu.configure(api_quotas="aws")
    east = emu.client(config=NO_RETRIES)
    west = emu.client(config=NO_RETRIES, region_name="us-west-2")
    assert lists(east, emu.queue_name, 51)[-1] == "TooManyRequestsException"
    assert outcome(lambda: west.describe_service_environments()) == "ok"
    assert outcome(lambda: east.describe_service_environments()) == "TooManyRequestsException"


def test_turning_quotas_off_and_on_again_starts_full(emu):
    emu.configure(api_quotas="aws")
    batch = emu.client(config=NO_RETRIES)
    assert submits(batch, emu.queue_name, 6, "x")[-1] == "TooManyRequestsException"
    emu.configure(api_quotas="off")
    assert set(submits(batch, emu.queue_name, 6, "y")) == {"ok"}
    emu.configure(api_quotas="aws")
    assert submits(batch, emu.queue_name, 6, "z") == ["ok"] * 5 + ["TooManyRequestsException"]
    with pytest.raises(ValueError, match="api_quotas must be one of aws, off"):
        emu.configure(api_quotas="on")


@pytest.fixture
def cli_server(request):
    """Start the console script as a user does; yields (url, RemoteEmulator)."""
    from airflow_batch_service.emulator import RemoteEmulator

    processes = []

    def start(*extra: str):
        process = subprocess.Popen(
            [
                str(BIN / "airflow-batch-service"),
                "emulator",
                "--port",
                "0",
                "--queue",
                "q",
                "--freeze-clock",
                "--quiet",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=CLI_ENV,
        )
        processes.append(process)
        line = process.stdout.readline()
        assert line.startswith(READY_PREFIX), line
        url = line[len(READY_PREFIX) :].strip()
        return url, RemoteEmulator(url)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_console_server_turns_quotas_on_by_default_and_keeps_them_after_reset(cli_server):
    _url, emu = cli_server()
    batch = emu.client(config=NO_RETRIES)
    assert emu.settings()["apiQuotas"] == "aws"
    assert submits(batch, "q", 6, "cli") == ["ok"] * 5 + ["TooManyRequestsException"]
    assert emu.stats()["throttled"] == {"SubmitServiceJob": 1}
    emu.configure(api_quotas="off")
    emu.reset()
    assert emu.settings()["apiQuotas"] == "aws"  # the startup state
    assert "throttled" not in emu.stats()


def test_console_server_with_quotas_off(cli_server):
    _url, emu = cli_server("--api-quotas", "off")
    batch = emu.client(config=NO_RETRIES)
    assert emu.settings()["apiQuotas"] == "off"
    assert set(submits(batch, "q", 7, "free")) == {"ok"}
