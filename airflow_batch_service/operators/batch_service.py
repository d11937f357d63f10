"""``BatchSubmitServiceJobOperator``: submit one AWS Batch service job (SageMaker Training).

Everything a user can get wrong is checked before any AWS call: every documented bound of
SubmitServiceJob (``core.validation``), and the payload against SageMaker's own
``CreateTrainingJob`` model (``airflow_batch_service.payload``). A bad argument fails the task
at once with ``AirflowFailException`` (an Airflow retry would fail the same way), naming the
operator argument and the rule, and nothing is submitted: a GPU job queued for hours and then
rejected by SageMaker is the expensive way to find a typo.

Pair it with ``BatchServiceJobSensor`` (``job_id=submit.output``), or set
``wait_for_completion=True`` to wait in this task with exactly the sensor's semantics (one
shared wait, ``airflow_batch_service.waiting``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.links.batch_service import (
    SERVICE_JOB_LINKS,
    BatchServiceJobDetailsLink,
    persist_link_placeholders,
    persist_training_job_links,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.core.validation import Problem
    from airflow_batch_service.core.verdict import Verdict

#: SubmitServiceJob field -> this operator's argument, so messages name what the user wrote.
ARGUMENT_FOR_FIELD: dict[str, str] = {
    "jobName": "job_name",
    "jobQueue": "job_queue",
    "serviceRequestPayload": "service_request_payload",
    "serviceJobType": "service_job_type",
    "retryStrategy": "retry_strategy",
    "schedulingPriority": "scheduling_priority",
    "shareIdentifier": "share_identifier",
    "quotaShareName": "quota_share_name",
    "preemptionConfiguration": "preemption_configuration",
    "timeoutConfig": "timeout_config",
    "tags": "tags",
    "clientToken": "client_token",
}
_DICT_FIELDS = ("retryStrategy", "preemptionConfiguration", "timeoutConfig", "tags")


def argument_for(field: str) -> str:
    """``retryStrategy.evaluateOnExit[2].action`` -> ``retry_strategy``."""
    head = field.split(".", 1)[0].split("[", 1)[0]
    return ARGUMENT_FOR_FIELD.get(head, head)


def _named(field: str) -> str:
    """A field as the operator's messages name it: ``share_identifier (shareIdentifier)``."""
    return f"{argument_for(field)} ({field})" if field in ARGUMENT_FOR_FIELD else field


def describe_problems(problems: Sequence[Problem]) -> str:
    lines = [f"  - {_named_path(p.field)}: {p.text(_named)}" for p in problems]
    return "Invalid arguments; nothing was submitted:\n" + "\n".join(lines)


def _named_path(field: str) -> str:
    """``retryStrategy.evaluateOnExit[0].action`` -> ``retry_strategy (retryStrategy...)``."""
    if field == "request":  # the whole request (its size), not one argument
        return "request (the whole SubmitServiceJob body)"
    return f"{argument_for(field)} ({field})"


def _maybe_json(field: str, value: Any, problems: list[Problem]) -> Any:
    """Templates render to strings: accept a JSON object string wherever a dict is expected."""
    from airflow_batch_service.core.validation import Problem

    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except ValueError as err:
        problems.append(Problem(field, f"must be an object or a JSON object string ({err})"))
        return None
    return parsed


def _payload_json(value: Any, problems: list[Problem]) -> tuple[str | None, dict[str, Any] | None]:
    """The payload as the API wants it (a JSON string) and as a dict for the model check."""
    from airflow_batch_service.core.validation import Problem

    field = "serviceRequestPayload"
    if isinstance(value, Mapping):
        try:
            text = json.dumps(dict(value))
        except (TypeError, ValueError) as err:
            problems.append(Problem(field, f"must be JSON-serialisable ({err})"))
            return None, None
        return text, dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as err:
            problems.append(
                Problem(field, f"must be a dict or a JSON object string; not JSON ({err})")
            )
            return None, None
        if not isinstance(parsed, dict):
            problems.append(Problem(field, f"must be a JSON object, got {type(parsed).__name__}"))
            return None, None
        return value, parsed
    if value is None:
        return None, None
    problems.append(
        Problem(field, f"must be a dict or a JSON object string, got {type(value).__name__}")
    )
    return None, None


def build_submit_request(
    *,
    job_name: Any,
    job_queue: Any,
    service_request_payload: Any,
    service_job_type: Any = "SAGEMAKER_TRAINING",
    retry_strategy: Any = None,
    scheduling_priority: Any = None,
    share_identifier: Any = None,
    quota_share_name: Any = None,
    preemption_configuration: Any = None,
    timeout_config: Any = None,
    tags: Any = None,
    client_token: Any = None,
    validate_payload: bool = True,
) -> tuple[dict[str, Any], list[Problem]]:
    """The SubmitServiceJob request (camelCase, None dropped) and every problem with it.

    core.validation is imported here, not at module level: DAG parsing never needs it.
    """
    from airflow_batch_service.core.validation import submit_request_problems

    problems: list[Problem] = []
    payload_text, payload = _payload_json(service_request_payload, problems)
    if isinstance(scheduling_priority, str) and scheduling_priority.strip().isdigit():
        scheduling_priority = int(scheduling_priority)  # a rendered template
    request: dict[str, Any] = {
        "jobName": job_name,
        "jobQueue": job_queue,
        "serviceRequestPayload": payload_text,
        "serviceJobType": service_job_type,
        "retryStrategy": retry_strategy,
        "schedulingPriority": scheduling_priority,
        "shareIdentifier": share_identifier,
        "quotaShareName": quota_share_name,
        "preemptionConfiguration": preemption_configuration,
        "timeoutConfig": timeout_config,
        "tags": tags,
        "clientToken": client_token,
    }
    for field in _DICT_FIELDS:
        request[field] = _maybe_json(field, request[field], problems)
    request = {k: v for k, v in request.items() if v is not None}
    core_problems = submit_request_problems(request)
    if payload_text is None and any(p.field == "serviceRequestPayload" for p in problems):
        # Already reported why the payload is unusable; don't also say "is required".
        core_problems = [p for p in core_problems if p.field != "serviceRequestPayload"]
    if not core_problems or all(p.field == "request" for p in core_problems):
        # Size against the quota once the durable-submission token and tags are added too.
        from airflow_batch_service.core.validation import request_size_problems
        from airflow_batch_service.durable import DURABLE_REQUEST_RESERVE

        core_problems = request_size_problems(request, reserve=DURABLE_REQUEST_RESERVE)
    problems.extend(core_problems)
    if validate_payload and payload is not None:
        from airflow_batch_service.payload import payload_model_problems

        problems.extend(payload_model_problems(payload))
    return request, problems


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


def execution_deadline_ms(operator: Any, context: Context) -> int | None:
    """Epoch ms at which ``execution_timeout`` ends this try (from the try's start), or None."""
    timeout = getattr(operator, "execution_timeout", None)
    if timeout is None:
        return None
    start = getattr(context.get("ti"), "start_date", None)
    if start is not None and hasattr(start, "timestamp"):
        start_ms = int(start.timestamp() * 1000)
    else:
        start_ms = getattr(operator, "_started_ms", None)
        if start_ms is None:
            from airflow_batch_service.waiting import now_ms

            start_ms = now_ms()
    return start_ms + int(timeout.total_seconds() * 1000)


class BatchSubmitServiceJobOperator(AwsBaseOperator[BatchServiceJobHook]):
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
        ``airflow_batch_service.durable``). A given token is sent unchanged; a retry reattaches
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
        self.job_id: str | None = None
        self._started_ms: int | None = None
        self._kill_resubmits = 0
        self._kill_reason = f"Airflow task {self.dag_id}.{self.task_id} was killed"

    def build_request(self) -> dict[str, Any]:
        """The validated SubmitServiceJob request; raises ``AirflowFailException`` if invalid."""
        from airflow.providers.common.compat.sdk import AirflowFailException

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

    def submit_durably(self, request: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Submit, or reattach to the job an earlier try of this task submitted.

        Durable submission (``airflow_batch_service.durable``): the job id is kept in
        ``context["task_state_store"]`` where Airflow has it (3.3+); otherwise, and as a safety
        net, a deterministic clientToken plus a ``list_service_jobs`` lookup by job name and
        token tag. Returns SubmitServiceJob's ``{jobId, jobArn, jobName}`` either way.
        """
        from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

        from airflow_batch_service.durable import DurableSubmitError, DurableSubmitter, TaskKey

        ti = context["ti"]
        submitter = DurableSubmitter(
            patience=float(self.submit_patience),
            hook=self.hook,
            key=TaskKey.from_context(context, dag_id=self.dag_id, task_id=self.task_id),
            log=self.log,
            store=context.get("task_state_store"),
            try_number=int(getattr(ti, "try_number", 1) or 1),
        )
        try:
            return submitter.submit(request).response
        except DurableSubmitError as err:
            raise (AirflowFailException if err.final else AirflowException)(str(err)) from err

    def execute(self, context: Context) -> str:
        from airflow_batch_service.waiting import now_ms

        self._started_ms = now_ms()
        persist_link_placeholders(context, self)
        request = self.build_request()
        self._kill_reason = kill_reason(self.dag_id, self.task_id, context)
        self.check_queue(request)
        submitted_ms, _ = self._submit(request, context)
        if self.wait_for_completion:
            summary = self._wait(context, submitted_ms)  # defers when self.deferrable
            if self.do_xcom_push:
                context["ti"].xcom_push(key="summary", value=summary)
        return str(self.job_id)

    def _submit(self, request: Mapping[str, Any], context: Context) -> tuple[int, dict[str, Any]]:
        """Submit (or reattach), push the job's XComs and link; ``(submitted_ms, response)``."""
        from airflow_batch_service.waiting import now_ms

        self.log.info(
            "Submitting service job %s to queue %s (%s)",
            request["jobName"],
            request["jobQueue"],
            request["serviceJobType"],
        )
        submitted_ms = now_ms()
        response = self.submit_durably(request, context)
        self.job_id = response["jobId"]
        ti = context["ti"]
        if self.do_xcom_push:
            ti.xcom_push(key="job_arn", value=response.get("jobArn"))
            ti.xcom_push(key="job_name", value=response.get("jobName"))
        BatchServiceJobDetailsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_id=self.job_id,
        )
        return submitted_ms, response

    def check_queue(self, request: Mapping[str, Any]) -> None:
        """Refuse a queue the job cannot go to, before submitting (see the class docstring)."""
        from airflow.providers.common.compat.sdk import AirflowFailException

        from airflow_batch_service.core.queue_check import queue_problems
        from airflow_batch_service.waiting import classify_exception

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
                name, exc,
            )
            return
        where = f" in region {self.hook.conn_region_name}"
        problems = queue_problems(name, queue, policy, request, where=where)
        if problems:
            message = describe_problems(problems)
            self.log.error(message)
            raise AirflowFailException(message)

    # -- the wait (sync or deferred; one semantics: airflow_batch_service.waiting) --------

    def _client_kwargs(self) -> dict[str, Any]:
        from airflow_batch_service.shared_clients import connection_kwargs

        return connection_kwargs(self)

    def _timeout_what(self) -> str:
        return f"The wait exceeded wait_timeout={self.wait_timeout:g}s."

    def _deadline(self, context: Context, started_ms: int) -> tuple[int | None, str | None, str]:
        """The wait's deadline (epoch ms), which limit it is, and its wording: the nearer of
        ``wait_timeout`` (from the submit) and what is left of ``execution_timeout``."""
        from airflow_batch_service.waiting import EXECUTION_TIMEOUT, WAIT_TIMEOUT

        limits: list[tuple[int, str, str]] = []
        if self.wait_timeout is not None:
            limits.append(
                (started_ms + int(self.wait_timeout * 1000), WAIT_TIMEOUT, self._timeout_what())
            )
        execution = execution_deadline_ms(self, context)
        if execution is not None:
            limits.append(
                (
                    execution,
                    EXECUTION_TIMEOUT,
                    f"The task exceeded execution_timeout={self.execution_timeout}.",
                )
            )
        if not limits:
            return None, None, ""
        return min(limits)

    def _wait(self, context: Context, started_ms: int) -> dict[str, Any]:
        """Wait here (or defer); resubmit once per job an earlier try's kill terminated."""
        from airflow_batch_service.waiting import finish

        for _ in range(MAX_KILL_RESUBMITS + 1):
            outcome = self._wait_once(context, started_ms)
            if not self._resubmit_after_kill(outcome.to_event(), context):
                return finish(outcome.to_event(), self.log, resubmit_on_retry=True)
            started_ms = self._resubmit(context)
        raise AssertionError("unreachable")  # _resubmit_after_kill stops after the limit

    def _wait_once(self, context: Context, started_ms: int) -> Any:
        from airflow_batch_service.waiting import SyncJobWait, now_ms

        assert self.job_id is not None
        region, partition = self.hook.conn_region_name, self.hook.conn_partition
        prefix = f"Airflow task {self.dag_id}.{self.task_id}: "
        if self.deferrable:
            self._defer(context, started_ms, prefix)
        latest: dict[str, str | None] = {"arn": None}
        tail = None
        if self.stream_logs:
            from airflow_batch_service.core.logtail import LogTail

            tail = LogTail()

        def on_verdict(verdict: Verdict) -> None:
            if tail is not None:
                from airflow_batch_service.training_logs import follow_verdict

                follow_verdict(tail, verdict)
            arn = verdict.latest_training_job_arn
            if arn and arn != latest["arn"]:
                latest["arn"] = arn
                persist_training_job_links(
                    context,
                    self,
                    region_name=region,
                    aws_partition=partition,
                    training_job_arn=arn,
                )

        logs_client: list[Any] = []

        def on_step(step: Any) -> None:
            if tail is None or step.verdict is None or not tail.due(now_ms(), final=step.done):
                return  # nothing to read yet: not even a client is built
            from airflow_batch_service.training_logs import fetch_new_lines

            if not logs_client:
                from airflow_batch_service.shared_clients import build_client

                logs_client.append(build_client("logs", **self._client_kwargs()))
            for line in fetch_new_lines(logs_client[0], tail):
                self.log.info("%s", line)

        # Only wait_timeout here: on a worker Airflow applies execution_timeout itself
        # (AirflowTaskTimeout, then on_kill terminates the job).
        sync_deadline = (
            started_ms + int(self.wait_timeout * 1000) if self.wait_timeout is not None else None
        )
        wait = SyncJobWait.create(
            self.hook,
            self.job_id,
            log=self.log,
            poll_interval=self.poll_interval,
            max_runnable_seconds=self.max_runnable_seconds,
            started_ms=started_ms,
            on_verdict=on_verdict,
            deadline_ms=sync_deadline,
            terminate_on_timeout=True,
            resubmit_on_retry=True,
            timeout_what=self._timeout_what() if self.wait_timeout is not None else "",
            not_found_grace=self.not_found_grace,
        )
        return wait.run_until_outcome(terminate_reason_prefix=prefix, on_step=on_step)

    def _defer(self, context: Context, started_ms: int, prefix: str) -> None:
        """Hand the wait to the triggerer. The job link is already persisted (execute)."""
        from airflow_batch_service.triggers.batch_service import (
            BatchServiceJobTrigger,
            defer_timeout,
        )
        from airflow_batch_service.waiting import now_ms

        deadline_ms, timeout_kind, timeout_what = self._deadline(context, started_ms)
        if deadline_ms is None:
            self.log.info(
                "Deferring the wait on service job %s to the triggerer: no time limit applies "
                "(neither execution_timeout nor wait_timeout is set); it lasts until the job ends",
                self.job_id,
            )
        else:
            self.log.info(
                "Deferring the wait on service job %s to the triggerer: %s applies, %.0fs from "
                "now; when it passes the job is terminated and the task fails",
                self.job_id,
                f"execution_timeout={self.execution_timeout}"
                if timeout_kind == "execution_timeout"
                else f"wait_timeout={self.wait_timeout:g}s",
                max(0.0, (deadline_ms - now_ms()) / 1000),
            )
        trigger = BatchServiceJobTrigger(
            job_id=str(self.job_id),
            **self._client_kwargs(),
            poll_interval=self.poll_interval,
            max_runnable_seconds=self.max_runnable_seconds,
            state={"started_ms": started_ms},
            deadline_ms=deadline_ms,
            terminate_on_timeout=True,
            timeout_what=timeout_what,
            timeout_kind=timeout_kind,
            terminate_on_kill=True,
            kill_reason=self._kill_reason,
            terminate_reason_prefix=prefix,
            stream_logs=self.stream_logs,
            not_found_grace=self.not_found_grace,
        )
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=defer_timeout(deadline_ms, self.poll_interval),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """The trigger's event -> what the sync wait returns: the jobId, with the summary XCom;
        or the same ``AirflowFailException`` / ``AirflowException``."""
        from airflow_batch_service.waiting import finish

        event = event or {}
        self.job_id = event.get("job_id") or self.job_id
        self._kill_reason = kill_reason(self.dag_id, self.task_id, context)
        arn = event.get("training_job_arn")
        if arn:
            persist_training_job_links(
                context,
                self,
                region_name=self.hook.conn_region_name,
                aws_partition=self.hook.conn_partition,
                training_job_arn=arn,
            )
        if self._resubmit_after_kill(event, context):
            summary = self._wait(context, self._resubmit(context))  # defers again
        else:
            summary = finish(event, self.log, resubmit_on_retry=True)
        if self.do_xcom_push:
            context["ti"].xcom_push(key="summary", value=summary)
        return str(self.job_id)

    # -- a clear while deferred: the old try's kill must not end the new try ------------

    def _resubmit_after_kill(self, event: Mapping[str, Any], context: Context) -> bool:
        """True when the job this try waited on was terminated by the kill of an EARLIER try
        of this task (a clear of a deferred task: the new try reattached to the running job,
        then the old trigger's ``on_kill`` terminated it). The new try then submits a fresh
        job, as it would have had the kill landed first (the sync clear)."""
        from airflow_batch_service.durable import killed_by_other_try

        if event.get("status") != "failed" or event.get("cause") != "terminated":
            return False
        try_number = int(getattr(context.get("ti"), "try_number", 1) or 1)
        other = killed_by_other_try(
            event.get("status_reason"), kill_reason_prefix(self.dag_id, self.task_id, context),
            try_number,
        )
        if other is None:
            return False
        if self._kill_resubmits >= MAX_KILL_RESUBMITS:
            return False
        self._kill_resubmits += 1
        self.log.warning(
            "Service job %s was terminated by the kill of try %s of this task (the task was "
            "cleared while deferred): this try %s submits a fresh job instead of failing",
            event.get("job_id"), other, try_number,
        )
        return True

    def _resubmit(self, context: Context) -> int:
        request = self.build_request()
        submitted_ms, _ = self._submit(request, context)
        return submitted_ms

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
