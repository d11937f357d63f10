"""``BatchSubmitServiceJobOperator``: submit one AWS Batch service job (SageMaker Training).

Everything a user can get wrong is checked before any AWS call: every documented bound of
SubmitServiceJob (``core.validation``), and the payload against SageMaker's own
``CreateTrainingJob`` model (``airflow_batch_service._shared.payload``). A bad argument fails
the task at once with ``AirflowFailException`` (an Airflow retry would fail the same way),
naming the operator argument and the rule, and nothing is submitted: a GPU job queued for hours
and then rejected by SageMaker is the expensive way to find a typo.

Pair it with ``BatchServiceJobSensor`` (``job_id=submit.output``), or set
``wait_for_completion=True`` to wait in this task with exactly the sensor's semantics (one
wait: ``core.wait``, driven by ``airflow_batch_service._shared.waiting``).

A shell: what it does when it runs lives in ``airflow_batch_service._shared.submit_flow``
(request building in ``submit_request``, durable submission in ``durable``, the wait in
``core.wait``); AWS calls go through the hook. Each entry point imports that module when the
task runs, on purpose: every DAG file imports this one, and parsing a DAG must not load
validation, the payload model or the wait (``benchmarks/import_time.py`` measures it,
``tests/provider/test_packaging.py`` checks it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_batch_service._shared.lineage import ServiceJobLineageMixin
from airflow_batch_service._shared.model_asset import model_asset_outlet, with_outlet
from airflow_batch_service.core.event_wait import check_event_settings
from airflow_batch_service.core.model_asset import output_path
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import (
    SERVICE_JOB_LINKS,
    ServiceJobLinks,
    persist_link_placeholders,
)

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from airflow_batch_service._shared.wait_spec import WaitSpec


class BatchSubmitServiceJobOperator(ServiceJobLineageMixin, AwsBaseOperator[BatchServiceJobHook]):
    """Submit an AWS Batch service job (SubmitServiceJob) and return its jobId.

    One argument per SubmitServiceJob field (all templated):

    :param job_name: ``jobName``, 1-128 letters, digits, ``-``, ``_``. Use ``{{ run_id }}``-
        derived values, not ``{{ ds }}`` (manual runs have no logical date in Airflow 3).
    :param job_queue: ``jobQueue``, name or ARN of a SAGEMAKER_TRAINING queue.
    :param service_request_payload: ``serviceRequestPayload``: a SageMaker CreateTrainingJob
        request as a dict or a JSON string. Its ``TrainingJobName`` may have at most 23
        characters (Batch adds 40 to name each attempt's training job; SageMaker allows 63).
    :param service_job_type: ``serviceJobType``; only ``SAGEMAKER_TRAINING`` exists.
    :param retry_strategy: ``retryStrategy``: ``{"attempts": 1-10, "evaluateOnExit": [...]}``.
    :param scheduling_priority: ``schedulingPriority`` 0-9999 (0 is sent, not dropped).
    :param share_identifier: ``shareIdentifier`` (fair-share queues only).
    :param quota_share_name: ``quotaShareName`` (quota-share queues only; not with
        ``share_identifier``).
    :param preemption_configuration: ``{"preemptionRetriesBeforeTermination": n}``.
    :param timeout_config: ``{"attemptDurationSeconds": n}``, per attempt.
    :param tags: ``tags``: 1-50 string pairs.
    :param client_token: ``clientToken``: idempotency token, 1-64 characters. Leave it
        unset: the operator derives one per task key and job, so a retry or a try after a
        crashed worker reattaches to the job instead of submitting a second one (see
        ``airflow_batch_service._shared.durable``). A given token is sent unchanged; a retry
        reattaches to the job carrying it but cannot resubmit after that job failed.
    :param validate_payload: check the payload against botocore's CreateTrainingJob model
        before submitting (default True). Turn off only for fields newer than your botocore.
    :param wait_for_completion: wait inside this task, with the sensor's semantics
        (default False: pair with ``BatchServiceJobSensor`` to free the worker).
    :param poll_interval: seconds between describes while waiting (jittered; backs off on
        throttling and 5xx).
    :param max_runnable_seconds: while waiting, terminate and fail a job that sits in
        RUNNABLE (no capacity) longer than this.
    :param wait_timeout: while waiting, seconds since the submit (or reattach) after which the
        wait gives up: the job is TERMINATED (this task owns it) and the task fails with
        ``AirflowFailException``. The same in the sync and the deferrable wait. Default: no
        limit (``execution_timeout`` still applies to the sync wait).
    :param deferrable: with ``wait_for_completion``, wait in the triggerer
        (``BatchServiceJobTrigger``) instead of a worker slot. Default:
        ``[operators] default_deferrable``. Killing the deferred task terminates the job on
        Airflow 3.3+ (``BaseTrigger.on_kill``); on 3.0-3.2 the job keeps running.
    :param event_queue: the SQS queue (URL, name or ARN) an EventBridge rule fills with this
        job queue's "Batch Service Job State Change" events: a deferred wait then ends when
        AWS says the job ended, not up to ``poll_interval`` later, and polls only every
        ``reconcile_interval`` (see the events how-to). Default: the ``aws`` connection's
        extra ``service_job_event_queue``, else none; ``False`` reads no events even if the
        connection names a queue. Only deferred waits read events.
    :param reconcile_interval: with events, seconds between the deferred wait's own polls,
        which catch an event that never came (default 300).
    :param stream_logs: while waiting, copy the latest attempt's training-job log lines into
        the task log, labelled ``[attempt N algo-1]`` (default True).
    :param submit_patience: seconds to keep retrying a throttled (HTTP 429) or failing (5xx,
        connection error) SubmitServiceJob, with jittered exponential backoff and the same
        clientToken, before the task fails (default 600: AWS allows 5 submits per second per
        account, and a mapped sweep's burst must wait its turn, not fail). A refused request
        (HTTP 400) is never retried: the task fails at once, without Airflow retries.
    :param read_training_result: while waiting, read the final attempt's training job when the
        job ends (one ``sagemaker:DescribeTrainingJob``): the model artifact, final metrics,
        training and billable seconds go to the ``summary`` XCom under ``trainingJob`` and to
        the ``training_job`` XCom (also when the job failed, as far as it got). Default True;
        turn off without that permission (not with ``model_asset``, which needs it).
    :param model_asset: the trained model as an Airflow asset, added to the task's ``outlets``
        (beside any given) so that DAGs can be scheduled on it: an ``airflow.sdk.Asset``, a
        URI string, or ``True`` for ``Asset(uri=<output path>)``. In a string,
        ``{output_path}`` is replaced by the payload's ``OutputDataConfig.S3OutputPath``
        (without a trailing ``/``) when the DAG is parsed, so that path must be literal
        then (not a template, not an XCom): a DAG that breaks the rule fails to parse,
        naming ``model_asset``. Not templated. When the job succeeded and the task ends
        successfully, the asset event's ``extra`` has ``job_id``, ``job_arn``, ``job_name``,
        ``job_queue``, ``status``, ``training_job_name``, ``model_uri``, ``final_metrics``
        (a non-finite value as None, spelled in ``final_metrics_non_finite``),
        ``billable_seconds`` and ``attempts`` (see ``core.model_asset``). Needs
        ``wait_for_completion=True`` (without it, give ``model_asset`` to the sensor that
        waits) and turns ``read_training_result`` on. Default: no asset.
    :param not_found_grace: while waiting, seconds a job may be "not found" right after its
        submit (eventual consistency) before the task fails saying it does not exist
        (default 120).
    :param aws_conn_id: the ``aws`` connection (``endpoint_url`` in its extra points at an
        emulator). Also ``region_name``, ``verify``, ``botocore_config``.

    Before submitting, the job queue is described once (DescribeJobQueues, and
    DescribeSchedulingPolicies for its policy; cached per process): a queue that does not exist,
    is not SAGEMAKER_TRAINING, is not ENABLED, or whose scheduling policy does not match
    ``share_identifier`` / ``quota_share_name`` fails the task naming the argument, with nothing
    submitted. Without permission for those calls the check is skipped with a warning.

    Time limits: ``execution_timeout`` bounds the whole task in every mode. Airflow does not
    apply it to a deferred task, so the deferrable wait carries what is left of it into the
    trigger's deadline (with ``wait_timeout``, the nearer one applies), terminates the job when
    it passes and fails the task with ``AirflowTaskTimeout``, as a worker would.

    XCom: the return value is the jobId; ``job_arn``, ``job_name`` and ``try_number`` (the try
    that submitted or reattached) are pushed too, and with
    ``wait_for_completion`` the sensor's summary under ``summary``.
    """

    aws_hook_class = BatchServiceJobHook
    ui_color = "#c3dae0"
    template_fields: Sequence[str] = aws_template_fields(
        "job_name",
        "job_queue",
        "service_request_payload",
        "service_job_type",
        "retry_strategy",
        "scheduling_priority",
        "share_identifier",
        "quota_share_name",
        "preemption_configuration",
        "timeout_config",
        "tags",
        "client_token",
    )
    template_fields_renderers = {
        "service_request_payload": "json",
        "retry_strategy": "json",
        "preemption_configuration": "json",
        "timeout_config": "json",
        "tags": "json",
    }
    operator_extra_links = SERVICE_JOB_LINKS

    def __init__(
        self,
        *,
        job_name: str,
        job_queue: str,
        service_request_payload: dict[str, Any] | str,
        service_job_type: str = "SAGEMAKER_TRAINING",
        retry_strategy: dict[str, Any] | None = None,
        scheduling_priority: int | None = None,
        share_identifier: str | None = None,
        quota_share_name: str | None = None,
        preemption_configuration: dict[str, Any] | None = None,
        timeout_config: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        client_token: str | None = None,
        validate_payload: bool = True,
        wait_for_completion: bool = False,
        poll_interval: float = 30,
        max_runnable_seconds: float | None = None,
        wait_timeout: float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        stream_logs: bool = True,
        submit_patience: float = 600.0,
        not_found_grace: float = 120.0,
        read_training_result: bool = True,
        model_asset: Asset | str | bool | None = None,
        event_queue: str | bool | None = None,
        reconcile_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_event_settings(event_queue, reconcile_interval)
        asset = None
        if model_asset is not None:
            output = output_path(service_request_payload)
            asset = model_asset_outlet(model_asset, output, waits=wait_for_completion)
            kwargs["outlets"] = with_outlet(kwargs.get("outlets"), asset)
        super().__init__(**kwargs)
        self.job_name = job_name
        self.job_queue = job_queue
        self.service_request_payload = service_request_payload
        self.service_job_type = service_job_type
        self.retry_strategy = retry_strategy
        self.scheduling_priority = scheduling_priority
        self.share_identifier = share_identifier
        self.quota_share_name = quota_share_name
        self.preemption_configuration = preemption_configuration
        self.timeout_config = timeout_config
        self.tags = tags
        self.client_token = client_token
        self.validate_payload = validate_payload
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.max_runnable_seconds = max_runnable_seconds
        self.wait_timeout = wait_timeout
        self.deferrable = deferrable
        self.stream_logs = stream_logs
        self.submit_patience = submit_patience
        self.not_found_grace = not_found_grace
        self.model_asset = asset
        self.event_queue = event_queue
        self.reconcile_interval = reconcile_interval
        # The asset event's extra comes from the training result: the asset needs it read.
        self.read_training_result = read_training_result or asset is not None
        self.job_id: str | None = None
        self.training_job_result: dict[str, Any] | None = None
        self._started_ms: int | None = None
        self._kill_resubmits = 0
        self._kill_reason = f"Airflow task {self.dag_id}.{self.task_id} was killed"

    def build_request(self) -> dict[str, Any]:
        """The validated SubmitServiceJob request; raises ``AirflowFailException`` if invalid."""
        from airflow_batch_service._shared import submit_flow  # lazy: keeps DAG parsing cheap

        return submit_flow.build_request(self)

    def check_queue(self, request: Mapping[str, Any]) -> None:
        """Refuse a queue the job cannot go to, before submitting (see the class docstring)."""
        from airflow_batch_service._shared import submit_flow  # lazy: keeps DAG parsing cheap

        submit_flow.check_queue(self, request)

    def submit_durably(self, request: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Submit, or reattach to the job an earlier try of this task submitted.

        Durable submission (``airflow_batch_service._shared.durable``): the job id is kept in
        ``context["task_state_store"]`` where Airflow has it (3.3+); otherwise, and as a safety
        net, a deterministic clientToken plus a ``list_service_jobs`` lookup by job name and
        token tag. Returns SubmitServiceJob's ``{jobId, jobArn, jobName}`` either way.
        """
        from airflow_batch_service._shared import submit_flow  # lazy: keeps DAG parsing cheap

        return submit_flow.submit_durably(self, request, context)

    def execute(self, context: Context) -> str:
        self._started_ms = int(time.time() * 1000)  # execution_timeout without a start_date
        from airflow_batch_service._shared import submit_flow  # lazy: keeps DAG parsing cheap

        persist_link_placeholders(context, self)
        return submit_flow.execute(self, context, ServiceJobLinks(context, self))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """The trigger's event -> what the sync wait ends with: the jobId and the summary XCom,
        or the same exception."""
        from airflow_batch_service._shared import submit_flow  # lazy: keeps DAG parsing cheap

        return submit_flow.execute_complete(self, context, event, ServiceJobLinks(context, self))

    def _defer_wait(self, spec: WaitSpec, timeout: timedelta | None) -> None:
        """Hand the wait ``spec`` describes to the triggerer (``submit_flow`` decides when; a
        private module may not import the trigger, the shell may)."""
        from airflow_batch_service.triggers.batch_service import (  # lazy: keeps DAG parsing cheap
            BatchServiceJobTrigger,
        )

        trigger = BatchServiceJobTrigger.from_spec(spec)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timeout)

    def on_kill(self) -> None:
        """Terminate the job this task submitted: a killed task must not leave a GPU job
        running (or queued) with nobody watching it."""
        if not self.job_id:
            return
        try:
            self.hook.terminate_service_job(self.job_id, reason=self._kill_reason)
            self.log.info("Terminated service job %s: %s", self.job_id, self._kill_reason)
        except Exception:
            self.log.exception("Could not terminate service job %s", self.job_id)
