"""Operators for running service jobs as a platform team: priorities, bulk stops, environments.

- ``BatchUpdateServiceJobPriorityOperator``: UpdateServiceJob, a queued job's
  ``schedulingPriority`` (0-9999; 0 is a real value, sent as such).
- ``BatchTerminateServiceJobsOperator``: stop many jobs in one task (TerminateServiceJobs, 50
  per call), chosen by id, by the DAG run that submitted them (the ``airflow-batch-service:task``
  tag durable submission writes on every job), and/or by a job-name prefix on a queue; it
  reports which it stopped. Its natural place is a cleanup task with
  ``trigger_rule="one_failed"`` after a sweep.
- ``BatchCreateServiceEnvironmentOperator``: CreateServiceEnvironment, mirroring the amazon
  provider's ``BatchCreateComputeEnvironmentOperator`` (returns the ARN; ``deferrable=True``
  waits for ``VALID`` in the triggerer), plus ``wait_for_completion`` to wait on the worker.

Every argument is checked before any AWS call (``core.operations``): a bad one fails the task
with ``AirflowFailException`` naming the argument, the API field and the rule, and nothing is
called. A request AWS refuses (HTTP 400) fails without Airflow retries, with AWS's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import BatchServiceJobDetailsLink
from airflow_batch_service.links.service_operations import (
    BatchServiceEnvironmentLink,
    persist_quietly,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.core.validation import Problem


def describe_problems(problems: Sequence[Problem], arguments: Mapping[str, str]) -> str:
    """``Invalid arguments; nothing was called:`` and one line per problem, each naming the
    operator argument and the API field (``job_ids (jobs[1]): ...``)."""

    def named(field: str) -> str:
        head = field.split(".", 1)[0].split("[", 1)[0]
        argument = arguments.get(head)
        return f"{argument} ({field})" if argument and argument != field else field

    lines = [f"  - {named(p.field)}: {p.text(named)}" for p in problems]
    return "Invalid arguments; nothing was called:\n" + "\n".join(lines)


def _fail_on_problems(
    operator: Any, problems: Sequence[Problem], arguments: Mapping[str, str]
) -> None:
    if not problems:
        return
    from airflow.providers.common.compat.sdk import AirflowFailException

    message = describe_problems(problems, arguments)
    operator.log.error(message)
    raise AirflowFailException(message)


def _maybe_json(value: Any) -> Any:
    """A rendered template (a JSON string) as the list or dict it spells; anything else as is."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _call(what: str, call: Callable[[], Any]) -> Any:
    """Make one AWS call: a refusal (HTTP 400, not a throttle) fails without retries, with
    AWS's own message; anything else propagates (Airflow's ``retries`` apply)."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    from airflow_batch_service.core.errors import classify, error_response

    try:
        return call()
    except Exception as exc:
        code, status, message = error_response(exc) or (None, None, str(exc))
        if status == 400 and not classify(code, status, message).retryable:
            raise AirflowFailException(f"{what} was refused: {code}: {message}") from exc
        raise


# -- UpdateServiceJob -------------------------------------------------------------------------


class BatchUpdateServiceJobPriorityOperator(AwsBaseOperator[BatchServiceJobHook]):
    """Change a queued service job's scheduling priority (UpdateServiceJob).

    Priority orders RUNNABLE jobs on fair-share and quota-share queues (higher first) and
    decides in-share preemption candidates; on a FIFO queue it has no effect.

    :param job_id: the jobId or ARN (templated; e.g. ``submit.output``).
    :param scheduling_priority: ``schedulingPriority``, 0-9999 (templated; a rendered string of
        digits is converted). ``0`` is a real value, the lowest priority, and is sent.
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.

    Returns the jobId. A job that already finished, or does not exist, fails the task with
    ``AirflowFailException`` and AWS's message.
    """

    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    template_fields: Sequence[str] = aws_template_fields("job_id", "scheduling_priority")
    operator_extra_links = (BatchServiceJobDetailsLink(),)
    ARGUMENTS = {"jobId": "job_id", "schedulingPriority": "scheduling_priority"}

    def __init__(self, *, job_id: str, scheduling_priority: int | str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.scheduling_priority = scheduling_priority

    def execute(self, context: Context) -> str:
        from airflow_batch_service.core.operations import coerce_priority, update_priority_problems

        priority = coerce_priority(self.scheduling_priority)
        _fail_on_problems(self, update_priority_problems(self.job_id, priority), self.ARGUMENTS)
        response = _call(
            f"UpdateServiceJob of {self.job_id}",
            lambda: self.hook.update_service_job_priority(self.job_id, priority),
        )
        job_id = str(response.get("jobId") or self.job_id)
        self.log.info(
            "Service job %s (%s): schedulingPriority is now %d",
            job_id,
            response.get("jobName"),
            priority,
        )
        persist_quietly(
            BatchServiceJobDetailsLink,
            context,
            self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_id=job_id,
        )
        return job_id


# -- TerminateServiceJobs ---------------------------------------------------------------------


class BatchTerminateServiceJobsOperator(AwsBaseOperator[BatchServiceJobHook]):
    """Terminate many service jobs in one task, and report which were stopped.

    Jobs are selected by any combination of:

    - ``job_ids``: ids (or ARNs) given directly, e.g. a mapped submit task's ``output`` (a
      list, nested lists flattened); sent as they are.
    - ``job_name_prefix`` on ``job_queue``: the queue's unfinished jobs whose name starts with
      it (ListServiceJobs' ``JOB_NAME`` filter, ``prefix*``).
    - ``run_id`` on ``job_queue``: the queue's unfinished jobs that a task of this DAG
      (``submitting_dag_id``) submitted in that DAG run, read from the
      ``airflow-batch-service:task`` tag durable submission writes on every job (ListServiceJobs
      returns no tags, so each candidate is described once; give a ``job_name_prefix`` too to
      describe fewer). ``submitting_task_ids`` narrows it to some tasks.

    Given together, ``job_name_prefix`` and ``run_id`` both apply; ``job_ids`` are added.
    Finished jobs (SUCCEEDED, FAILED) found on the queue are left alone.

    :param job_ids: jobIds or ARNs (templated).
    :param job_queue: the queue to search (name or ARN; templated); required with
        ``job_name_prefix`` or ``run_id``.
    :param job_name_prefix: the start of the job names to stop (templated; no ``*``).
    :param run_id: the DAG run whose jobs to stop (templated; usually ``"{{ run_id }}"``).
    :param submitting_dag_id: the DAG whose tasks submitted them (default: this task's DAG).
    :param submitting_task_ids: only jobs these task ids submitted (with ``run_id``).
    :param reason: the ``reason`` Batch records on each job (templated). Default: names this
        task and its run.
    :param report_only: select and report, terminate nothing (a dry run).
    :param fail_on_error: fail the task (after terminating the rest and pushing the
        report) when TerminateServiceJobs reports errors for some jobs (default True).
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.

    Returns (XCom) ``{"terminated": [jobId, ...], "errors": [{job, code, message}],
    "jobs": [{"jobId", "jobName", "status", "selectedBy"}], "reportOnly": bool}``; ``terminated``
    is what TerminateServiceJobs reported successful (AWS counts unknown ids as successful).
    """

    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    template_fields: Sequence[str] = aws_template_fields(
        "job_ids",
        "job_queue",
        "job_name_prefix",
        "run_id",
        "submitting_dag_id",
        "submitting_task_ids",
        "reason",
    )
    ARGUMENTS = {
        "jobs": "job_ids",
        "jobQueue": "job_queue",
        "jobNamePrefix": "job_name_prefix",
        "runId": "run_id",
        "taskIds": "submitting_task_ids",
        "reason": "reason",
    }

    def __init__(
        self,
        *,
        job_ids: Sequence[str] | str | None = None,
        job_queue: str | None = None,
        job_name_prefix: str | None = None,
        run_id: str | None = None,
        submitting_dag_id: str | None = None,
        submitting_task_ids: Sequence[str] | str | None = None,
        reason: str | None = None,
        report_only: bool = False,
        fail_on_error: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_ids = job_ids
        self.job_queue = job_queue
        self.job_name_prefix = job_name_prefix
        self.run_id = run_id
        self.submitting_dag_id = submitting_dag_id
        self.submitting_task_ids = submitting_task_ids
        self.reason = reason
        self.report_only = report_only
        self.fail_on_error = fail_on_error

    def _default_reason(self, context: Context) -> str:
        run = context.get("run_id") or getattr(context.get("ti"), "run_id", None)
        return f"Airflow task {self.dag_id}.{self.task_id} (run {run}) terminated it"

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import AirflowException

        from airflow_batch_service.core.operations import (
            normalize_job_ids,
            terminate_selection_problems,
        )

        job_ids = _maybe_json(self.job_ids)
        task_ids = _maybe_json(self.submitting_task_ids)
        reason = self.reason if self.reason is not None else self._default_reason(context)
        problems = terminate_selection_problems(
            job_ids=job_ids,
            job_queue=self.job_queue,
            job_name_prefix=self.job_name_prefix,
            run_id=self.run_id,
            reason=reason,
            submitting_task_ids=task_ids,
        )
        _fail_on_problems(self, problems, self.ARGUMENTS)

        selected: dict[str, dict[str, Any]] = {
            str(job_id): {"jobId": job_id, "jobName": None, "status": None, "selectedBy": "job_ids"}
            for job_id in normalize_job_ids(job_ids)
        }
        if self.job_name_prefix is not None or self.run_id is not None:
            for job in self._select_on_queue(normalize_job_ids(task_ids) if task_ids else None):
                selected.setdefault(job["jobId"], job)
        jobs = list(selected.values())
        report: dict[str, Any] = {
            "terminated": [],
            "errors": [],
            "jobs": jobs,
            "reportOnly": self.report_only,
        }
        if not jobs:
            self.log.info("No service job matches the selection: nothing to terminate")
            return report
        for job in jobs:
            self.log.info(
                "%s %s (%s, %s; selected by %s)",
                "Would terminate" if self.report_only else "Terminating",
                job["jobId"],
                job["jobName"] or "name not read",
                job["status"] or "status not read",
                job["selectedBy"],
            )
        if self.report_only:
            return report
        result = _call(
            "TerminateServiceJobs",
            lambda: self.hook.terminate_service_jobs([j["jobId"] for j in jobs], reason=reason),
        )
        report["terminated"] = list(result.get("successful", []))
        report["errors"] = list(result.get("errors", []))
        self.log.info(
            "Terminated %d of %d selected service job(s) (reason: %s)",
            len(report["terminated"]),
            len(jobs),
            reason,
        )
        if report["errors"] and self.fail_on_error:
            if self.do_xcom_push:
                context["ti"].xcom_push(key="report", value=report)
            raise AirflowException(
                f"{len(report['errors'])} of {len(jobs)} service job(s) could not be terminated "
                f"(the others were): {report['errors']}; the report is in XCom key 'report'"
            )
        return report

    # -- selection on a queue -------------------------------------------------------------

    def _candidates(self) -> Iterator[dict[str, Any]]:
        """Unfinished job summaries on the queue (by name prefix when given)."""
        from airflow_batch_service.core.status import IN_PROGRESS_STATUSES

        active = {s.value for s in IN_PROGRESS_STATUSES}
        queue = str(self.job_queue)
        if self.job_name_prefix is not None:
            # A JOB_NAME filter makes ListServiceJobs ignore jobStatus: every status comes back.
            summaries = self.hook.list_service_jobs(
                job_queue=queue,
                filters=[{"name": "JOB_NAME", "values": [f"{self.job_name_prefix}*"]}],
            )
            for summary in summaries:
                if summary.get("status") in active:
                    yield summary
            return
        seen: set[str] = set()
        for status in sorted(active):  # without a filter, one status per call
            for summary in self.hook.list_service_jobs(job_queue=queue, job_status=status):
                job_id = str(summary.get("jobId"))
                if job_id not in seen:
                    seen.add(job_id)
                    yield summary

    def _select_on_queue(self, task_ids: list[Any] | None) -> list[dict[str, Any]]:
        by = "job_name_prefix" if self.job_name_prefix is not None else ""
        if self.run_id is not None:
            by = f"{by} and run_id" if by else "run_id"
        out: list[dict[str, Any]] = []
        candidates = list(self._candidates())
        if self.run_id is not None:
            self.log.info(
                "Reading the task tag of %d unfinished job(s) on %s (one DescribeServiceJob each)",
                len(candidates),
                self.job_queue,
            )
        for summary in candidates:
            if self.run_id is not None and not self._submitted_by_run(summary["jobId"], task_ids):
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

    def _submitted_by_run(self, job_id: str, task_ids: list[Any] | None) -> bool:
        from airflow_batch_service.core.durable import TASK_TAG, TaskKey
        from airflow_batch_service.core.errors import ErrorKind, classify, error_response
        from airflow_batch_service.core.operations import parse_task_tag

        try:
            tags = self.hook.describe_service_job(job_id).get("tags") or {}
        except Exception as exc:
            code, status, message = error_response(exc) or (None, None, str(exc))
            if classify(code, status, message) is ErrorKind.NOT_FOUND:
                return False  # gone since the listing
            raise
        tag = tags.get(TASK_TAG)
        parts = parse_task_tag(tag)
        if parts is None:
            return False
        _, task_id, _, map_index = parts
        if task_ids is not None and task_id not in task_ids:
            return False
        dag_id = self.submitting_dag_id or self.dag_id
        # The tag is sanitized (and may be shortened): rebuild it from the wanted DAG and run.
        return TaskKey(str(dag_id), task_id, str(self.run_id), map_index).tag_value() == tag


# -- CreateServiceEnvironment -----------------------------------------------------------------


class BatchCreateServiceEnvironmentOperator(AwsBaseOperator[BatchServiceJobHook]):
    """Create a SAGEMAKER_TRAINING service environment (CreateServiceEnvironment).

    The service-job counterpart of the amazon provider's
    ``BatchCreateComputeEnvironmentOperator``: returns the environment's ARN; with
    ``deferrable=True`` it waits for ``VALID`` in the triggerer
    (``BatchServiceEnvironmentTrigger``), with ``wait_for_completion=True`` on the worker.
    Watch an existing one with ``BatchServiceEnvironmentSensor``.

    :param service_environment_name: ``serviceEnvironmentName``, 1-128 letters, digits, ``-``,
        ``_`` (templated).
    :param capacity_limits: ``capacityLimits``, e.g. ``[{"maxCapacity": 4, "capacityUnit":
        "NUM_INSTANCES"}]`` (templated; a JSON string is accepted).
    :param service_environment_type: ``serviceEnvironmentType``; only ``SAGEMAKER_TRAINING``.
    :param state: ``state``, ``ENABLED`` (default) or ``DISABLED``.
    :param tags: ``tags``, 1-50 string pairs (templated).
    :param wait_for_completion: wait on the worker until the environment is ``VALID``.
    :param poll_interval: seconds between describes while waiting (default 30).
    :param max_retries: describes before the wait gives up (default 120).
    :param deferrable: wait in the triggerer. Default: ``[operators] default_deferrable``.
    :param aws_conn_id: the ``aws`` connection; also ``region_name``, ``verify``,
        ``botocore_config``.
    """

    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    template_fields: Sequence[str] = aws_template_fields(
        "service_environment_name", "capacity_limits", "tags"
    )
    template_fields_renderers = {"capacity_limits": "json", "tags": "json"}
    operator_extra_links = (BatchServiceEnvironmentLink(),)
    ARGUMENTS = {
        "serviceEnvironmentName": "service_environment_name",
        "serviceEnvironmentType": "service_environment_type",
        "state": "state",
        "capacityLimits": "capacity_limits",
        "tags": "tags",
    }

    def __init__(
        self,
        *,
        service_environment_name: str,
        capacity_limits: list[dict[str, Any]] | str,
        service_environment_type: str = "SAGEMAKER_TRAINING",
        state: str = "ENABLED",
        tags: dict[str, str] | None = None,
        wait_for_completion: bool = False,
        poll_interval: float = 30,
        max_retries: int | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service_environment_name = service_environment_name
        self.capacity_limits = capacity_limits
        self.service_environment_type = service_environment_type
        self.state = state
        self.tags = tags
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.max_retries = max_retries or 120
        self.deferrable = deferrable

    def build_request(self) -> dict[str, Any]:
        """The validated CreateServiceEnvironment request (``AirflowFailException`` if not)."""
        from airflow_batch_service.core.operations import create_environment_problems

        request = {
            "serviceEnvironmentName": self.service_environment_name,
            "serviceEnvironmentType": self.service_environment_type,
            "state": self.state,
            "capacityLimits": _maybe_json(self.capacity_limits),
            "tags": _maybe_json(self.tags),
        }
        problems = create_environment_problems(
            name=request["serviceEnvironmentName"],
            environment_type=request["serviceEnvironmentType"],
            state=request["state"],
            capacity_limits=request["capacityLimits"],
            tags=request["tags"],
        )
        _fail_on_problems(self, problems, self.ARGUMENTS)
        return {k: v for k, v in request.items() if v is not None}

    def execute(self, context: Context) -> str:
        request = self.build_request()
        response = _call(
            f"CreateServiceEnvironment {request['serviceEnvironmentName']}",
            lambda: self.hook.create_service_environment(request),
        )
        arn = str(response["serviceEnvironmentArn"])
        self.log.info("Created service environment %s: %s", request["serviceEnvironmentName"], arn)
        persist_quietly(
            BatchServiceEnvironmentLink,
            context,
            self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            service_environment_arn=arn,
        )
        if self.deferrable:
            from datetime import timedelta

            from airflow_batch_service.triggers.service_operations import (
                BatchServiceEnvironmentTrigger,
            )

            self.defer(
                trigger=BatchServiceEnvironmentTrigger(
                    service_environment=arn,
                    poll_interval=self.poll_interval,
                    max_attempts=self.max_retries,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.max_retries * self.poll_interval + 60),
            )
        if self.wait_for_completion:
            self._wait_on_worker(arn)
        return arn

    def _wait_on_worker(self, arn: str) -> None:
        import time

        from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

        from airflow_batch_service.core.errors import is_retryable
        from airflow_batch_service.core.operations import ResourceStatus, check_service_environment

        for attempt in range(1, self.max_retries + 1):
            try:
                check = check_service_environment(arn, self.hook.describe_service_environment(arn))
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                self.log.warning("Describing service environment %s failed (%s)", arn, exc)
            else:
                self.log.info("%s", check.message)
                if check.outcome is ResourceStatus.READY:
                    return
                if check.outcome is ResourceStatus.FAILED:
                    raise AirflowFailException(check.message)
            if attempt < self.max_retries:
                time.sleep(self.poll_interval)
        raise AirflowException(
            f"service environment {arn} was not VALID after {self.max_retries} describes "
            f"every {self.poll_interval:g}s"
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

        from airflow_batch_service.triggers.service_operations import SUCCESS, TIMEOUT

        event = event or {}
        value = event.get("value") or {}
        if event.get("status") == SUCCESS:
            return str(value.get("arn"))
        message = (
            f"Error while waiting for the service environment to be ready: {event.get('message')}"
        )
        if event.get("status") == TIMEOUT:
            raise AirflowException(message)
        raise AirflowFailException(message)
