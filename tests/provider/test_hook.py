"""``BatchServiceJobHook`` against the emulator (in-process and over HTTP)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from airflow_batch_service.core.validation import InvalidRequestError
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook, clear_cache

from .support import (
    PAYLOAD,
    emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
)


def submit_through_hook(hook: BatchServiceJobHook, queue: str, name: str) -> str:
    """Submit ``PAYLOAD`` with the hook's own ``submit_service_job`` (the path under test
    here), not through the operator: the job id."""
    return hook.submit_service_job(
        {
            "jobName": name,
            "jobQueue": queue,
            "serviceJobType": "SAGEMAKER_TRAINING",
            "serviceRequestPayload": json.dumps(PAYLOAD),
            "schedulingPriority": None,
        }
    )["jobId"]


def test_hook_reuses_one_client(emu):
    hook = BatchServiceJobHook(aws_conn_id="emu")
    assert hook.conn is hook.conn
    job_id = submit_through_hook(hook, emu.queue_name, "reuse")
    assert hook.describe_service_job(job_id)["jobId"] == job_id
    assert "ResponseMetadata" not in hook.describe_service_job(job_id)


def test_list_paginates_with_filters(emu):
    hook = BatchServiceJobHook(aws_conn_id="emu")
    wanted = {submit_through_hook(hook, emu.queue_name, f"list-a-{i}") for i in range(3)}
    submit_through_hook(hook, emu.queue_name, "other-job")
    emu.reset_stats()
    found = list(
        hook.list_service_jobs(
            job_queue=emu.queue_name,
            filters=[{"name": "JOB_NAME", "values": ["list-a-*"]}],
            page_size=1,
        )
    )
    assert {j["jobId"] for j in found} == wanted
    assert emu.stats()["ListServiceJobs"] >= 3  # one page per job: it really paginated
    # Without filters Batch lists one status (RUNNING by default), as ListJobs does.
    for summary in hook.list_service_jobs(job_queue=emu.queue_name, job_status="RUNNABLE"):
        assert summary["status"] == "RUNNABLE"


def test_terminate_many_in_chunks_of_50(emu):
    emu.configure(freeze_clock=True)  # the jobs must still be live when terminated, however slow
    hook = BatchServiceJobHook(aws_conn_id="emu")
    real = [submit_through_hook(hook, emu.queue_name, f"term-{i}") for i in range(3)]
    ids = real + [str(uuid.uuid4()) for _ in range(57)]
    emu.reset_stats()
    result = hook.terminate_service_jobs(ids, reason="test cleanup")
    assert emu.stats()["TerminateServiceJobs"] == 2
    assert set(real) <= set(result["successful"])
    for job_id in real:
        described = hook.describe_service_job(job_id)
        assert described["isTerminated"] and described["status"] == "FAILED", described


def test_terminate_one_and_update_priority(emu):
    emu.configure(freeze_clock=True)  # a finished job could be neither updated nor terminated
    hook = BatchServiceJobHook(aws_conn_id="emu")
    job_id = submit_through_hook(hook, emu.queue_name, "prio")
    assert hook.update_service_job_priority(job_id, 0)["jobId"] == job_id
    emu.reset_stats()
    with pytest.raises(InvalidRequestError, match="schedulingPriority"):
        hook.update_service_job_priority(job_id, 10000)
    assert emu.stats().get("UpdateServiceJob", 0) == 0
    hook.terminate_service_job(job_id, reason="done with it")
    assert hook.describe_service_job(job_id)["isTerminated"]


def test_a_throttled_call_makes_the_three_requests_the_docstring_promises(emu):
    """The module doc says "at most 3 requests per call": count them at the endpoint."""
    hook = BatchServiceJobHook(aws_conn_id="emu")
    job_id = submit_through_hook(hook, emu.queue_name, "throttled")
    emu.set_faults({"DescribeServiceJob": {"throttleRate": 1.0}})
    emu.reset_stats()
    with pytest.raises(ClientError) as err:
        hook.describe_service_job(job_id)
    assert err.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert emu.stats()["DescribeServiceJob"] == 3
    emu.clear_faults()


def test_queue_and_policy_descriptions_are_cached_per_process(emu):
    clear_cache()
    hook = BatchServiceJobHook(aws_conn_id="emu")
    emu.reset_stats()
    for _ in range(3):
        queue = hook.describe_job_queue(emu.queue_name)
        assert queue is not None and queue["jobQueueType"] == "SAGEMAKER_TRAINING"
    assert emu.stats()["DescribeJobQueues"] == 1
    assert hook.describe_job_queue("no-such-queue") is None
    assert hook.describe_job_queue("no-such-queue") is None  # a missing queue is not cached
    assert emu.stats()["DescribeJobQueues"] == 3
    clear_cache()
