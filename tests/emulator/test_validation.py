"""Every documented SubmitServiceJob bound: rejected as ClientException 400, the message names
the field and the rule, and nothing is stored. The emulator checks them with its own code
(``emulator.submit_rules``), apart from the operator's ``core.validation``."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .helpers import all_jobs, error_of, submit_args

RULES = [{"action": "RETRY", "onStatusReason": f"r{i}*"} for i in range(6)]

# (case id, extra submit arguments, field the message must name, words of the rule)
CASES = [
    ("jobName-chars", {"jobName": "bad name"}, "jobName", "letters, digits"),
    ("jobName-long", {"jobName": "x" * 129}, "jobName", "at most 128 characters, got 129"),
    (
        "attempts-0",
        {"retryStrategy": {"attempts": 0}},
        "retryStrategy.attempts",
        "between 1 and 10",
    ),
    (
        "attempts-11",
        {"retryStrategy": {"attempts": 11}},
        "retryStrategy.attempts",
        "between 1 and 10",
    ),
    (
        "six-rules",
        {"retryStrategy": {"attempts": 2, "evaluateOnExit": RULES}},
        "retryStrategy.evaluateOnExit",
        "at most 5",
    ),
    (
        "action",
        {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{"action": "RETRY_LATER", "onStatusReason": "*"}],
            }
        },
        "retryStrategy.evaluateOnExit[0].action",
        "RETRY, EXIT",
    ),
    (
        "onStatusReason-long",
        {
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "x" * 513}],
            }
        },
        "retryStrategy.evaluateOnExit[0].onStatusReason",
        "1-512",
    ),
    ("priority-low", {"schedulingPriority": -1}, "schedulingPriority", "between 0 and 9999"),
    ("priority-high", {"schedulingPriority": 10000}, "schedulingPriority", "between 0 and 9999"),
    ("serviceJobType", {"serviceJobType": "FOO"}, "serviceJobType", "SAGEMAKER_TRAINING"),
    (
        "payload-not-json",
        {"serviceRequestPayload": "{not json"},
        "serviceRequestPayload",
        "valid JSON",
    ),
    (
        "payload-not-object",
        {"serviceRequestPayload": "[1, 2]"},
        "serviceRequestPayload",
        "JSON object",
    ),
    ("unknown-queue", {"jobQueue": "no-such-queue"}, "jobQueue", "does not exist"),
    ("tags-count", {"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "1-50"),
    ("tag-key", {"tags": {"k" * 129: "v"}}, "tags[", "1-128"),
    ("tag-value", {"tags": {"k": "v" * 257}}, "tags[", "at most 256"),
    ("clientToken", {"clientToken": "t" * 65}, "clientToken", "1-64"),
    (
        "attemptDuration-0",
        {"timeoutConfig": {"attemptDurationSeconds": 0}},
        "timeoutConfig.attemptDurationSeconds",
        "at least 1",
    ),
    ("shareIdentifier-elsewhere", {"shareIdentifier": "team"}, "shareIdentifier", "no fair-share"),
    ("quotaShareName-elsewhere", {"quotaShareName": "default"}, "quotaShareName", "no quota-share"),
]


@pytest.mark.parametrize(
    ("extra", "field", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bound_is_rejected_naming_field_and_rule_and_nothing_is_stored(
    emu, batch, extra, field, rule
):
    args = submit_args(emu.queue_name, "bounded")
    args.update(extra)
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**args)
    code, status, message = error_of(err)
    assert (code, status) == ("ClientException", 400)
    assert field in message and rule in message, message
    assert all_jobs(batch, emu.queue_name) == []
    assert emu.stats()["SubmitServiceJob"] == 1  # rejected once, not retried by boto3


def test_the_same_request_within_bounds_is_accepted(emu, batch):
    """The control: the edges of every bound pass (so the rejections above are the bounds)."""
    args = submit_args(
        emu.queue_name,
        "x" * 128,
        retryStrategy={"attempts": 10, "evaluateOnExit": RULES[:5]},
        schedulingPriority=9999,
        tags={f"k{i}": "v" * 256 for i in range(50)},
        clientToken="t" * 64,
        timeoutConfig={"attemptDurationSeconds": 1},
    )
    batch.submit_service_job(**args)
    batch.submit_service_job(
        **submit_args(emu.queue_name, "edge-0", schedulingPriority=0, retryStrategy={"attempts": 1})
    )
    assert len(all_jobs(batch, emu.queue_name)) == 2


def test_every_broken_field_is_named_at_once(emu, batch):
    args = submit_args(emu.queue_name, "bad name", serviceJobType="FOO", schedulingPriority=10000)
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**args)
    message = error_of(err)[2]
    assert "jobName" in message and "serviceJobType" in message and "schedulingPriority" in message


def test_fair_share_queue_requires_share_identifier(emu, batch):
    emu.create_queue("fair", fair_share=True)
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args("fair", "no-share"))
    assert "shareIdentifier" in error_of(err)[2] and "is required" in error_of(err)[2]
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(
            **submit_args("fair", "quota-on-fair", shareIdentifier="a", quotaShareName="b")
        )
    assert "quotaShareName" in error_of(err)[2]
    assert all_jobs(batch, "fair") == []
    job = batch.submit_service_job(**submit_args("fair", "shared", shareIdentifier="team_a"))
    assert batch.describe_service_job(jobId=job["jobId"])["shareIdentifier"] == "team_a"


def test_quota_share_queue_requires_an_existing_quota_share(emu, batch):
    emu.create_queue("quota", quota_share=True)
    for extra, words in (
        ({}, "is required"),
        ({"quotaShareName": "nope"}, "does not exist"),
        ({"shareIdentifier": "a"}, "shareIdentifier"),
    ):
        with pytest.raises(ClientError) as err:
            batch.submit_service_job(**submit_args("quota", "q-job", **extra))
        assert words in error_of(err)[2]
    assert all_jobs(batch, "quota") == []
    job = batch.submit_service_job(**submit_args("quota", "q-job", quotaShareName="default"))
    assert batch.describe_service_job(jobId=job["jobId"])["quotaShareName"] == "default"


def test_disabled_queue_accepts_no_jobs(emu, batch):
    batch.update_job_queue(jobQueue=emu.queue_name, state="DISABLED")
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args(emu.queue_name, "late"))
    assert "DISABLED" in error_of(err)[2]
    assert all_jobs(batch, emu.queue_name) == []


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (
            lambda b, q, j: b.update_service_job(jobId=j, schedulingPriority=10000),
            "schedulingPriority",
        ),
        (lambda b, q, j: b.terminate_service_jobs(jobs=[j] * 51, reason="x"), "at most 50"),
        (lambda b, q, j: b.list_service_jobs(jobQueue=q, maxResults=101), "maxResults"),
        (lambda b, q, j: b.list_service_jobs(jobQueue=q, maxResults=0), "maxResults"),
        (lambda b, q, j: b.list_service_jobs(jobQueue=q, nextToken="garbage"), "nextToken"),
        (
            lambda b, q, j: b.list_service_jobs(
                jobQueue=q,
                filters=[
                    {"name": "JOB_NAME", "values": ["a"]},
                    {"name": "SHARE_IDENTIFIER", "values": ["b"]},
                ],
            ),
            "one filter",
        ),
        (
            lambda b, q, j: b.list_service_jobs(
                jobQueue=q, filters=[{"name": "COLOUR", "values": ["a"]}]
            ),
            "filters[0].name",
        ),
        (lambda b, q, j: b.list_service_jobs(jobQueue="nope"), "does not exist"),
        (
            lambda b, q, j: b.create_service_environment(
                serviceEnvironmentName="bad name",
                serviceEnvironmentType="SAGEMAKER_TRAINING",
                capacityLimits=[{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}],
            ),
            "serviceEnvironmentName",
        ),
        (
            lambda b, q, j: b.create_service_environment(
                serviceEnvironmentName="e",
                serviceEnvironmentType="SAGEMAKER_TRAINING",
                capacityLimits=[{"maxCapacity": 0, "capacityUnit": "NUM_INSTANCES"}],
            ),
            "maxCapacity",
        ),
        (
            lambda b, q, j: b.create_job_queue(
                jobQueueName="tl",
                priority=1,
                jobQueueType="SAGEMAKER_TRAINING",
                serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": f"{q}-env"}],
                jobStateTimeLimitActions=[
                    {
                        "reason": "r",
                        "state": "RUNNABLE",
                        "maxTimeSeconds": 599,
                        "action": "TERMINATE",
                    }
                ],
            ),
            "maxTimeSeconds",
        ),
        (
            lambda b, q, j: b.create_job_queue(
                jobQueueName="tl",
                priority=1,
                jobQueueType="SAGEMAKER_TRAINING",
                serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": f"{q}-env"}],
                jobStateTimeLimitActions=[
                    {"reason": "r", "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}
                ],
            ),
            "TERMINATE",
        ),
        (
            lambda b, q, j: b.create_job_queue(
                jobQueueName="tl",
                priority=1,
                jobQueueType="SAGEMAKER_TRAINING",
                serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "no-such-env"}],
            ),
            "serviceEnvironmentOrder[0].serviceEnvironment",
        ),
        (lambda b, q, j: b.delete_job_queue(jobQueue=q), "must be DISABLED"),
        (
            lambda b, q, j: b.delete_service_environment(serviceEnvironment=f"{q}-env"),
            "must be DISABLED",
        ),
    ],
    ids=[
        "update-priority",
        "terminate-51",
        "maxResults-101",
        "maxResults-0",
        "nextToken",
        "two-filters",
        "filter-name",
        "list-unknown-queue",
        "env-name",
        "env-capacity",
        "time-limit-600",
        "time-limit-action",
        "queue-env-missing",
        "delete-enabled-queue",
        "delete-enabled-env",
    ],
)
def test_other_operations_reject_out_of_bound_input(emu, batch, call, words):
    job = batch.submit_service_job(**submit_args(emu.queue_name, "victim"))["jobId"]
    with pytest.raises(ClientError) as err:
        call(batch, emu.queue_name, job)
    code, status, message = error_of(err)
    assert (code, status) == ("ClientException", 400)
    assert words in message, message
    assert batch.describe_job_queues(jobQueues=["tl"])["jobQueues"] == []
    assert [j["jobId"] for j in all_jobs(batch, emu.queue_name)] == [job]
    assert batch.describe_service_job(jobId=job).get("schedulingPriority") is None
