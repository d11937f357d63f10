"""What ``BatchSubmitServiceJobOperator`` does when it runs: validate, check the queue, submit
durably, and (with ``wait_for_completion``) wait here or defer, resubmitting once per job an
earlier try's kill terminated.

The operator's entry points (``execute``, ``execute_complete``, ``build_request``,
``check_queue``, ``submit_durably``) import this module when a task runs, one lazy import each:
every DAG file imports the operator, and parsing a DAG must not load validation, the payload
model, durable submission or the wait that this module imports (``benchmarks/import_time.py``
measures it, ``tests/provider/test_packaging.py`` checks it). Private glue may not import the
shells, so the operator hands in what only a shell has: its links (``ServiceJobLinks``) and
its trigger (``task._defer_wait``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_batch_service._shared import waiting
from airflow_batch_service._shared.durable import DurableSubmitError, DurableSubmitter, TaskKey
from airflow_batch_service._shared.submit_request import build_submit_request, describe_problems
from airflow_batch_service._shared.task_end import end_task
from airflow_batch_service._shared.wait_spec import WaitSpec
from airflow_batch_service.core.durable import killed_by_other_try
from airflow_batch_service.core.errors import classify_exception
from airflow_batch_service.core.limits import WAIT_TIMEOUT, Limit, deadline, nearest
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.queue_check import queue_problems
from airflow_batch_service.core.reasons import SAGEMAKER_PREFIX
from airflow_batch_service.core.retry import RetryStrategy, unreachable_prefix_rules
from airflow_batch_service.core.strict_json import strict_json
from airflow_batch_service.core.wait import WaitOutcome, wait_flow

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_batch_service.links.batch_service import ServiceJobLinks
    from airflow_batch_service.operators.batch_service import (
        BatchSubmitServiceJobOperator as Operator,
    )

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


def execute(task: Operator, context: Context, links: ServiceJobLinks) -> str:
    """Validate, check the queue, submit (or reattach); wait when asked (defers when
    deferrable). The job link placeholders are persisted already (the operator does it)."""
    request = task.build_request()
    task._kill_reason = kill_reason(task.dag_id, task.task_id, context)
    task.check_queue(request)
    submitted_ms = _submit(task, request, context, links)
    if task.wait_for_completion:
        _finish(task, context, _wait(task, context, submitted_ms, links))
    return str(task.job_id)


def execute_complete(
    task: Operator, context: Context, event: Mapping[str, Any] | None, links: ServiceJobLinks
) -> str:
    """The trigger's event -> what the sync wait ends with: the jobId and the summary XCom,
    or the same exception."""
    outcome = WaitOutcome.from_event(event or {})
    task.job_id = outcome.job_id or task.job_id
    task._kill_reason = kill_reason(task.dag_id, task.task_id, context)
    if outcome.training_job_arn:
        links.training(outcome.training_job_arn)
    outcomes = [outcome]
    if _resubmit_after_kill(task, outcome, context):
        started_ms = _submit(task, task.build_request(), context, links)
        outcomes += _wait(task, context, started_ms, links)
    _finish(task, context, outcomes)
    return str(task.job_id)


# -- the request ------------------------------------------------------------------------


_BUILDER_ARGUMENTS = tuple(inspect.signature(build_submit_request).parameters)


def build_request(task: Operator) -> dict[str, Any]:
    """The validated SubmitServiceJob request; raises ``AirflowFailException`` if invalid."""
    # Every argument of the builder is an attribute of the operator, by the same name.
    arguments = {name: getattr(task, name) for name in _BUILDER_ARGUMENTS}
    request, problems = build_submit_request(**arguments)
    if problems:
        message = describe_problems(problems)
        task.log.error(message)
        raise AirflowFailException(message)
    _warn_unreachable_rules(task, request.get("retryStrategy"))
    return request


def _warn_unreachable_rules(task: Operator, strategy: Mapping[str, Any] | None) -> None:
    for rule in unreachable_prefix_rules(RetryStrategy.from_api(strategy)):
        task.log.warning(
            "retry_strategy %s can never match: SageMaker reasons start with %r (with a "
            "space after the colon; the SageMaker SDK's constant lacks it). Write %r.",
            rule.describe(),
            SAGEMAKER_PREFIX,
            SAGEMAKER_PREFIX + rule.on_status_reason[len(SAGEMAKER_PREFIX.rstrip()) :],
        )


def check_queue(task: Operator, request: Mapping[str, Any]) -> None:
    """Refuse a queue the job cannot go to, before submitting (the operator's docstring)."""
    name = str(request["jobQueue"])
    try:
        queue = task.hook.describe_job_queue(name)
        policy_arn = (queue or {}).get("schedulingPolicyArn")
        policy = task.hook.describe_scheduling_policy(policy_arn) if policy_arn else None
    except Exception as exc:
        if classify_exception(exc) is None:
            raise
        task.log.warning(
            "Could not check job queue %s before submitting (%s); submitting without the "
            "check (batch:DescribeJobQueues and batch:DescribeSchedulingPolicies allow it)",
            name,
            exc,
        )
        return
    where = f" in region {task.hook.conn_region_name}"
    problems = queue_problems(name, queue, policy, request, where=where)
    if problems:
        message = describe_problems(problems)
        task.log.error(message)
        raise AirflowFailException(message)


# -- submitting --------------------------------------------------------------------------


def submit_durably(task: Operator, request: Mapping[str, Any], context: Context) -> dict[str, Any]:
    """Submit, or reattach to the job an earlier try of this task submitted (the operator's
    ``submit_durably``): SubmitServiceJob's ``{jobId, jobArn, jobName}`` either way."""
    submitter = DurableSubmitter(
        hook=task.hook,
        key=TaskKey.from_context(context, dag_id=task.dag_id, task_id=task.task_id),
        log=task.log,
        store=context.get("task_state_store"),
        try_number=_try_number(context),
        patience=float(task.submit_patience),
    )
    try:
        return submitter.submit(request).response
    except DurableSubmitError as err:
        raise (AirflowFailException if err.final else AirflowException)(str(err)) from err


def _try_number(context: Context) -> int:
    """The running try's number (1 where the context has none, as in a bare test)."""
    return int(getattr(context.get("ti"), "try_number", 1) or 1)


def _submit(
    task: Operator, request: Mapping[str, Any], context: Context, links: ServiceJobLinks
) -> int:
    """Submit (or reattach), push the job's XComs and link; when it was submitted."""
    task.log.info(
        "Submitting service job %s to queue %s (%s)",
        request["jobName"],
        request["jobQueue"],
        request["serviceJobType"],
    )
    submitted_ms = waiting.now_ms()
    response = task.submit_durably(request, context)
    task.job_id = response["jobId"]
    if task.do_xcom_push:  # AWS's text: strict JSON, as everything Airflow stores
        context["ti"].xcom_push(key="job_arn", value=strict_json(response.get("jobArn")))
        context["ti"].xcom_push(key="job_name", value=strict_json(response.get("jobName")))
        # Which try attached to job_arn: a kill that lands after a clear's new try reattached
        # tells a clear from a hand-over by it (``core.kill_rule``).
        context["ti"].xcom_push(key="try_number", value=_try_number(context))
    links.job(str(task.job_id))
    return submitted_ms


# -- the wait (sync or deferred: one wait, core.wait, driven by _shared.waiting) ----------


def wait_limit(
    task: Operator, context: Context, started_ms: int, *, deferred: bool
) -> Limit | None:
    """The wait's deadline: ``wait_timeout`` from the submit and, deferred, what is left of
    ``execution_timeout`` (on a worker Airflow applies that one itself); the nearer."""
    waited = None
    if task.wait_timeout is not None:
        waited = deadline(WAIT_TIMEOUT, started_ms, task.wait_timeout)
    return nearest([waited, waiting.execution_limit(task, context) if deferred else None])


def wait_spec(task: Operator, context: Context, started_ms: int, *, deferred: bool) -> WaitSpec:
    """The operator's wait on its job, here or in the triggerer: it owns the job."""
    return waiting.task_spec(
        task,
        limit=wait_limit(task, context, started_ms, deferred=deferred),
        owns_job=True,
        job_id=str(task.job_id),
        poll_interval=task.poll_interval,
        max_runnable_seconds=task.max_runnable_seconds,
        state={"started_ms": started_ms},
        kill_reason=task._kill_reason,
        terminate_reason_prefix=f"Airflow task {task.dag_id}.{task.task_id}: ",
        stream_logs=task.stream_logs,
        not_found_grace=task.not_found_grace,
        read_training_result=task.read_training_result,
    )


def _wait(
    task: Operator, context: Context, started_ms: int, links: ServiceJobLinks
) -> list[WaitOutcome]:
    """Wait here (or defer); submit afresh once per job an earlier try's kill terminated.
    Returns every outcome, the last one deciding how the task ends."""
    outcomes: list[WaitOutcome] = []
    while True:
        if task.deferrable:
            defer(task, context, started_ms)
        outcome = _wait_here(task, context, started_ms, links)
        outcomes.append(outcome)
        if not _resubmit_after_kill(task, outcome, context):
            return outcomes
        started_ms = _submit(task, task.build_request(), context, links)


def _wait_here(
    task: Operator, context: Context, started_ms: int, links: ServiceJobLinks
) -> WaitOutcome:
    spec = wait_spec(task, context, started_ms, deferred=False)
    tail = LogTail() if spec.stream_logs else None
    flow = wait_flow(waiting.job_wait(spec), clock=waiting.now_ms, tail=tail)
    outcome = waiting.run(flow, task.hook, task.log, on_seen=links.seen)
    assert outcome is not None  # the flow runs until the wait ends
    return outcome


def defer(task: Operator, context: Context, started_ms: int) -> None:
    """Hand the wait to the triggerer. The job link is already persisted (``_submit``)."""
    waiting.defer(task, wait_spec(task, context, started_ms, deferred=True))


def _finish(task: Operator, context: Context, outcomes: list[WaitOutcome]) -> None:
    """End the task as the last outcome says; the summary (strict JSON: ``end_task``) and
    the timeline to XCom."""
    summary = end_task(context, task, outcomes, resubmit_on_retry=True)
    if task.do_xcom_push:
        context["ti"].xcom_push(key="summary", value=summary)


# -- a clear while deferred: the old try's kill must not end the new try ----------------


def _resubmit_after_kill(task: Operator, outcome: WaitOutcome, context: Context) -> bool:
    """True when the job this try waited on was terminated by the kill of an EARLIER try
    of this task (a clear of a deferred task: the new try reattached to the running job,
    then the old trigger's ``on_kill`` terminated it). The new try then submits a fresh
    job, as it would have had the kill landed first (the sync clear)."""
    if outcome.status != "failed" or outcome.cause != "terminated":
        return False
    try_number = _try_number(context)
    prefix = kill_reason_prefix(task.dag_id, task.task_id, context)
    other = killed_by_other_try(outcome.status_reason, prefix, try_number)
    if other is None or task._kill_resubmits >= MAX_KILL_RESUBMITS:
        return False
    task._kill_resubmits += 1
    task.log.warning(
        "Service job %s was terminated by the kill of try %s of this task (the task was "
        "cleared while deferred): this try %s submits a fresh job instead of failing",
        outcome.job_id,
        other,
        try_number,
    )
    return True
