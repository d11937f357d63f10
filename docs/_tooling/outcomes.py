"""How a task ends when its job (or its wait) ends, and what the next try does: from the core.

Every row of the outcome tables in the docs is one :class:`Scenario`: a realistic
DescribeServiceJob response (or an AWS error) fed to ``core.wait.JobWait`` exactly as a wait
feeds it, which gives the :class:`~airflow_batch_service.core.wait.WaitOutcome`; then

- ``core.wait.ending`` (through ``waiting.finish``, which raises the exception it names) says
  what the task raises: the operator's own wait passes ``resubmit_on_retry=True``, the sensor
  does not;
- ``core.durable.decide`` on the job as the next try finds it says whether that try (an Airflow
  retry, or a clear) reattaches, resubmits or fails.

Nothing in the tables is typed by hand but the words describing each scenario; the tests in
``tests/docs/test_docs_generated.py`` pin each scenario's expected ending and decision, so a
change in the core fails a test instead of silently changing the docs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from airflow_batch_service.core import reasons
from airflow_batch_service.core.durable import Action, Decision, decide
from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.wait import (
    EXECUTION_TIMEOUT,
    SENSOR_TIMEOUT,
    WAIT_TIMEOUT,
    Ending,
    JobWait,
    Limit,
    WaitOutcome,
    ending,
)

JOB_ID = "X"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in epoch milliseconds
ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/AWSBatchtrain"

VALIDATION = reasons.sagemaker(
    "ValidationException: Could not assume role arn:aws:iam::123456789012:role/ml-training"
)
INTERNAL = reasons.sagemaker("InternalServerError: We encountered an internal error.")
ALGORITHM = reasons.sagemaker(
    'AlgorithmError: ExecuteUserScriptError: Command "python train.py" exited with 1'
)
#: AWS's documented example: retry internal errors, stop on everything else.
STRATEGY: dict[str, Any] = {
    "attempts": 2,
    "evaluateOnExit": [
        {"action": "RETRY", "onStatusReason": reasons.SAGEMAKER_PREFIX + "InternalServerError*"},
        {"action": "EXIT", "onStatusReason": reasons.SAGEMAKER_PREFIX + "ValidationException*"},
    ],
}


def _attempt(n: int, reason: str | None = None, *, done: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {
        "serviceResourceId": {"name": "TrainingJobArn", "value": f"{ARN}{n:032x}"},
        "startedAt": T0 + n * 100_000,
    }
    if done:
        item["stoppedAt"] = T0 + n * 100_000 + 60_000
    if reason is not None:
        item["statusReason"] = reason
    return item


def describe(
    status: str,
    attempts: list[dict[str, Any]] | None = None,
    reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A DescribeServiceJob response in botocore's shape."""
    attempts = attempts or []
    response: dict[str, Any] = {
        "jobId": JOB_ID,
        "jobArn": f"arn:aws:batch:us-east-1:123456789012:service-job/{JOB_ID}",
        "jobName": "train",
        "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/ml-training",
        "serviceJobType": "SAGEMAKER_TRAINING",
        "status": status,
        "createdAt": T0,
        "attempts": attempts,
        "isTerminated": False,
        **extra,
    }
    if reason is not None:
        response["statusReason"] = reason
    if attempts:
        response["latestAttempt"] = {"serviceResourceId": attempts[-1]["serviceResourceId"]}
    return response


RUNNING = describe("RUNNING", [_attempt(1, done=False)], retryStrategy=STRATEGY)
RUNNABLE = describe("RUNNABLE", retryStrategy=STRATEGY)


def _terminated(reason: str) -> dict[str, Any]:
    return describe("FAILED", [_attempt(1, reason)], reason, isTerminated=True)


# ------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class Scenario:
    """One way a wait ends. ``run`` drives a fresh ``JobWait`` and returns its outcome;
    ``after`` is the job as the next try of the task finds it (``None``: no job at all)."""

    key: str
    #: How the job or the wait ended, in a reader's words (the tables' first column).
    when: str
    run: Callable[[], WaitOutcome]
    after: Mapping[str, Any] | None
    #: Which tables show it: the operator's wait, the sensor's, or both.
    operator: bool = True
    sensor: bool = True
    #: The sensor's wait and its words, where they differ (the sensor does not own the job).
    sensor_run: Callable[[], WaitOutcome] | None = None
    sensor_when: str | None = None
    #: The words where both are shown side by side, where they differ.
    both_when: str | None = None

    def outcome(self, *, sensor: bool = False) -> WaitOutcome:
        return (self.sensor_run or self.run)() if sensor else self.run()

    def ending(self, *, sensor: bool = False) -> Ending:
        """``core.wait.ending`` as the operator (``resubmit_on_retry``) or the sensor calls it."""
        return ending(self.outcome(sensor=sensor), resubmit_on_retry=not sensor)[0]

    def next_try(self) -> Decision:
        return decide(self.after, origin="try 1")


def _wait(**kwargs: Any) -> JobWait:
    kwargs.setdefault("poll_interval", 30.0)
    kwargs.setdefault("started_ms", T0)
    return JobWait.create(JOB_ID, **kwargs)


def _ends_with(response: Mapping[str, Any]) -> Callable[[], WaitOutcome]:
    """A wait that sees the job running, then ``response``."""

    def run() -> WaitOutcome:
        wait = _wait()
        wait.on_response(RUNNING, T0 + 200_000)
        step = wait.on_response(response, T0 + 400_000)
        outcome = wait.outcome(step, T0 + 400_000)
        assert outcome is not None, response
        return outcome

    return run


def _owner_terminates(**kwargs: Any) -> Callable[[], WaitOutcome]:
    """A wait whose owner terminates the job (``max_runnable_seconds`` or a deadline)."""

    def run() -> WaitOutcome:
        wait = _wait(**kwargs)
        now = T0
        for now in (T0 + 10_000, T0 + 7_300_000):
            outcome = wait.outcome(wait.on_response(RUNNABLE, now), now)
        assert outcome is not None and outcome.terminate_reason, outcome
        return wait.terminated(outcome, None)

    return run


def _deadline(kind: str, *, owner: bool) -> Callable[[], WaitOutcome]:
    limit = Limit(T0 + 3_600_000, kind, f"The wait exceeded {kind}.", f"{kind}=3600")
    if owner:
        return _owner_terminates(limit=limit, terminate_on_timeout=True)

    def run() -> WaitOutcome:
        wait = _wait(limit=limit)
        now = T0 + 7_300_000
        outcome = wait.outcome(wait.on_response(RUNNABLE, now), now)
        assert outcome is not None, limit
        return outcome

    return run


def _aws_error(kind: ErrorKind, message: str, **kwargs: Any) -> Callable[[], WaitOutcome]:
    def run() -> WaitOutcome:
        wait = _wait(**kwargs)
        if kind is not ErrorKind.NOT_FOUND:
            wait.on_response(RUNNING, T0 + 200_000)
        now = T0 + 400_000
        outcome = wait.outcome(wait.on_error(kind, message, now), now)
        assert outcome is not None, message
        return outcome

    return run


SUCCEEDED = describe(
    "SUCCEEDED",
    [_attempt(1, reasons.TRAINING_COMPLETED)],
    reasons.TRAINING_COMPLETED,
    retryStrategy=STRATEGY,
)
EXIT_RULE = describe("FAILED", [_attempt(1, VALIDATION)], VALIDATION, retryStrategy=STRATEGY)
RETRIES_USED = describe(
    "FAILED", [_attempt(1, INTERNAL), _attempt(2, INTERNAL)], INTERNAL, retryStrategy=STRATEGY
)
NO_RULE_USED = describe(
    "FAILED", [_attempt(1, ALGORITHM)], ALGORITHM, retryStrategy={"attempts": 1}
)
TIMED_OUT = describe(
    "FAILED",
    [_attempt(1, reasons.ATTEMPT_TIMEOUT)],
    reasons.ATTEMPT_TIMEOUT,
    retryStrategy={"attempts": 2},
    timeoutConfig={"attemptDurationSeconds": 3600},
)
PREEMPTED = describe(
    "FAILED",
    [_attempt(1, reasons.PREEMPTION)],
    reasons.PREEMPTION_LIMIT,
    preemptionConfiguration={"preemptionRetriesBeforeTermination": 2},
)
NO_DETAIL = describe("FAILED")
BY_A_PERSON = _terminated("Terminated by alice: wrong dataset")
BY_THE_TASK = _terminated("Airflow task train_dag.submit: the job was terminated by its wait")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("succeeded", "the job SUCCEEDED", _ends_with(SUCCEEDED), SUCCEEDED),
    Scenario(
        "exit_rule",
        "FAILED: an `evaluateOnExit` EXIT rule matched",
        _ends_with(EXIT_RULE),
        EXIT_RULE,
    ),
    Scenario(
        "attempts_exhausted_retry_rule",
        "FAILED: attempts exhausted, a RETRY rule matched the last attempt",
        _ends_with(RETRIES_USED),
        RETRIES_USED,
    ),
    Scenario(
        "attempts_exhausted_no_rule",
        "FAILED: attempts exhausted, no rule matched the last attempt",
        _ends_with(NO_RULE_USED),
        NO_RULE_USED,
    ),
    Scenario(
        "timed_out",
        "FAILED: an attempt ran past `timeoutConfig.attemptDurationSeconds`",
        _ends_with(TIMED_OUT),
        TIMED_OUT,
    ),
    Scenario(
        "preemption_limit",
        "FAILED: preempted more often than `preemptionRetriesBeforeTermination` allows",
        _ends_with(PREEMPTED),
        PREEMPTED,
    ),
    Scenario(
        "unknown",
        "FAILED, and Batch gave no attempt-level detail",
        _ends_with(NO_DETAIL),
        NO_DETAIL,
    ),
    Scenario(
        "terminated",
        "FAILED: terminated (by a person, or a queue's time limit)",
        _ends_with(BY_A_PERSON),
        BY_A_PERSON,
    ),
    Scenario(
        "max_runnable_seconds",
        "stuck in `RUNNABLE` past `max_runnable_seconds`: the wait terminates the job",
        _owner_terminates(max_runnable_seconds=7200),
        BY_THE_TASK,
    ),
    Scenario(
        "wait_timeout",
        "`wait_timeout` passed: the operator terminates the job",
        _deadline(WAIT_TIMEOUT, owner=True),
        BY_THE_TASK,
        sensor=False,
    ),
    Scenario(
        "sensor_timeout",
        "the sensor's `timeout` passed: the job keeps running",
        _deadline(SENSOR_TIMEOUT, owner=False),
        RUNNING,
        operator=False,
    ),
    Scenario(
        "execution_timeout",
        "`execution_timeout` passed during a deferred wait: the operator terminates the job",
        _deadline(EXECUTION_TIMEOUT, owner=True),
        BY_THE_TASK,
        sensor_run=_deadline(EXECUTION_TIMEOUT, owner=False),
        sensor_when="`execution_timeout` passed during a deferred wait: the job keeps running",
        both_when="`execution_timeout` passed during a deferred wait (the operator terminates "
        "its job, the sensor leaves it running)",
    ),
    Scenario(
        "not_found",
        "the job was never found (not found for longer than `not_found_grace`)",
        _aws_error(ErrorKind.NOT_FOUND, f"Job {JOB_ID} does not exist", not_found_grace=120.0),
        None,
    ),
    Scenario(
        "fatal_error",
        "a fatal AWS error while waiting (bad credentials, access denied); the job runs on",
        _aws_error(ErrorKind.FATAL, "AccessDeniedException"),
        RUNNING,
    ),
)


# ------------------------------------------------------------------------------ tables


def raised(outcome: WaitOutcome, *, resubmit_on_retry: bool) -> str:
    """The class name of what ``waiting.finish`` raises for ``outcome`` ("" if it returns)."""
    from airflow_batch_service._shared.waiting import finish

    quiet = SimpleNamespace(error=lambda *args, **kwargs: None)
    try:
        finish(outcome, quiet, resubmit_on_retry=resubmit_on_retry)
    except BaseException as err:  # the point: which class (AirflowTaskTimeout is no Exception)
        return type(err).__name__
    return ""


#: Whether Airflow's ``retries`` apply, per ending (``Ending`` is the core's vocabulary).
AIRFLOW_RETRIES: dict[Ending, str] = {
    Ending.RETURN: "-",
    Ending.FAIL: "no",
    Ending.RETRY: "yes, while `retries` last",
    Ending.TASK_TIMEOUT: "yes, while `retries` last",
    Ending.SENSOR_TIMEOUT: "no (a skip with `soft_fail`)",
}

#: What a new try does, per ``core.durable.Action``.
NEXT_TRY: dict[Action, str] = {
    Action.REATTACH: "reattaches",
    Action.SUBMIT: "submits a new job",
    Action.FAIL: "fails again with `AirflowFailException`, submits nothing",
}


def _exception(scenario: Scenario, *, sensor: bool) -> str:
    name = raised(scenario.outcome(sensor=sensor), resubmit_on_retry=not sensor)
    return f"`{name}`" if name else "none: succeeds"


def _cause(outcome: WaitOutcome) -> str:
    return f"`{outcome.cause}`" if outcome.cause else "-"


def _next_try(scenario: Scenario) -> str:
    decision = scenario.next_try()
    words = NEXT_TRY[decision.action]
    if decision.action is Action.REATTACH and decision.verdict is not None:
        words += " (returns the job)" if decision.verdict.succeeded else " (waits on the job)"
    if scenario.after is None:
        words += " (no job of the task exists)"
    return words


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def operator_endings() -> str:
    """The operator's own wait (``wait_for_completion``): what the task raises, whether Airflow
    retries it, and what the next try does about the job."""
    lines = [
        "| how the job or the wait ended | cause | the task raises | Airflow retries it | "
        "the next try (an Airflow retry, or a clear) |",
        "|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        if scenario.operator:
            lines.append(
                _row(
                    [
                        scenario.when,
                        _cause(scenario.outcome()),
                        _exception(scenario, sensor=False),
                        AIRFLOW_RETRIES[scenario.ending()],
                        _next_try(scenario),
                    ]
                )
            )
    return "\n".join(lines) + "\n"


def sensor_endings() -> str:
    """The sensor: what the task raises and whether Airflow retries it (it never submits)."""
    lines = [
        "| how the job or the wait ended | cause | the sensor raises | Airflow retries it |",
        "|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        if scenario.sensor:
            lines.append(
                _row(
                    [
                        scenario.sensor_when or scenario.when,
                        _cause(scenario.outcome(sensor=True)),
                        _exception(scenario, sensor=True),
                        AIRFLOW_RETRIES[scenario.ending(sensor=True)],
                    ]
                )
            )
    return "\n".join(lines) + "\n"


def both_endings() -> str:
    """The operator's wait and the sensor side by side: the same outcome, two endings."""
    lines = [
        "| how the job or the wait ended | cause | operator (`wait_for_completion`) | sensor |",
        "|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        cells = []
        for applies, sensor in ((scenario.operator, False), (scenario.sensor, True)):
            if not applies:
                cells.append("-")
                continue
            how = scenario.ending(sensor=sensor)
            exception = _exception(scenario, sensor=sensor)
            cells.append(
                exception
                if how is Ending.RETURN
                else f"{exception}; retried: {AIRFLOW_RETRIES[how]}"
            )
        cause = _cause(scenario.outcome(sensor=not scenario.operator))
        lines.append(_row([scenario.both_when or scenario.when, cause, *cells]))
    return "\n".join(lines) + "\n"


#: The previous jobs a new try can find, for the durable-submission table.
PREVIOUS_JOBS: tuple[tuple[str, Mapping[str, Any] | None], ...] = (
    ("none", None),
    ("in progress (`RUNNABLE`)", RUNNABLE),
    ("in progress (`RUNNING`)", RUNNING),
    ("a status this version does not know", describe("PAUSED", retryStrategy=STRATEGY)),
    ("`SUCCEEDED`", SUCCEEDED),
    ("`FAILED`: an EXIT rule matched", EXIT_RULE),
    ("`FAILED`: attempts exhausted", RETRIES_USED),
    ("`FAILED`: an attempt timed out", TIMED_OUT),
    ("`FAILED`: the preemption limit", PREEMPTED),
    ("`FAILED`: terminated", BY_A_PERSON),
    ("`FAILED` with no attempt-level detail", NO_DETAIL),
)

ACTION_WORDS: dict[Action, str] = {
    Action.SUBMIT: "submits a new job, with a new clientToken",
    Action.REATTACH: "reattaches: waits on it, or returns its jobId",
    Action.FAIL: "fails the task with `AirflowFailException`: the strategy said the failure "
    "is final, so Airflow does not retry it",
}


def durable_decisions() -> str:
    """``core.durable.decide`` for each kind of job an earlier try can leave behind."""
    lines = [
        "| the task key's previous job | `core.durable.decide` | what the operator does | "
        "log line |",
        "|---|---|---|---|",
    ]
    for label, previous in PREVIOUS_JOBS:
        decision = decide(previous, origin="try 1")
        message = decision.message
        if decision.verdict is not None:
            message = message.removesuffix(decision.verdict.headline()).rstrip(" .")
        if previous is None:
            what = "submits, with the clientToken derived for the task key and job name"
        elif decision.action is Action.REATTACH and decision.verdict and decision.verdict.succeeded:
            what = "returns it: no new job"
        else:
            what = ACTION_WORDS[decision.action]
        lines.append(_row([label, f"`{decision.action.value}`", what, f"`{message}`"]))
    return "\n".join(lines) + "\n"
