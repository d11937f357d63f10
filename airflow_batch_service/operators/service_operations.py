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

The classes only declare (arguments, template fields, links); what they do when they run is
``operators._service_ops_run``, which each entry point imports when it runs so that parsing a
DAG loads none of it (nor the argument rules, nor the resource wait).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import BatchServiceJobDetailsLink
from airflow_batch_service.links.service_operations import BatchServiceEnvironmentLink

if TYPE_CHECKING:
    from airflow.sdk import Context


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
        from airflow_batch_service.operators import (  # lazy: DAG parse loads no rule, no wait
            _service_ops_run as run,
        )

        return run.update_priority(self, context)


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

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_batch_service.operators import (  # lazy: DAG parse loads no rule, no wait
            _service_ops_run as run,
        )

        return run.terminate(self, context)


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
        from airflow_batch_service.operators import (  # lazy: DAG parse loads no rule, no wait
            _service_ops_run as run,
        )

        return run.environment_request(self)

    def execute(self, context: Context) -> str:
        from airflow_batch_service.operators import (  # lazy: DAG parse loads no rule, no wait
            _service_ops_run as run,
        )

        return run.create_environment(self, context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        from airflow_batch_service.operators import (  # lazy: DAG parse loads no rule, no wait
            _service_ops_run as run,
        )

        return run.environment_ready(self, event)
