"""Every implemented operation, in both modes, with raw answers checked against botocore's
output shapes (every key a member, required members present, types and enums right)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .helpers import assert_output_shape, capture_raw, describe, error_of, submit_args


def test_every_service_job_operation_answers_in_botocore_shape(emu, batch):
    raw = capture_raw(batch)
    sm_env = batch.create_service_environment(
        serviceEnvironmentName="env-a",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": 4, "capacityUnit": "NUM_INSTANCES"}],
        tags={"team": "ml"},
    )
    assert_output_shape("CreateServiceEnvironment", raw["CreateServiceEnvironment"])
    envs = batch.describe_service_environments(serviceEnvironments=["env-a"])["serviceEnvironments"]
    assert_output_shape("DescribeServiceEnvironments", raw["DescribeServiceEnvironments"])
    assert envs[0]["serviceEnvironmentArn"] == sm_env["serviceEnvironmentArn"]
    assert (envs[0]["status"], envs[0]["state"], envs[0]["tags"]) == (
        "VALID",
        "ENABLED",
        {"team": "ml"},
    )
    batch.update_service_environment(
        serviceEnvironment="env-a",
        capacityLimits=[{"maxCapacity": 8, "capacityUnit": "NUM_INSTANCES"}],
    )
    assert_output_shape("UpdateServiceEnvironment", raw["UpdateServiceEnvironment"])
    queue = batch.create_job_queue(
        jobQueueName="q-a",
        priority=5,
        jobQueueType="SAGEMAKER_TRAINING",
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "env-a"}],
        jobStateTimeLimitActions=[
            {"reason": "stuck", "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "TERMINATE"}
        ],
    )
    assert_output_shape("CreateJobQueue", raw["CreateJobQueue"])
    described = batch.describe_job_queues(jobQueues=["q-a"])["jobQueues"]
    assert_output_shape("DescribeJobQueues", raw["DescribeJobQueues"])
    assert described[0]["jobQueueArn"] == queue["jobQueueArn"]
    assert described[0]["serviceEnvironmentOrder"][0]["serviceEnvironment"] == "env-a"
    batch.update_job_queue(jobQueue="q-a", priority=7)
    assert_output_shape("UpdateJobQueue", raw["UpdateJobQueue"])
    assert batch.describe_job_queues(jobQueues=["q-a"])["jobQueues"][0]["priority"] == 7

    job = batch.submit_service_job(
        **submit_args(
            "q-a",
            "shape",
            tags={"k": "v"},
            schedulingPriority=0,
            retryStrategy={
                "attempts": 2,
                "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "*"}],
            },
            timeoutConfig={"attemptDurationSeconds": 3600},
            preemptionConfiguration={"preemptionRetriesBeforeTermination": 2},
        )
    )
    assert_output_shape("SubmitServiceJob", raw["SubmitServiceJob"])
    for _ in range(6):
        describe(batch, job["jobId"])
        assert_output_shape("DescribeServiceJob", raw["DescribeServiceJob"])
        batch.list_service_jobs(jobQueue="q-a", filters=[{"name": "JOB_NAME", "values": ["shape"]}])
        assert_output_shape("ListServiceJobs", raw["ListServiceJobs"])
        emu.advance(1)
    final = describe(batch, job["jobId"])
    assert final["schedulingPriority"] == 0  # 0 is a real value
    assert final["tags"] == {"k": "v"}
    batch.update_service_job(jobId=job["jobId"], schedulingPriority=9) if final[
        "status"
    ] != "SUCCEEDED" else None

    second = batch.submit_service_job(**submit_args("q-a", "shape-2"))
    updated = batch.update_service_job(jobId=second["jobId"], schedulingPriority=9999)
    assert_output_shape("UpdateServiceJob", raw["UpdateServiceJob"])
    assert updated["jobId"] == second["jobId"]
    assert describe(batch, second["jobId"])["schedulingPriority"] == 9999
    batch.terminate_service_job(jobId=second["jobId"], reason="bye")
    assert_output_shape("TerminateServiceJob", raw["TerminateServiceJob"])
    third = batch.submit_service_job(**submit_args("q-a", "shape-3"))
    result = batch.terminate_service_jobs(jobs=[third["jobId"], "no-such-job"], reason="bulk")
    assert_output_shape("TerminateServiceJobs", raw["TerminateServiceJobs"])
    assert result["successful"] == [third["jobId"], "no-such-job"] and result["errors"] == []
    assert describe(batch, third["jobId"])["statusReason"] == "bulk"

    batch.update_job_queue(jobQueue="q-a", state="DISABLED")
    batch.delete_job_queue(jobQueue="q-a")
    assert_output_shape("DeleteJobQueue", raw["DeleteJobQueue"])
    assert batch.describe_job_queues(jobQueues=["q-a"])["jobQueues"] == []
    batch.update_service_environment(serviceEnvironment="env-a", state="DISABLED")
    batch.delete_service_environment(serviceEnvironment="env-a")
    assert_output_shape("DeleteServiceEnvironment", raw["DeleteServiceEnvironment"])
    assert (
        batch.describe_service_environments(serviceEnvironments=["env-a"])["serviceEnvironments"]
        == []
    )


def test_tags_on_service_job_arns(emu, batch):
    raw = capture_raw(batch)
    job = batch.submit_service_job(**submit_args(emu.queue_name, "tagged", tags={"a": "1"}))
    arn = job["jobArn"]
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert_output_shape("TagResource", raw["TagResource"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    assert_output_shape("ListTagsForResource", raw["ListTagsForResource"])
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert_output_shape("UntagResource", raw["UntagResource"])
    assert describe(batch, arn)["tags"] == {"b": "2"}
    with pytest.raises(ClientError) as err:
        batch.tag_resource(resourceArn=arn, tags={"x" * 129: "v"})
    code, status, message = error_of(err)
    assert (code, status) == ("ClientException", 400) and "tag keys must be 1-128" in message
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    with pytest.raises(ClientError) as err:
        batch.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert "at most 50" in error_of(err)[2]
    missing = arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as err:
        batch.list_tags_for_resource(resourceArn=missing)
    assert "does not exist" in error_of(err)[2]


def test_quota_share_operations_and_policy_shape(emu, batch):
    raw = capture_raw(batch)
    policy = batch.create_scheduling_policy(
        name="qs", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"}
    )
    described = batch.describe_scheduling_policies(arns=[policy["arn"]])["schedulingPolicies"][0]
    assert_output_shape("DescribeSchedulingPolicies", raw["DescribeSchedulingPolicies"])
    assert described["quotaSharePolicy"] == {"idleResourceAssignmentStrategy": "FIFO"}
    assert "fairsharePolicy" not in described
    batch.create_service_environment(
        serviceEnvironmentName="qs-env",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": 4, "capacityUnit": "NUM_INSTANCES"}],
    )
    queue = batch.create_job_queue(
        jobQueueName="qs-q",
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        schedulingPolicyArn=policy["arn"],
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "qs-env"}],
    )
    share = batch.create_quota_share(
        quotaShareName="team-a",
        jobQueue="qs-q",
        capacityLimits=[{"maxCapacity": 2, "capacityUnit": "ml.m5.xlarge"}],
        resourceSharingConfiguration={"strategy": "LEND_AND_BORROW", "borrowLimit": 50},
        preemptionConfiguration={"inSharePreemption": "DISABLED"},
    )
    assert_output_shape("CreateQuotaShare", raw["CreateQuotaShare"])
    got = batch.describe_quota_share(quotaShareArn=share["quotaShareArn"])
    assert_output_shape("DescribeQuotaShare", raw["DescribeQuotaShare"])
    assert (got["jobQueueArn"], got["state"], got["status"]) == (
        queue["jobQueueArn"],
        "ENABLED",
        "VALID",
    )
    listed = batch.list_quota_shares(jobQueue="qs-q")["quotaShares"]
    assert_output_shape("ListQuotaShares", raw["ListQuotaShares"])
    assert [s["quotaShareName"] for s in listed] == ["team-a"]
    job = batch.submit_service_job(**submit_args("qs-q", "quota-job", quotaShareName="team-a"))
    assert describe(batch, job["jobId"])["quotaShareName"] == "team-a"
    batch.update_quota_share(quotaShareArn=share["quotaShareArn"], state="DISABLED")
    assert_output_shape("UpdateQuotaShare", raw["UpdateQuotaShare"])
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args("qs-q", "quota-job-2", quotaShareName="team-a"))
    assert "quotaShareName" in error_of(err)[2] and "DISABLED" in error_of(err)[2]
    batch.delete_quota_share(quotaShareArn=share["quotaShareArn"])
    assert_output_shape("DeleteQuotaShare", raw["DeleteQuotaShare"])
    assert batch.list_quota_shares(jobQueue="qs-q")["quotaShares"] == []
    with pytest.raises(ClientError) as err:
        batch.describe_quota_share(quotaShareArn=share["quotaShareArn"])
    assert "does not exist" in error_of(err)[2]


def test_ordinary_queues_still_work_as_moto_does_them(emu, batch):
    role = emu.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName="ce-ecs", type="UNMANAGED", serviceRole=role
    )
    batch.create_job_queue(
        jobQueueName="ecs-q",
        priority=1,
        state="ENABLED",
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )
    names = {q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]}
    assert {"ecs-q", emu.queue_name} <= names
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args("ecs-q", "wrong-type"))
    code, status, message = error_of(err)
    assert (code, status) == ("ClientException", 400)
    assert "jobQueue" in message and "SAGEMAKER_TRAINING" in message


def test_unimplemented_operation_is_a_clear_400_at_once(emu, batch):
    with pytest.raises(ClientError) as err:
        batch.create_consumable_resource(consumableResourceName="gpu-licences")
    code, status, message = error_of(err)
    assert (code, status) == ("ClientException", 400)
    assert "not implemented" in message
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    assert emu.stats().get("CreateConsumableResource") == 1


def test_describe_by_unknown_id_is_not_found_as_the_provider_classifies_it(emu, batch):
    from airflow_batch_service.core.errors import ErrorKind, classify

    with pytest.raises(ClientError) as err:
        batch.describe_service_job(jobId="0f0f0f0f-0000-0000-0000-000000000000")
    code, status, message = error_of(err)
    assert classify(code, status, message) is ErrorKind.NOT_FOUND
    with pytest.raises(ClientError) as err:
        batch.terminate_service_job(jobId="0f0f0f0f-0000-0000-0000-000000000000", reason="x")
    assert classify(*error_of(err)) is ErrorKind.NOT_FOUND


def test_payload_json_round_trips(emu, batch):
    job = batch.submit_service_job(**submit_args(emu.queue_name, "payload"))
    payload = json.loads(describe(batch, job["jobId"])["serviceRequestPayload"])
    assert payload["ResourceConfig"]["InstanceCount"] == 2


def test_scheduling_policy_kinds_through_the_api(emu, batch):
    fair = batch.create_scheduling_policy(
        name="fair",
        fairsharePolicy={
            "shareDecaySeconds": 60,
            "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1.0}],
        },
    )
    quota = batch.create_scheduling_policy(
        name="quota", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"}
    )
    listed = {p["arn"] for p in batch.list_scheduling_policies()["schedulingPolicies"]}
    assert {fair["arn"], quota["arn"]} <= listed
    with pytest.raises(ClientError) as err:
        batch.create_scheduling_policy(
            name="both",
            fairsharePolicy={},
            quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"},
        )
    assert "quotaSharePolicy" in error_of(err)[2]
    with pytest.raises(ClientError) as err:
        batch.update_scheduling_policy(arn=quota["arn"], fairsharePolicy={"shareDecaySeconds": 1})
    assert "fairsharePolicy" in error_of(err)[2]
    batch.update_scheduling_policy(
        arn=quota["arn"], quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"}
    )
    batch.create_job_queue(
        jobQueueName="fair-q",
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        schedulingPolicyArn=fair["arn"],
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": f"{emu.queue_name}-env"}],
    )
    with pytest.raises(ClientError) as err:
        batch.submit_service_job(**submit_args("fair-q", "no-share"))
    assert "shareIdentifier" in error_of(err)[2]
    batch.submit_service_job(**submit_args("fair-q", "share", shareIdentifier="a"))
    batch.delete_scheduling_policy(arn=quota["arn"])
    assert quota["arn"] not in {
        p["arn"] for p in batch.list_scheduling_policies()["schedulingPolicies"]
    }


def test_describe_service_environments_pages(emu, batch):
    for i in range(3):
        batch.create_service_environment(
            serviceEnvironmentName=f"page-env-{i}",
            serviceEnvironmentType="SAGEMAKER_TRAINING",
            capacityLimits=[{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}],
        )
    pages = list(
        batch.get_paginator("describe_service_environments").paginate(
            PaginationConfig={"PageSize": 2}
        )
    )
    names = [e["serviceEnvironmentName"] for p in pages for e in p["serviceEnvironments"]]
    assert len(pages) == 2
    assert sorted(names) == sorted(
        [f"{emu.queue_name}-env", "page-env-0", "page-env-1", "page-env-2"]
    )
    with pytest.raises(ClientError) as err:
        batch.describe_service_environments(maxResults=101)
    assert error_of(err)[2].startswith("DescribeServiceEnvironments: maxResults")
