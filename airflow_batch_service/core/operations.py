"""The rules behind the operations a platform team runs on service jobs and their resources.

Pure (standard library, ``core.validation`` and ``core.task_tag`` only): what the operations
operators check before any AWS call, and what a service environment's or job queue's status
means for a sensor waiting on it.

- :func:`update_priority_problems`: UpdateServiceJob's arguments (priority 0-9999; 0 is real).
- :func:`terminate_selection_problems`: which jobs a ``BatchTerminateServiceJobsOperator``
  may select, and that it selects at all.
- :func:`create_environment_problems`: CreateServiceEnvironment's documented bounds.
- :func:`resource_status` / :data:`READY`, :data:`IN_PROGRESS`, :data:`FAILED`: what a
  ``status`` of DescribeServiceEnvironments or DescribeJobQueues means.
- :func:`selected_by_run`: whether a job's task tag (``core.task_tag``, written by durable
  submission) names a task of the DAG run a ``BatchTerminateServiceJobsOperator`` selects.
  (``parse_task_tag`` is importable from here too; it lives in ``core.task_tag``.)
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any

from airflow_batch_service.core.task_tag import TaskKey, format_task_tag, parse_task_tag
from airflow_batch_service.core.validation import (
    JOB_NAME_RE,
    MAX_JOB_NAME,
    Problem,
    objects_in,
    priority_problems,
    tags_problems,
)

#: ``serviceEnvironmentName``: 1-128 letters, digits, ``-``, ``_``.
ENVIRONMENT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
SERVICE_ENVIRONMENT_TYPES = ("SAGEMAKER_TRAINING",)
RESOURCE_STATES = ("ENABLED", "DISABLED")
#: TerminateServiceJob(s)'s ``reason``: the API does not document a bound; 1,000 characters
#: is what this provider sends at most everywhere (the trigger's kill reason likewise).
MAX_REASON = 1000


class ResourceStatus(StrEnum):
    """What a service environment's or job queue's ``status`` means to a waiting sensor."""

    READY = "ready"  # VALID (or DELETED: the wait for a deletion is over)
    IN_PROGRESS = "in_progress"  # CREATING, UPDATING, DELETING: ask again later
    FAILED = "failed"  # INVALID, or a status nobody documented


#: Statuses that end a wait successfully, as the amazon provider's Batch sensors treat them.
READY = ("VALID", "DELETED")
IN_PROGRESS = ("CREATING", "UPDATING", "DELETING")
FAILED = ("INVALID",)


def resource_status(status: Any) -> ResourceStatus:
    """``VALID``/``DELETED`` ready, ``CREATING``/``UPDATING``/``DELETING`` in progress, anything
    else (``INVALID``, missing, unknown) failed."""
    if status in READY:
        return ResourceStatus.READY
    if status in IN_PROGRESS:
        return ResourceStatus.IN_PROGRESS
    return ResourceStatus.FAILED


def _non_empty_str(out: list[Problem], field: str, value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        out.append(Problem(field, f"must be a non-empty string, got {value!r}"))
        return False
    return True


def coerce_priority(value: Any) -> Any:
    """A rendered template (``"0"``, ``" 42 "``) as the int it spells; anything else as is."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def update_priority_problems(job_id: Any, scheduling_priority: Any) -> list[Problem]:
    """UpdateServiceJob: ``jobId`` a non-empty string, ``schedulingPriority`` 0-9999.

    ``None`` is refused (the API requires the field); ``0`` is a real priority, the lowest.
    """
    out: list[Problem] = []
    _non_empty_str(out, "jobId", job_id)
    if scheduling_priority is None:
        out.append(Problem("schedulingPriority", "is required (an integer 0-9999; 0 is valid)"))
    else:
        out.extend(priority_problems(scheduling_priority))
    return out


def normalize_job_ids(value: Any) -> list[Any]:
    """Job ids as given: a list (nested lists, e.g. a mapped submit's outputs, flattened), a
    single id, or None. Order kept, duplicates dropped; items are not checked here."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return list(dict.fromkeys(out))


def terminate_selection_problems(
    *,
    job_ids: Any,
    job_queue: Any,
    job_name_prefix: Any,
    run_id: Any,
    reason: Any,
    submitting_task_ids: Any = None,
) -> list[Problem]:
    """What ``BatchTerminateServiceJobsOperator`` needs before it lists or terminates anything.

    At least one selector (``job_ids``, ``job_name_prefix``, ``run_id``); a queue for the two
    that list one; ids non-empty strings; a prefix of job-name characters without ``*`` (the
    operator adds it); a non-empty reason.
    """
    out: list[Problem] = []
    ids = normalize_job_ids(job_ids) if not isinstance(job_ids, Mapping) else None
    if ids is None:
        out.append(
            Problem("jobs", f"must be a job id or a list of job ids, got {type(job_ids).__name__}")
        )
        ids = []
    for index, job_id in enumerate(ids):
        if not isinstance(job_id, str) or not job_id.strip():
            out.append(
                Problem(f"jobs[{index}]", f"must be a non-empty job id string, got {job_id!r}")
            )
    listing = job_name_prefix is not None or run_id is not None
    if not ids and not listing:
        out.append(
            Problem(
                "jobs",
                "nothing selects a job: give job ids, or a {jobQueue} with a job-name prefix "
                "and/or the run id that submitted the jobs",
            )
        )
    if listing and not (isinstance(job_queue, str) and job_queue.strip()):
        out.append(
            Problem("jobQueue", "is required to select jobs by job-name prefix or by run id")
        )
    prefix_ok = job_name_prefix is not None and _non_empty_str(
        out, "jobNamePrefix", job_name_prefix
    )
    if prefix_ok and (
        not JOB_NAME_RE.fullmatch(job_name_prefix) or len(job_name_prefix) >= MAX_JOB_NAME
    ):
        out.append(
            Problem(
                "jobNamePrefix",
                "must be 1-127 letters, digits, '-' or '_' (the start of a job name; no "
                f"'*', it is added), got {job_name_prefix!r}",
            )
        )
    if run_id is not None:
        _non_empty_str(out, "runId", run_id)
    if submitting_task_ids is not None:
        tasks = normalize_job_ids(submitting_task_ids)
        if run_id is None:
            out.append(Problem("taskIds", "selects among the jobs of a run: give {runId} too"))
        if not tasks or not all(isinstance(t, str) and t for t in tasks):
            out.append(Problem("taskIds", "must be a task id or a non-empty list of task ids"))
    if _non_empty_str(out, "reason", reason) and len(reason) > MAX_REASON:
        out.append(Problem("reason", f"at most {MAX_REASON} characters, got {len(reason)}"))
    return out


def capacity_limits_problems(value: Any, path: str = "capacityLimits") -> list[Problem]:
    """``[{maxCapacity: int >= 1, capacityUnit: str}]``, at least one entry."""
    if not isinstance(value, list | tuple) or not value:
        return [
            Problem(
                path,
                'must be a non-empty list of {"maxCapacity": n, "capacityUnit": "NUM_INSTANCES"}',
            )
        ]
    out: list[Problem] = []
    allowed = ("capacityUnit", "maxCapacity")
    for where, item in objects_in(out, value, path, allowed, "must be an object"):
        cap = item.get("maxCapacity")
        if isinstance(cap, bool) or not isinstance(cap, int):
            out.append(Problem(f"{where}.maxCapacity", f"must be an integer, got {cap!r}"))
        elif cap < 1:
            out.append(Problem(f"{where}.maxCapacity", f"must be at least 1, got {cap}"))
        unit = item.get("capacityUnit")
        if not isinstance(unit, str) or not unit:
            out.append(
                Problem(
                    f"{where}.capacityUnit",
                    f"must be a string (NUM_INSTANCES, or an instance type), got {unit!r}",
                )
            )
    return out


def create_environment_problems(
    *,
    name: Any,
    environment_type: Any,
    state: Any,
    capacity_limits: Any,
    tags: Any = None,
) -> list[Problem]:
    """CreateServiceEnvironment: name, type, state, capacity limits and tags."""
    out: list[Problem] = []
    if not isinstance(name, str) or not ENVIRONMENT_NAME_RE.fullmatch(name):
        out.append(
            Problem(
                "serviceEnvironmentName", f"must be 1-128 letters, digits, '-' or '_', got {name!r}"
            )
        )
    if environment_type not in SERVICE_ENVIRONMENT_TYPES:
        out.append(
            Problem(
                "serviceEnvironmentType",
                f"must be one of {', '.join(SERVICE_ENVIRONMENT_TYPES)}, got {environment_type!r}",
            )
        )
    if state is not None and state not in RESOURCE_STATES:
        out.append(Problem("state", f"must be ENABLED or DISABLED, got {state!r}"))
    out.extend(capacity_limits_problems(capacity_limits))
    if tags is not None:
        out.extend(tags_problems(tags))
    return out


def selected_by_run(
    tag: Any, *, dag_id: str, run_id: str, task_ids: Collection[str] | None = None
) -> bool:
    """Whether a job whose task tag (``core.task_tag``) is ``tag`` was submitted by the DAG run
    ``dag_id``/``run_id``, and by one of ``task_ids`` when they are given.

    ``BatchTerminateServiceJobsOperator``'s ``run_id`` selection. The tag holds sanitized ids,
    so the wanted run's tag (with the task id and map index the tag names) is formatted and
    compared to it: the parsed DAG and run ids are never compared themselves. A shortened tag
    cannot be read back, so its job is not selected.
    """
    key = parse_task_tag(tag)
    if key is None:
        return False
    if task_ids is not None and key.task_id not in task_ids:
        return False
    return format_task_tag(TaskKey(dag_id, key.task_id, run_id, key.map_index)) == tag


SAGEMAKER_TRAINING = "SAGEMAKER_TRAINING"


class ResourceCheck:
    """One look at a service environment or job queue: what it means and what to report.

    ``outcome`` is a :class:`ResourceStatus`; ``message`` says it in words (the log line, or
    the failure's explanation); ``summary`` is the JSON-able XCom value of a finished wait
    (``name``, ``arn``, ``status``, ``state``, ``statusReason``; empty when it does not exist).
    """

    __slots__ = ("message", "outcome", "summary")

    def __init__(self, outcome: ResourceStatus, message: str, summary: dict[str, Any]) -> None:
        self.outcome = outcome
        self.message = message
        self.summary = summary

    def __repr__(self) -> str:
        return f"ResourceCheck({self.outcome.value!r}, {self.message!r})"


def _summary(description: Mapping[str, Any], name_key: str, arn_key: str) -> dict[str, Any]:
    return {
        "name": description.get(name_key),
        "arn": description.get(arn_key),
        "status": description.get("status"),
        "state": description.get("state"),
        "statusReason": description.get("statusReason"),
    }


def _check(
    what: str,
    identifier: str,
    description: Mapping[str, Any] | None,
    summary: dict[str, Any],
    treat_non_existing_as_deleted: bool,
) -> ResourceCheck:
    if description is None:
        if treat_non_existing_as_deleted:
            return ResourceCheck(
                ResourceStatus.READY,
                f"{what} {identifier} does not exist: counted as deleted "
                "(treat_non_existing_as_deleted)",
                {
                    "name": identifier,
                    "arn": None,
                    "status": "DELETED",
                    "state": None,
                    "statusReason": None,
                },
            )
        return ResourceCheck(
            ResourceStatus.FAILED,
            f"{what} {identifier} does not exist: check the name (or ARN) and the connection's "
            "region",
            {},
        )
    status = description.get("status")
    reason = description.get("statusReason")
    because = f" ({reason})" if reason else ""
    outcome = resource_status(status)
    state = description.get("state")
    if outcome is ResourceStatus.READY:
        message = f"{what} {identifier} is {status} (state {state})"
    elif outcome is ResourceStatus.IN_PROGRESS:
        message = f"{what} {identifier} is {status}{because}: waiting"
    else:
        message = f"{what} {identifier} is {status}{because}: it will not become VALID by waiting"
    return ResourceCheck(outcome, message, summary)


def check_service_environment(
    identifier: str,
    description: Mapping[str, Any] | None,
    *,
    treat_non_existing_as_deleted: bool = False,
) -> ResourceCheck:
    """A DescribeServiceEnvironments entry (or None: not found) for a waiting sensor."""
    summary = (
        _summary(description, "serviceEnvironmentName", "serviceEnvironmentArn")
        if description is not None
        else {}
    )
    return _check(
        "service environment", identifier, description, summary, treat_non_existing_as_deleted
    )


def check_job_queue(
    identifier: str,
    description: Mapping[str, Any] | None,
    *,
    treat_non_existing_as_deleted: bool = False,
) -> ResourceCheck:
    """A DescribeJobQueues entry (or None) for a waiting sensor. A queue that is not
    ``SAGEMAKER_TRAINING`` fails: it can never take service jobs."""
    if description is not None and description.get("jobQueueType") != SAGEMAKER_TRAINING:
        kind = description.get("jobQueueType") or "a container-job queue (no jobQueueType)"
        return ResourceCheck(
            ResourceStatus.FAILED,
            f"job queue {identifier} is {kind}, not a SAGEMAKER_TRAINING queue: service jobs "
            "cannot use it",
            {},
        )
    summary = (
        _summary(description, "jobQueueName", "jobQueueArn") if description is not None else {}
    )
    return _check("job queue", identifier, description, summary, treat_non_existing_as_deleted)
