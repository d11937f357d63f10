"""What AWS Batch does after a service job's run ends, case by case, from AWS's documentation.

One table, written from the documentation alone (``shared/reference/service-jobs-api.md``
gathers it, saying what is documented and what inferred; ``aws_docs`` quotes it), that both
sides are checked against (``test_retry_cases.py``): the provider's ``core.retry`` (which
explains what Batch did) and the emulator (which plays Batch). Were the two to share an
implementation, a misread rule would pass every test; against this table, each side's reading
is checked on its own.

Each case: the job's ``retryStrategy`` (and ``preemptionConfiguration``), the runs before the
one under test, that run's outcome (its ``statusReason``, how it ended, its attempt number as
AWS counts them), what AWS does next, which rule decides, and the documentation it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from . import aws_docs as doc

# -- status reasons, as AWS words them -----------------------------------------------------------

#: Documented prefix of every reason relayed from SageMaker.
SAGEMAKER = "Received status from SageMaker: "
ISE = SAGEMAKER + "InternalServerError: We encountered an internal error."
VALIDATION = SAGEMAKER + "ValidationException: bad hyperparameter"
ALGORITHM = SAGEMAKER + "AlgorithmError: exit code 1"
#: Documented reason of a preemption.
PREEMPTED_REASON = (
    "PREEMPTION_IN_PROGRESS: Cross-share preemption triggered to reclaim borrowed capacity"
)
#: Inferred (container jobs' words): an attempt stopped by attemptDurationSeconds.
TIMEOUT = "Job attempt duration exceeded timeout"


def strategy(attempts: int, *rules: tuple[str, str]) -> dict[str, Any]:
    """``strategy(3, ("RETRY", "x*"))`` -> a retryStrategy with those (action, pattern) rules."""
    out: dict[str, Any] = {"attempts": attempts}
    if rules:
        out["evaluateOnExit"] = [{"action": a, "onStatusReason": p} for a, p in rules]
    return out


#: AWS's documented example strategy.
AWS_EXAMPLE = strategy(
    5,
    ("RETRY", SAGEMAKER + "InternalServerError*"),
    ("EXIT", SAGEMAKER + "ValidationException*"),
    ("EXIT", "*"),
)

# -- the table's shape ---------------------------------------------------------------------------


class Run(StrEnum):
    """How a run ended."""

    FAILED = "failed"  # the training job failed with the status reason
    TIMED_OUT = "timed_out"  # stopped by timeoutConfig.attemptDurationSeconds
    CAPACITY = "capacity"  # SageMaker had no capacity for it
    PREEMPTED = "preempted"  # its capacity was taken back


class Expect(StrEnum):
    """What AWS does next."""

    RETRY = "retry"  # a new attempt: back to RUNNABLE, one attempt used
    REQUEUE = "requeue"  # back to RUNNABLE, no attempt used
    EXIT = "exit"  # the job is FAILED now


RETRY, REQUEUE, EXIT = Expect.RETRY, Expect.REQUEUE, Expect.EXIT
TIMED_OUT = Run.TIMED_OUT


@dataclass(frozen=True)
class Earlier:
    """A run before the one under test (its reason: for a failed run)."""

    run: Run
    status_reason: str | None = None


CAPACITY_RUN, PREEMPTED_RUN = Earlier(Run.CAPACITY), Earlier(Run.PREEMPTED)


@dataclass(frozen=True)
class RetryCase:
    id: str
    retry_strategy: dict[str, Any] | None
    status_reason: str  # the run's statusReason
    expected: Expect
    rule: int | None  # the first matching rule, 1-based; None: none matches, or not consulted
    doc: str  # the documented rule the case exercises (an ``aws_docs`` quote)
    attempt: int = 1  # the run's attempt number, 1-based, as AWS counts attempts
    earlier: tuple[Earlier, ...] = ()
    run: Run = Run.FAILED
    preemption_configuration: dict[str, Any] | None = None
    preemptions: int = 0  # for a preempted run: the job's how-manieth preemption this is

    @property
    def preempted(self) -> bool:
        return self.run is Run.PREEMPTED


def failed(reason: str, times: int = 1) -> tuple[Earlier, ...]:
    return (Earlier(Run.FAILED, reason),) * times


def glob(case_id: str, pattern: str, matches: bool, quote: str, action: str = "RETRY") -> RetryCase:
    """An ISE failure against one rule ``action pattern``, then AWS's recommended closing
    ``EXIT *``: a match decides by rule 1, a miss shows as rule 2 (EXIT)."""
    rules = strategy(3, (action, pattern), ("EXIT", "*"))
    if not matches:
        return RetryCase(case_id, rules, ISE, EXIT, 2, quote)
    return RetryCase(case_id, rules, ISE, RETRY if action == "RETRY" else EXIT, 1, quote)


def preemption(
    case_id: str, allowed: int | None, preemptions: int, expected: Expect, **extra: Any
) -> RetryCase:
    """The job's ``preemptions``-th preemption, ``preemptionRetriesBeforeTermination=allowed``."""
    configuration = None if allowed is None else {"preemptionRetriesBeforeTermination": allowed}
    extra.setdefault("earlier", (PREEMPTED_RUN,) * (preemptions - 1))
    return RetryCase(
        case_id,
        extra.pop("retry_strategy", None),
        PREEMPTED_REASON,
        expected,
        None,
        extra.pop("quote", doc.PREEMPTION),
        run=Run.PREEMPTED,
        preemption_configuration=configuration,
        preemptions=preemptions,
        **extra,
    )


# -- the table -----------------------------------------------------------------------------------

EXIT_FIRST = strategy(3, ("EXIT", "*Validation*"), ("RETRY", "*"))
RETRY_FIRST = strategy(3, ("RETRY", "*"), ("EXIT", "*Validation*"))
TWO_RETRIES = strategy(3, ("RETRY", "*Internal*"), ("RETRY", "*"), ("EXIT", "*"))
NONE_MATCH = strategy(2, ("EXIT", "Nope*"))
RETRY_ANY = ("RETRY", "*")
RETRY_ALL = strategy(3, RETRY_ANY)

CASES: list[RetryCase] = [
    # onStatusReason globs
    glob("trailing-star-is-a-prefix-match", SAGEMAKER + "Internal*", True, doc.GLOB),
    glob("no-star-needs-the-whole-reason", SAGEMAKER + "InternalServerError", False, doc.GLOB),
    glob("no-star-equal-reason-matches", ISE, True, doc.GLOB),
    glob("star-may-match-nothing", ISE + "*", True, doc.GLOB),
    glob("pattern-longer-than-reason", ISE + " and more*", False, doc.GLOB),
    glob("case-sensitive", SAGEMAKER.lower() + "internalservererror*", False, doc.GLOB),
    glob("leading-star", "*InternalServerError*", True, doc.STARS),
    glob("star-in-the-middle", SAGEMAKER + "*Error: We*", True, doc.STARS),
    glob("several-stars-in-order", "*Internal*internal*", True, doc.STARS),
    glob("several-stars-out-of-order", "*internal*Internal*", False, doc.STARS),
    glob("star-alone-matches-anything", "*", True, doc.STARS, action="EXIT"),
    glob("question-mark-is-literal", SAGEMAKER + "InternalServerErro?*", False, doc.STARS),
    glob("dot-is-literal", SAGEMAKER + "InternalServerError.*", False, doc.STARS),
    glob("brackets-are-literal", SAGEMAKER + "[I]nternalServerError*", False, doc.STARS),
    glob("sdk-prefix-without-space", SAGEMAKER.strip() + "Internal*", False, doc.SDK_PREFIX),
    glob("prefix-tolerating-both", SAGEMAKER.strip() + "*Internal*", True, doc.SDK_PREFIX),
    # AWS's documented example
    RetryCase("example-ise-retries", AWS_EXAMPLE, ISE, RETRY, 1, doc.EXAMPLE),
    RetryCase("example-validation-exits", AWS_EXAMPLE, VALIDATION, EXIT, 2, doc.EXAMPLE),
    RetryCase("example-anything-else-exits", AWS_EXAMPLE, ALGORITHM, EXIT, 3, doc.EXAMPLE),
    RetryCase(
        "example-ise-on-attempt-4-retries", AWS_EXAMPLE, ISE, RETRY, 1, doc.ATTEMPTS,
        attempt=4, earlier=failed(ISE, 3),
    ),
    RetryCase(
        "example-ise-on-attempt-5-exits", AWS_EXAMPLE, ISE, EXIT, 1, doc.ATTEMPTS,
        attempt=5, earlier=failed(ISE, 4),
    ),
    RetryCase(
        "example-validation-after-a-retry", AWS_EXAMPLE, VALIDATION, EXIT, 2, doc.EXAMPLE,
        attempt=2, earlier=failed(ISE),
    ),
    # rule order
    RetryCase("first-match-exit-wins", EXIT_FIRST, VALIDATION, EXIT, 1, doc.ORDER),
    RetryCase("first-match-retry-wins", RETRY_FIRST, VALIDATION, RETRY, 1, doc.ORDER),
    RetryCase("later-rule-when-first-misses", EXIT_FIRST, ISE, RETRY, 2, doc.ORDER),
    RetryCase("first-of-two-matching-retries", TWO_RETRIES, ISE, RETRY, 1, doc.ORDER),
    RetryCase(
        "exit-rule-with-attempts-left", EXIT_FIRST, VALIDATION, EXIT, 1, doc.ACTIONS,
        attempt=2, earlier=failed(ISE),
    ),
    # no rules, no matching rule, no strategy
    RetryCase("no-rules-retries", strategy(3), ALGORITHM, RETRY, None, doc.ATTEMPTS),
    RetryCase(
        "no-rules-last-attempt-exits", strategy(3), ALGORITHM, EXIT, None, doc.ATTEMPTS,
        attempt=3, earlier=failed(ALGORITHM, 2),
    ),
    RetryCase("no-rule-matches-retries", NONE_MATCH, ALGORITHM, RETRY, None, doc.NO_MATCH),
    RetryCase(
        "no-rule-matches-last-attempt-exits", NONE_MATCH, ALGORITHM, EXIT, None, doc.NO_MATCH,
        attempt=2, earlier=failed(ALGORITHM),
    ),
    RetryCase("no-strategy-one-attempt", None, ALGORITHM, EXIT, None, doc.NO_STRATEGY),
    # attempts
    RetryCase("attempts-1-retry-rule-exits", strategy(1, RETRY_ANY), ISE, EXIT, 1, doc.ATTEMPTS),
    RetryCase("attempts-1-no-rules-exits", strategy(1), ISE, EXIT, None, doc.ATTEMPTS),
    RetryCase(
        "attempts-2-second-exits", strategy(2, RETRY_ANY), ISE, EXIT, 1, doc.ATTEMPTS,
        attempt=2, earlier=failed(ISE),
    ),
    RetryCase(
        "attempts-10-ninth-retries", strategy(10), ISE, RETRY, None, doc.ATTEMPTS,
        attempt=9, earlier=failed(ISE, 8),
    ),
    # what counts as an attempt
    RetryCase(
        "capacity-runs-use-no-attempt", strategy(2), ALGORITHM, RETRY, None, doc.CAPACITY,
        earlier=(CAPACITY_RUN,) * 3,
    ),
    RetryCase(
        "capacity-between-failures", strategy(2), ALGORITHM, EXIT, None, doc.CAPACITY,
        attempt=2, earlier=(*failed(ALGORITHM), CAPACITY_RUN),
    ),
    RetryCase(
        "attempts-1-survives-capacity", strategy(1), ISE, EXIT, None, doc.CAPACITY,
        earlier=(CAPACITY_RUN, CAPACITY_RUN),
    ),
    RetryCase(
        "preempted-runs-use-no-attempt", strategy(2), ALGORITHM, RETRY, None, doc.PREEMPTED,
        earlier=(PREEMPTED_RUN, PREEMPTED_RUN),
    ),
    RetryCase(
        "preemption-between-failures", strategy(2), ALGORITHM, EXIT, None, doc.PREEMPTED,
        attempt=2, earlier=(*failed(ALGORITHM), PREEMPTED_RUN),
    ),
    # preemption
    preemption("preempted-unset-requeues", None, 1, REQUEUE),
    preemption("preempted-unset-requeues-forever", None, 4, REQUEUE),
    preemption("preempted-limit-0-ends-at-once", 0, 1, EXIT),
    preemption("preempted-limit-2-first-requeues", 2, 1, REQUEUE),
    preemption("preempted-limit-2-second-requeues", 2, 2, REQUEUE),
    preemption("preempted-limit-2-third-ends", 2, 3, EXIT),
    preemption(
        "preempted-ignores-evaluate-on-exit", None, 1, REQUEUE,
        retry_strategy=strategy(1, ("EXIT", "*")), quote=doc.PREEMPTED,
    ),
    preemption(
        "preempted-after-a-failure", None, 1, REQUEUE,
        retry_strategy=strategy(2), quote=doc.PREEMPTED, attempt=2, earlier=failed(ALGORITHM),
    ),
    # attemptDurationSeconds
    RetryCase("timed-out-not-retried", RETRY_ALL, TIMEOUT, EXIT, None, doc.TIMEOUT, run=TIMED_OUT),
    RetryCase("timed-out-no-rules", strategy(3), TIMEOUT, EXIT, None, doc.TIMEOUT, run=TIMED_OUT),
    RetryCase(
        "timed-out-after-a-retry", RETRY_ALL, TIMEOUT, EXIT, None, doc.TIMEOUT,
        attempt=2, earlier=failed(ISE), run=TIMED_OUT,
    ),
]  # fmt: skip
