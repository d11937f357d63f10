"""Fault injection per operation, request counters, and resets."""

from __future__ import annotations

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_batch_service.core.errors import ErrorKind, classify

from .helpers import describe, error_of, submit_args

NO_RETRIES = Config(retries={"max_attempts": 0, "mode": "standard"})


def outcome(call) -> str:
    try:
        call()
        return "ok"
    except ClientError as err:
        return err.response["Error"]["Code"]


def test_throttle_is_http_429_and_transient(emu):
    batch = emu.client(config=NO_RETRIES)
    job = batch.submit_service_job(**submit_args(emu.queue_name, "t"))
    emu.set_faults({"DescribeServiceJob": {"throttleRate": 1}})
    with pytest.raises(ClientError) as err:
        batch.describe_service_job(jobId=job["jobId"])
    code, status, message = error_of(err)
    assert (code, status) == ("TooManyRequestsException", 429)
    assert classify(code, status, message) is ErrorKind.THROTTLED
    assert (
        batch.list_service_jobs(jobQueue=emu.queue_name)["jobSummaryList"] == []
    )  # other ops unaffected


def test_error_rate_is_http_500_server_exception(emu):
    batch = emu.client(config=NO_RETRIES)
    emu.set_faults({"*": {"errorRate": 1}})
    with pytest.raises(ClientError) as err:
        batch.list_service_jobs(jobQueue=emu.queue_name)
    code, status, message = error_of(err)
    assert (code, status) == ("ServerException", 500)
    assert classify(code, status, message) is ErrorKind.TRANSIENT
    emu.clear_faults()
    batch.list_service_jobs(jobQueue=emu.queue_name)


def test_seeded_faults_are_deterministic(emu):
    batch = emu.client(config=NO_RETRIES)

    def run() -> list[str]:
        emu.set_faults({"ListServiceJobs": {"throttleRate": 0.3, "errorRate": 0.3}}, seed=42)
        return [
            outcome(lambda: batch.list_service_jobs(jobQueue=emu.queue_name)) for _ in range(30)
        ]

    first, second = run(), run()
    assert first == second
    assert {"ok", "TooManyRequestsException", "ServerException"} == set(first)


def test_not_found_for_a_while_after_submit(emu, batch):
    emu.set_faults({"DescribeServiceJob": {"notFoundForMs": 5000}})
    job = batch.submit_service_job(**submit_args(emu.queue_name, "late"))
    with pytest.raises(ClientError) as err:
        batch.describe_service_job(jobId=job["jobId"])
    assert classify(*error_of(err)) is ErrorKind.NOT_FOUND
    emu.advance(1)
    assert [
        j["jobId"]
        for j in batch.list_service_jobs(jobQueue=emu.queue_name, jobStatus="RUNNABLE")[
            "jobSummaryList"
        ]
    ] == [job["jobId"]]
    emu.advance(4)
    assert describe(batch, job["jobId"])["jobId"] == job["jobId"]


def test_latency_is_added(emu, batch):
    emu.set_faults({"ListServiceJobs": {"latencyMs": 300}})
    started = time.monotonic()
    batch.list_service_jobs(jobQueue=emu.queue_name)
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        ({"DescribeServiceJob": {"throttleRate": 2}}, "throttleRate"),
        ({"DescribeServiceJob": {"throttleRate": 0.6, "errorRate": 0.6}}, "must not exceed 1"),
        ({"DescribeServiceJob": {"slowness": 1}}, "unknown key"),
        ({"DescribeServiceJob": {"latencyMs": -5}}, "latencyMs"),
    ],
)
def test_malformed_fault_plans_are_refused(emu, plan, words):
    with pytest.raises(ValueError) as err:
        emu.set_faults(plan)
    assert words in str(err.value)


def test_stats_count_each_operation_and_reset(emu, batch):
    emu.reset_stats()
    job = batch.submit_service_job(**submit_args(emu.queue_name, "counted"))
    for _ in range(3):
        batch.describe_service_job(jobId=job["jobId"])
    batch.list_service_jobs(jobQueue=emu.queue_name)
    assert emu.stats() == {"SubmitServiceJob": 1, "DescribeServiceJob": 3, "ListServiceJobs": 1}
    emu.reset_stats()
    assert emu.stats() == {}


def test_boto3_retries_are_counted_too(emu):
    emu.set_faults({"DescribeServiceJob": {"errorRate": 1}})
    emu.reset_stats()
    batch = emu.client(config=Config(retries={"total_max_attempts": 2, "mode": "standard"}))
    with pytest.raises(ClientError):
        batch.describe_service_job(jobId="x")
    assert emu.stats() == {"DescribeServiceJob": 2}


def test_concurrent_clients_are_served_consistently(batch_emulator_server):
    """The server handles requests on many threads; emulator state stays consistent."""
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config as BotoConfig

    emu = batch_emulator_server
    batch = emu.client(config=BotoConfig(max_pool_connections=16))

    def work(i: int) -> str:
        job = batch.submit_service_job(**submit_args(emu.queue_name, f"c-{i}"))
        for _ in range(5):
            batch.describe_service_job(jobId=job["jobId"])
        return job["jobId"]

    emu.reset_stats()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(work, range(40)))
    assert len(set(ids)) == 40
    assert emu.stats() == {"SubmitServiceJob": 40, "DescribeServiceJob": 200}
