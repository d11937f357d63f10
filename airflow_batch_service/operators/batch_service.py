"""``BatchSubmitServiceJobOperator``: submit one AWS Batch service job (SageMaker Training).

Everything a user can get wrong is checked before any AWS call: every documented bound of
SubmitServiceJob (``core.validation``), and the payload against SageMaker's own
``CreateTrainingJob`` model (``airflow_batch_service._shared.payload``). A bad argument fails the task
at once with ``AirflowFailException`` (an Airflow retry would fail the same way), naming the
operator argument and the rule, and nothing is submitted: a GPU job queued for hours and then
rejected by SageMaker is the expensive way to find a typo.

Pair it with ``BatchServiceJobSensor`` (``job_id=submit.output``), or set
``wait_for_completion=True`` to wait in this task with exactly the sensor's semantics (one
wait: ``core.wait``, driven by ``airflow_batch_service._shared.waiting``).

A shell: request building lives in ``submit_request``, durable submission in ``durable``, the
wait in ``core.wait``; AWS calls go through the hook. Those modules are imported inside the
methods that use them, on purpose: every DAG file imports this one, and parsing a DAG must not
load validation, the payload model or the wait (``benchmarks/import_time.py`` measures it,
``tests/provider/test_packaging.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_batch_service._shared.lineage import ServiceJobLineageMixin
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import (
    SERVICE_JOB_LINKS,
    ServiceJobLinks,
    persist_link_placeholders,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.core.wait import Limit, WaitOutcome

#: How many times one try submits afresh after an earlier try's kill terminated its job.
MAX_KILL_RESUBMITS = 3


def kill_reason_prefix(dag_id: str, task_id: str, context: Context) -> str:
    """``Airflow task d.t (run r, map index m, try `` - what every kill reason of this task
    instance starts with, whatever the try."""
    ti = context.get("ti")
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    map_index = getattr(ti, "map_index", None)
    mapped = f", map index {map_index}" if isinstance(map_index, int) and map_index >= 0 else ""
    return f"Airflow task {dag_id}.{task_id} (run {run_id}{mapped}, try "


def kill_reason(dag_id: str, task_id: str, context: Context) -> str:
    """The TerminateServiceJob reason of a kill of this try: names the try, so a later try can
    tell its own job apart from one an earlier try's kill terminated."""
    try_number = getattr(context.get("ti"), "try_number", None)
    return f"{kill_reason_prefix(dag_id, task_id, context)}{try_number}) was killed"


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
        ``airflow_batch_service._shared.durable``). A given token is sent unchanged; a retry reattaches
        to the job carrying it but cannot resubmit after that job failed.
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
        turn off without that permission.
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

    XCom: the return value is the jobId; ``job_arn`` and ``job_name`` are pushed too, and with
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
        **kwargs: Any,
    ) -> None:
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
        self.read_training_result = read_training_result
        self.job_id: str | None = None
        self.training_job_result: dict[str, Any] | None = None
        self._started_ms: int | None = None
        self._kill_resubmits = 0
        self._kill_reason = f"Airflow task {self.dag_id}.{self.task_id} was killed"

    def build_request(self) -> dict[str, Any]:
        """The validated SubmitServiceJob request; raises ``AirflowFailException`` if invalid."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_batch_service._shared.submit_request import (
            build_submit_request,
            describe_problems,
        )

        request, problems = build_submit_request(
            job_name=self.job_name,
            job_queue=self.job_queue,
            service_request_payload=self.service_request_payload,
            service_job_type=self.service_job_type,
            retry_strategy=self.retry_strategy,
            scheduling_priority=self.scheduling_priority,
            share_identifier=self.share_identifier,
            quota_share_name=self.quota_share_name,
            preemption_configuration=self.preemption_configuration,
            timeout_config=self.timeout_config,
            tags=self.tags,
            client_token=self.client_token,
            validate_payload=self.validate_payload,
        )
        if problems:
            message = describe_problems(problems)
            self.log.error(message)
            raise AirflowFailException(message)
        self._warn_unreachable_rules(request.get("retryStrategy"))
        return request

    def _warn_unreachable_rules(self, strategy: Mapping[str, Any] | None) -> None:
        from airflow_batch_service.core.reasons import SAGEMAKER_PREFIX
        from airflow_batch_service.core.retry import RetryStrategy, unreachable_prefix_rules

        for rule in unreachable_prefix_rules(RetryStrategy.from_api(strategy)):
            self.log.warning(
                "retry_strategy %s can never match: SageMaker reasons start with %r (with a "
                "space after the colon; the SageMaker SDK's constant lacks it). Write %r.",
                rule.describe(),
                SAGEMAKER_PREFIX,
                SAGEMAKER_PREFIX + rule.on_status_reason[len(SAGEMAKER_PREFIX.rstrip()) :],
            )

    def check_queue(self, request: Mapping[str, Any]) -> None:
        """Refuse a queue the job cannot go to, before submitting (see the class docstring)."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_batch_service._shared.submit_request import describe_problems
        from airflow_batch_service.core.errors import classify_exception
        from airflow_batch_service.core.queue_check import queue_problems

        name = str(request["jobQueue"])
        try:
            queue = self.hook.describe_job_queue(name)
            policy_arn = (queue or {}).get("schedulingPolicyArn")
            policy = self.hook.describe_scheduling_policy(policy_arn) if policy_arn else None
        except Exception as exc:
            if classify_exception(exc) is None:
                raise
            self.log.warning(
                "Could not check job queue %s before submitting (%s); submitting without the "
                "check (batch:DescribeJobQueues and batch:DescribeSchedulingPolicies allow it)",
                name,
                exc,
            )
            return
        where = f" in region {self.hook.conn_region_name}"
        problems = queue_problems(name, queue, policy, request, where=where)
        if problems:
            message = describe_problems(problems)
            self.log.error(message)
            raise AirflowFailException(message)

    def submit_durably(self, request: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Submit, or reattach to the job an earlier try of this task submitted.

        Durable submission (``airflow_batch_service._shared.durable``): the job id is kept in
        ``context["task_state_store"]`` where Airflow has it (3.3+); otherwise, and as a safety
        net, a deterministic clientToken plus a ``list_service_jobs`` lookup by job name and
        token tag. Returns SubmitServiceJob's ``{jobId, jobArn, jobName}`` either way.
        """
        from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

        from airflow_batch_service._shared.durable import (
            DurableSubmitError,
            DurableSubmitter,
            TaskKey,
        )

        submitter = DurableSubmitter(
            hook=self.hook,
            key=TaskKey.from_context(context, dag_id=self.dag_id, task_id=self.task_id),
            log=self.log,
            store=context.get("task_state_store"),
            try_number=int(getattr(context["ti"], "try_number", 1) or 1),
            patience=float(self.submit_patience),
        )
        try:
            return submitter.submit(request).response
        except DurableSubmitError as err:
            raise (AirflowFailException if err.final else AirflowException)(str(err)) from err

    def execute(self, context: Context) -> str:
        from airflow_batch_service._shared.waiting import now_ms

        self._started_ms = now_ms()
        persist_link_placeholders(context, self)
        request = self.build_request()
        self._kill_reason = kill_reason(self.dag_id, self.task_id, context)
        self.check_queue(request)
        submitted_ms = self._submit(request, context)
        if self.wait_for_completion:
            self._finish(context, self._wait(context, submitted_ms))  # defers when deferrable
        return str(self.job_id)

    def _submit(self, request: Mapping[str, Any], context: Context) -> int:
        """Submit (or reattach), push the job's XComs and link; when it was submitted."""
        from airflow_batch_service._shared.waiting import now_ms

        self.log.info(
            "Submitting service job %s to queue %s (%s)",
            request["jobName"],
            request["jobQueue"],
            request["serviceJobType"],
        )
        submitted_ms = now_ms()
        response = self.submit_durably(request, context)
        self.job_id = response["jobId"]
        if self.do_xcom_push:
            context["ti"].xcom_push(key="job_arn", value=response.get("jobArn"))
            context["ti"].xcom_push(key="job_name", value=response.get("jobName"))
        ServiceJobLinks(context, self).job(str(self.job_id))
        return submitted_ms

    # -- the wait (sync or deferred; one wait: core.wait, driven by airflow_batch_service._shared.waiting)

    def _limit(self, context: Context, started_ms: int, *, deferred: bool) -> Limit | None:
        """The wait's deadline: ``wait_timeout`` from the submit and, deferred, what is left of
        ``execution_timeout`` (on a worker Airflow applies that one itself); the nearer."""
        from airflow_batch_service._shared.waiting import execution_limit
        from airflow_batch_service.core.wait import WAIT_TIMEOUT, Limit, nearest

        waited = None
        if self.wait_timeout is not None:
            waited = Limit(
                started_ms + int(self.wait_timeout * 1000),
                WAIT_TIMEOUT,
                f"The wait exceeded wait_timeout={self.wait_timeout:g}s.",
                f"wait_timeout={self.wait_timeout:g}s",
            )
        return nearest([waited, execution_limit(self, context) if deferred else None])

    def _wait(self, context: Context, started_ms: int) -> list[WaitOutcome]:
        """Wait here (or defer); submit afresh once per job an earlier try's kill terminated.
        Returns every outcome, the last one deciding how the task ends."""
        outcomes: list[WaitOutcome] = []
        while True:
            if self.deferrable:
                self._defer(context, started_ms)
            outcome = self._wait_here(context, started_ms)
            outcomes.append(outcome)
            if not self._resubmit_after_kill(outcome, context):
                return outcomes
            started_ms = self._submit(self.build_request(), context)

    def _wait_here(self, context: Context, started_ms: int) -> WaitOutcome:
        from airflow_batch_service._shared.waiting import now_ms, run
        from airflow_batch_service.core.logtail import LogTail
        from airflow_batch_service.core.wait import JobWait, wait_flow

        wait = JobWait.create(
            str(self.job_id),
            poll_interval=self.poll_interval,
            max_runnable_seconds=self.max_runnable_seconds,
            started_ms=started_ms,
            not_found_grace=self.not_found_grace,
            limit=self._limit(context, started_ms, deferred=False),
            terminate_on_timeout=True,
            terminate_reason_prefix=f"Airflow task {self.dag_id}.{self.task_id}: ",
            read_training_result=self.read_training_result,
        )
        flow = wait_flow(wait, clock=now_ms, tail=LogTail() if self.stream_logs else None)
        outcome = run(flow, self.hook, self.log, on_seen=ServiceJobLinks(context, self).seen)
        assert outcome is not None  # the flow runs until the wait ends
        return outcome

    def _defer(self, context: Context, started_ms: int) -> None:
        """Hand the wait to the triggerer. The job link is already persisted (``_submit``)."""
        from airflow_batch_service._shared.waiting import defer

        defer(
            self,
            job_id=str(self.job_id),
            limit=self._limit(context, started_ms, deferred=True),
            owns_job=True,
            poll_interval=self.poll_interval,
            max_runnable_seconds=self.max_runnable_seconds,
            state={"started_ms": started_ms},
            kill_reason=self._kill_reason,
            terminate_reason_prefix=f"Airflow task {self.dag_id}.{self.task_id}: ",
            stream_logs=self.stream_logs,
            not_found_grace=self.not_found_grace,
            read_training_result=self.read_training_result,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """The trigger's event -> what the sync wait ends with: the jobId and the summary XCom,
        or the same exception."""
        from airflow_batch_service.core.wait import WaitOutcome

        outcome = WaitOutcome.from_event(event or {})
        self.job_id = outcome.job_id or self.job_id
        self._kill_reason = kill_reason(self.dag_id, self.task_id, context)
        if outcome.training_job_arn:
            ServiceJobLinks(context, self).training(outcome.training_job_arn)
        outcomes = [outcome]
        if self._resubmit_after_kill(outcome, context):
            outcomes += self._wait(context, self._submit(self.build_request(), context))
        self._finish(context, outcomes)
        return str(self.job_id)

    def _finish(self, context: Context, outcomes: list[WaitOutcome]) -> None:
        """End the task as the last outcome says; the summary and the timeline to XCom."""
        from airflow_batch_service._shared.waiting import (
            finish,
            push_timeline,
            record_training_result,
        )

        push_timeline(context, self, outcomes)
        self.training_job_result = record_training_result(context, self, outcomes[-1])
        summary = finish(outcomes[-1], self.log, resubmit_on_retry=True)
        if self.do_xcom_push:
            context["ti"].xcom_push(key="summary", value=summary)

    # -- a clear while deferred: the old try's kill must not end the new try ------------

    def _resubmit_after_kill(self, outcome: WaitOutcome, context: Context) -> bool:
        """True when the job this try waited on was terminated by the kill of an EARLIER try
        of this task (a clear of a deferred task: the new try reattached to the running job,
        then the old trigger's ``on_kill`` terminated it). The new try then submits a fresh
        job, as it would have had the kill landed first (the sync clear)."""
        from airflow_batch_service.core.durable import killed_by_other_try

        if outcome.status != "failed" or outcome.cause != "terminated":
            return False
        try_number = int(getattr(context.get("ti"), "try_number", 1) or 1)
        prefix = kill_reason_prefix(self.dag_id, self.task_id, context)
        other = killed_by_other_try(outcome.status_reason, prefix, try_number)
        if other is None or self._kill_resubmits >= MAX_KILL_RESUBMITS:
            return False
        self._kill_resubmits += 1
        self.log.warning(
            "Service job %s was terminated by the kill of try %s of this task (the task was "
            "cleared while deferred): this try %s submits a fresh job instead of failing",
            outcome.job_id,
            other,
            try_number,
        )
        return True

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
