"""``core.operations``: the operations' argument rules, resource statuses, the task tag."""

from __future__ import annotations

import pytest

from airflow_batch_service.core.operations import (
    ResourceStatus,
    check_job_queue,
    check_service_environment,
    coerce_priority,
    create_environment_problems,
    normalize_job_ids,
    parse_task_tag,
    resource_status,
    selected_by_run,
    terminate_selection_problems,
    update_priority_problems,
)


def fields(problems):
    return [p.field for p in problems]


def test_priority_zero_is_valid_and_none_is_not():
    assert update_priority_problems("j", 0) == []
    assert update_priority_problems("j", 9999) == []
    assert fields(update_priority_problems("j", None)) == ["schedulingPriority"]
    assert fields(update_priority_problems("j", True)) == ["schedulingPriority"]
    assert fields(update_priority_problems(" ", 1)) == ["jobId"]
    assert coerce_priority(" 0 ") == 0 and coerce_priority("x") == "x" and coerce_priority(3) == 3


def test_job_ids_are_flattened_deduplicated_and_ordered():
    assert normalize_job_ids(None) == []
    assert normalize_job_ids("a") == ["a"]
    assert normalize_job_ids([["a", "b"], ("c", ["a"]), "d"]) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"job_ids": ["a"]}, []),
        ({"job_queue": "q", "job_name_prefix": "sweep-"}, []),
        ({"job_queue": "q", "run_id": "manual__x"}, []),
        ({"job_queue": "q", "run_id": "r", "submitting_task_ids": ["t"]}, []),
        ({}, ["jobs"]),
        ({"job_name_prefix": "p"}, ["jobQueue"]),
        ({"job_queue": "q", "job_name_prefix": "a*"}, ["jobNamePrefix"]),
        ({"job_queue": "q", "job_name_prefix": "x" * 128}, ["jobNamePrefix"]),
        ({"job_ids": [1]}, ["jobs[0]"]),
        ({"job_ids": ["a"], "submitting_task_ids": []}, ["taskIds", "taskIds"]),
        ({"job_ids": ["a"], "reason": ""}, ["reason"]),
    ],
)
def test_terminate_selection(kwargs, expected):
    args = {
        "job_ids": None,
        "job_queue": None,
        "job_name_prefix": None,
        "run_id": None,
        "reason": "why",
        **kwargs,
    }
    assert fields(terminate_selection_problems(**args)) == expected


def test_create_environment_rules():
    ok = {
        "name": "env-1",
        "environment_type": "SAGEMAKER_TRAINING",
        "state": "ENABLED",
        "capacity_limits": [{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}],
    }
    assert create_environment_problems(**ok) == []
    bad = create_environment_problems(
        name="x" * 129,
        environment_type="ECS",
        state="on",
        capacity_limits=[{"maxCapacity": 0, "capacityUnit": "", "extra": 1}, "junk"],
        tags={"k": "v" * 257},
    )
    assert fields(bad) == [
        "serviceEnvironmentName",
        "serviceEnvironmentType",
        "state",
        "capacityLimits[0]",
        "capacityLimits[0].maxCapacity",
        "capacityLimits[0].capacityUnit",
        "capacityLimits[1]",
        "tags['k']",
    ]


def test_statuses_as_the_amazon_sensors_read_them():
    assert resource_status("VALID") is ResourceStatus.READY
    assert resource_status("DELETED") is ResourceStatus.READY
    for status in ("CREATING", "UPDATING", "DELETING"):
        assert resource_status(status) is ResourceStatus.IN_PROGRESS
    for other in ("INVALID", None, "NEW"):
        assert resource_status(other) is ResourceStatus.FAILED


def test_checks_of_descriptions():
    env = {
        "serviceEnvironmentName": "e",
        "serviceEnvironmentArn": "arn:e",
        "status": "CREATING",
        "state": "ENABLED",
    }
    check = check_service_environment("e", env)
    assert check.outcome is ResourceStatus.IN_PROGRESS and "CREATING" in check.message
    assert check.summary == {
        "name": "e",
        "arn": "arn:e",
        "status": "CREATING",
        "state": "ENABLED",
        "statusReason": None,
    }
    missing = check_service_environment("e", None)
    assert missing.outcome is ResourceStatus.FAILED and "does not exist" in missing.message
    deleted = check_service_environment("e", None, treat_non_existing_as_deleted=True)
    assert deleted.outcome is ResourceStatus.READY and deleted.summary["status"] == "DELETED"
    queue = {
        "jobQueueName": "q",
        "jobQueueArn": "arn:q",
        "status": "INVALID",
        "statusReason": "no environment",
        "jobQueueType": "SAGEMAKER_TRAINING",
    }
    check = check_job_queue("q", queue)
    assert check.outcome is ResourceStatus.FAILED and "(no environment)" in check.message
    container = check_job_queue("q", {**queue, "jobQueueType": None, "status": "VALID"})
    assert (
        container.outcome is ResourceStatus.FAILED
        and "not a SAGEMAKER_TRAINING" in container.message
    )


def test_task_tag_parsing():
    assert parse_task_tag("d:t:manual__2026-11-24T08:17:26+00:00:3") == (
        "d",
        "t",
        "manual__2026-11-24T08:17:26+00:00",
        3,
    )
    assert parse_task_tag("d:t:r:-1") == ("d", "t", "r", -1)
    for bad in (None, "", "d:t", "d:t:r", "d::r:1", "d:t:r:x", "d:t::1"):
        assert parse_task_tag(bad) is None, bad


def test_parse_matches_what_durable_submission_writes():
    from airflow_batch_service.core.durable import TaskKey

    key = TaskKey("my_dag", "train", "manual__2026-11-24T08:17:26.273129+00:00", 7)
    assert parse_task_tag(key.tag_value()) == ("my_dag", "train", key.run_id, 7)


@pytest.mark.parametrize(
    ("tag", "task_ids", "selected"),
    [
        ("my_dag:train:manual__2026-01-01T00:00:00+00:00:3", None, True),
        ("my_dag:train:manual__2026-01-01T00:00:00+00:00:-1", ["train"], True),
        ("my_dag:train:manual__2026-01-01T00:00:00+00:00:3", ["other"], False),
        ("my_dag:train:manual__2026-01-02T00:00:00+00:00:3", None, False),  # another run
        ("other_dag:train:manual__2026-01-01T00:00:00+00:00:3", None, False),
        ("my_dag:train:manual__2026-01-01T00:00:00+00:00", None, False),  # not a tag
        (None, None, False),
    ],
)
def test_selected_by_run(tag, task_ids, selected):
    run = "manual__2026-01-01T00:00:00+00:00"
    assert selected_by_run(tag, dag_id="my_dag", run_id=run, task_ids=task_ids) is selected


def test_selected_by_run_compares_the_sanitized_tag_not_the_parsed_ids():
    from airflow_batch_service.core.task_tag import TaskKey

    run = "scheduled__2026-01-01T00:00:00+00:00~1"  # '~' is written as '_'
    tag = TaskKey("d", "t", run, 0).tag_value()
    key = parse_task_tag(tag)
    assert key is not None and key.run_id != run
    assert selected_by_run(tag, dag_id="d", run_id=run)
    assert not selected_by_run(tag, dag_id="d", run_id=run[:-1] + "2")
