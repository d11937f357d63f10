"""What the operations operators do when they run (``operators.service_operations`` declares
them; each entry point imports this module when it runs, never at DAG parsing).

- checking arguments before any call (``core.operations``) and naming them in the failure;
- one AWS call that AWS may refuse: a refusal (HTTP 400, not a throttle, per ``core.errors``)
  fails without retries, with AWS's words;
- the three operations: UpdateServiceJob, TerminateServiceJobs (and choosing the jobs on a
  queue), CreateServiceEnvironment and the wait for ``VALID`` (``core.resource_wait``, on the
  worker or in the triggerer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_batch_service._shared.resource_waiting import Calls, finish, run
from airflow_batch_service._shared.waiting import connection_args
from airflow_batch_service.core.errors import (
    ErrorKind,
    classify,
    classify_exception,
    error_response,
)
from airflow_batch_service.core.operations import (
    coerce_priority,
    create_environment_problems,
    normalize_job_ids,
    selected_by_run,
    terminate_selection_problems,
    update_priority_problems,
)
from airflow_batch_service.core.resource_wait import (
    SERVICE_ENVIRONMENT,
    ResourceOutcome,
    ResourceWait,
    resource_flow,
)
from airflow_batch_service.core.status import IN_PROGRESS_STATUSES
from airflow_batch_service.core.strict_json import strict_json
from airflow_batch_service.core.task_tag import TASK_TAG
from airflow_batch_service.links.batch_service import BatchServiceJobDetailsLink
from airflow_batch_service.links.service_operations import (
    BatchServiceEnvironmentLink,
    persist_quietly,
)
from airflow_batch_service.triggers.service_operations import BatchServiceEnvironmentTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.core.validation import Problem
    from airflow_batch_service.operators.service_operations import (
        BatchCreateServiceEnvironmentOperator,
        BatchTerminateServiceJobsOperator,
        BatchUpdateServiceJobPriorityOperator,
    )

# -- shared by the three ----------------------------------------------------------------------


def describe_problems(problems: Sequence[Problem], arguments: Mapping[str, str]) -> str:
    """``Invalid arguments; nothing was called:`` and one line per problem, each naming the
    operator argument and the API field (``job_ids (jobs[1]): ...``)."""

    def named(field: str) -> str:
        head = field.split(".", 1)[0].split("[", 1)[0]
        argument = arguments.get(head)
        return f"{argument} ({field})" if argument and argument != field else field

    lines = [f"  - {named(p.field)}: {p.text(named)}" for p in problems]
    return "Invalid arguments; nothing was called:\n" + "\n".join(lines)


def fail_on_problems(operator: Any, problems: Sequence[Problem]) -> None:
    if not problems:
        return
    message = describe_problems(problems, operator.ARGUMENTS)
    operator.log.error(message)
    raise AirflowFailException(message)


def maybe_json(value: Any) -> Any:
    """A rendered template (a JSON string) as the list or dict it spells; anything else as is."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def call(what: str, request: Callable[[], Any]) -> Any:
    """Make one AWS call: a refusal (HTTP 400, not a throttle) fails without retries, with
    AWS's own message; anything else propagates (Airflow's ``retries`` apply)."""
    try:
        return request()
    except Exception as exc:
        code, status, message = error_response(exc) or (None, None, str(exc))
        if status == 400 and not classify(code, status, message).retryable:
            raise AirflowFailException(f"{what} was refused: {code}: {message}") from exc
        raise


def persist_link(operator: Any, context: Context, link: Any, **ids: str) -> None:
    persist_quietly(
        link,
        context,
        operator,
        region_name=operator.hook.conn_region_name,
        aws_partition=operator.hook.conn_partition,
        **ids,
    )


# -- UpdateServiceJob -------------------------------------------------------------------------


def update_priority(op: BatchUpdateServiceJobPriorityOperator, context: Context) -> str:
    priority = coerce_priority(op.scheduling_priority)
    fail_on_problems(op, update_priority_problems(op.job_id, priority))
    response = call(
        f"UpdateServiceJob of {op.job_id}",
        lambda: op.hook.update_service_job_priority(op.job_id, priority),
    )
    job_id = str(response.get("jobId") or op.job_id)
    op.log.info(
        "Service job %s (%s): schedulingPriority is now %d",
        job_id,
        response.get("jobName"),
        priority,
    )
    persist_link(op, context, BatchServiceJobDetailsLink, job_id=job_id)
    return job_id


# -- TerminateServiceJobs ---------------------------------------------------------------------


def _default_reason(op: BatchTerminateServiceJobsOperator, context: Context) -> str:
    run_id = context.get("run_id") or getattr(context.get("ti"), "run_id", None)
    return f"Airflow task {op.dag_id}.{op.task_id} (run {run_id}) terminated it"


def terminate(op: BatchTerminateServiceJobsOperator, context: Context) -> dict[str, Any]:
    """Select the jobs, terminate them (unless ``report_only``) and return the report, as
    strict JSON (``core.strict_json``): Airflow stores it, and it carries AWS's words (job
    names, TerminateServiceJobs' errors)."""
    return dict(strict_json(_terminate(op, context)))


def _terminate(op: BatchTerminateServiceJobsOperator, context: Context) -> dict[str, Any]:
    job_ids = maybe_json(op.job_ids)
    task_ids = maybe_json(op.submitting_task_ids)
    reason = op.reason if op.reason is not None else _default_reason(op, context)
    problems = terminate_selection_problems(
        job_ids=job_ids,
        job_queue=op.job_queue,
        job_name_prefix=op.job_name_prefix,
        run_id=op.run_id,
        reason=reason,
        submitting_task_ids=task_ids,
    )
    fail_on_problems(op, problems)

    selected: dict[str, dict[str, Any]] = {
        str(job_id): {"jobId": job_id, "jobName": None, "status": None, "selectedBy": "job_ids"}
        for job_id in normalize_job_ids(job_ids)
    }
    if op.job_name_prefix is not None or op.run_id is not None:
        for job in _select_on_queue(op, normalize_job_ids(task_ids) if task_ids else None):
            selected.setdefault(job["jobId"], job)
    jobs = list(selected.values())
    report: dict[str, Any] = {
        "terminated": [],
        "errors": [],
        "jobs": jobs,
        "reportOnly": op.report_only,
    }
    if not jobs:
        op.log.info("No service job matches the selection: nothing to terminate")
        return report
    for job in jobs:
        op.log.info(
            "%s %s (%s, %s; selected by %s)",
            "Would terminate" if op.report_only else "Terminating",
            job["jobId"],
            job["jobName"] or "name not read",
            job["status"] or "status not read",
            job["selectedBy"],
        )
    if op.report_only:
        return report
    result = call(
        "TerminateServiceJobs",
        lambda: op.hook.terminate_service_jobs([j["jobId"] for j in jobs], reason=reason),
    )
    report["terminated"] = list(result.get("successful", []))
    report["errors"] = list(result.get("errors", []))
    op.log.info(
        "Terminated %d of %d selected service job(s) (reason: %s)",
        len(report["terminated"]),
        len(jobs),
        reason,
    )
    if report["errors"] and op.fail_on_error:
        if op.do_xcom_push:
            context["ti"].xcom_push(key="report", value=strict_json(report))
        raise AirflowException(
            f"{len(report['errors'])} of {len(jobs)} service job(s) could not be terminated "
            f"(the others were): {report['errors']}; the report is in XCom key 'report'"
        )
    return report


def _candidates(op: BatchTerminateServiceJobsOperator) -> Iterator[dict[str, Any]]:
    """Unfinished job summaries on the queue (by name prefix when given)."""
    active = {s.value for s in IN_PROGRESS_STATUSES}
    queue = str(op.job_queue)
    if op.job_name_prefix is not None:
        # A JOB_NAME filter makes ListServiceJobs ignore jobStatus: every status comes back.
        summaries = op.hook.list_service_jobs(
            job_queue=queue,
            filters=[{"name": "JOB_NAME", "values": [f"{op.job_name_prefix}*"]}],
        )
        for summary in summaries:
            if summary.get("status") in active:
                yield summary
        return
    seen: set[str] = set()
    for status in sorted(active):  # without a filter, one status per call
        for summary in op.hook.list_service_jobs(job_queue=queue, job_status=status):
            job_id = str(summary.get("jobId"))
            if job_id not in seen:
                seen.add(job_id)
                yield summary


def _select_on_queue(
    op: BatchTerminateServiceJobsOperator, task_ids: list[Any] | None
) -> list[dict[str, Any]]:
    by = "job_name_prefix" if op.job_name_prefix is not None else ""
    if op.run_id is not None:
        by = f"{by} and run_id" if by else "run_id"
    out: list[dict[str, Any]] = []
    candidates = list(_candidates(op))
    if op.run_id is not None:
        op.log.info(
            "Reading the task tag of %d unfinished job(s) on %s (one DescribeServiceJob each)",
            len(candidates),
            op.job_queue,
        )
    for summary in candidates:
        if op.run_id is not None and not _submitted_by_run(op, summary["jobId"], task_ids):
            continue
        out.append(
            {
                "jobId": summary["jobId"],
                "jobName": summary.get("jobName"),
                "status": summary.get("status"),
                "selectedBy": by,
            }
        )
    return out


def _submitted_by_run(
    op: BatchTerminateServiceJobsOperator, job_id: str, task_ids: list[Any] | None
) -> bool:
    try:
        tags = op.hook.describe_service_job(job_id).get("tags") or {}
    except Exception as exc:
        mapped = classify_exception(exc)
        if mapped is not None and mapped[0] is ErrorKind.NOT_FOUND:
            return False  # gone since the listing
        raise
    return selected_by_run(
        tags.get(TASK_TAG),
        dag_id=str(op.submitting_dag_id or op.dag_id),
        run_id=str(op.run_id),
        task_ids=task_ids,
    )


# -- CreateServiceEnvironment -----------------------------------------------------------------

#: The start of a deferred wait's failure, as the amazon provider's compute-environment one.
NOT_READY = "Error while waiting for the service environment to be ready: "


def environment_request(op: BatchCreateServiceEnvironmentOperator) -> dict[str, Any]:
    """The validated CreateServiceEnvironment request (``AirflowFailException`` if not)."""
    request = {
        "serviceEnvironmentName": op.service_environment_name,
        "serviceEnvironmentType": op.service_environment_type,
        "state": op.state,
        "capacityLimits": maybe_json(op.capacity_limits),
        "tags": maybe_json(op.tags),
    }
    problems = create_environment_problems(
        name=request["serviceEnvironmentName"],
        environment_type=request["serviceEnvironmentType"],
        state=request["state"],
        capacity_limits=request["capacityLimits"],
        tags=request["tags"],
    )
    fail_on_problems(op, problems)
    return {k: v for k, v in request.items() if v is not None}


def create_environment(op: BatchCreateServiceEnvironmentOperator, context: Context) -> str:
    request = op.build_request()
    response = call(
        f"CreateServiceEnvironment {request['serviceEnvironmentName']}",
        lambda: op.hook.create_service_environment(request),
    )
    arn = str(response["serviceEnvironmentArn"])
    op.log.info("Created service environment %s: %s", request["serviceEnvironmentName"], arn)
    persist_link(op, context, BatchServiceEnvironmentLink, service_environment_arn=arn)
    if op.deferrable:
        op.defer(
            trigger=BatchServiceEnvironmentTrigger(
                service_environment=arn,
                poll_interval=op.poll_interval,
                max_attempts=op.max_retries,
                **connection_args(op),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=op.max_retries * op.poll_interval + 60),
        )
    if op.wait_for_completion:
        wait = ResourceWait(
            SERVICE_ENVIRONMENT, arn, poll_interval=op.poll_interval, max_attempts=op.max_retries
        )
        calls = Calls(op.hook)
        finish(run(resource_flow(wait), calls, op.log), op.log, sensor=False, calls=calls)
    return arn


def environment_ready(
    op: BatchCreateServiceEnvironmentOperator, event: Mapping[str, Any] | None
) -> str:
    """The trigger's event -> the ARN, or the exception (a timeout may be retried)."""
    summary = finish(ResourceOutcome.from_event(event), op.log, sensor=False, prefix=NOT_READY)
    return str(summary.get("arn"))
