"""Batch's ``retryStrategy.evaluateOnExit`` semantics for service jobs: matching and deciding.

This is the one implementation of "what does Batch do after this attempt ends?". The emulator
applies it to decide; the sensor and trigger apply it to explain. What AWS documents and what
is inferred (see ``shared/reference/service-jobs-api.md``):

- ``attempts`` counts the first try (documented): 3 means one try and up to two retries.
- rules are tried in order and the first match wins (documented);
- ``*`` matches any run of characters, every other character is literal, the whole reason must
  match, case-sensitively (documented for a trailing ``*``; AWS's own patterns use a leading
  ``*`` too, so every ``*`` is a wildcard);
- RETRY requeues while attempts remain; EXIT fails the job now (documented);
- no rule matching retries while attempts remain (**inferred** from the container-job docs);
- a terminated job is never retried (documented), and an attempt that hit
  ``attemptDurationSeconds`` is not retried (**inferred**, as for container jobs);
- capacity failures never reach this module: they requeue without using an attempt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from airflow_batch_service.core import reasons

#: botocore-documented bounds, shared by validation and interpretation.
MIN_ATTEMPTS = 1
MAX_ATTEMPTS = 10
MAX_RULES = 5
MAX_PATTERN_LENGTH = 512


class RetryAction(StrEnum):
    RETRY = "RETRY"
    EXIT = "EXIT"


class Cause(StrEnum):
    """Why Batch did what it did after an attempt ended."""

    RETRY_RULE = "retry_rule"  # a RETRY rule matched and attempts remained: retried
    NO_RULE_MATCHED = "no_rule_matched"  # no rule matched and attempts remained: retried
    EXIT_RULE = "exit_rule"  # an EXIT rule matched: failed for good
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"  # would retry, but no attempts were left
    TERMINATED = "terminated"  # TerminateServiceJob (or a queue time limit): never retried
    TIMED_OUT = "timed_out"  # attemptDurationSeconds ran out: not retried
    PREEMPTION_LIMIT = "preemption_limit"  # preempted more often than allowed


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern), re.DOTALL)


def glob_matches(pattern: str, reason: str) -> bool:
    """Match ``reason`` against an ``onStatusReason`` glob the way Batch does.

    >>> glob_matches("Received status from SageMaker: InternalServerError*",
    ...              "Received status from SageMaker: InternalServerError: oops")
    True
    >>> glob_matches("*CapacityError*", "x CapacityError y")
    True
    >>> glob_matches("internalservererror*", "InternalServerError")
    False
    """
    return _compile(pattern).fullmatch(reason) is not None


@dataclass(frozen=True)
class EvaluateOnExit:
    """One rule, with its 1-based position so explanations can say "rule 2"."""

    index: int
    action: RetryAction
    on_status_reason: str

    def matches(self, reason: str) -> bool:
        return glob_matches(self.on_status_reason, reason)

    def describe(self) -> str:
        return f'rule {self.index} {self.action.value} ("{self.on_status_reason}")'


@dataclass(frozen=True)
class RetryStrategy:
    """A parsed ``retryStrategy``; no strategy at all means one attempt and no rules."""

    attempts: int = 1
    evaluate_on_exit: tuple[EvaluateOnExit, ...] = ()

    @classmethod
    def from_api(cls, value: Mapping[str, Any] | None) -> RetryStrategy:
        """Parse the API shape leniently: interpretation must never crash on a response.

        Validation of what a user submits is ``core.validation``'s job, not this one's.
        """
        if not value:
            return cls()
        try:
            attempts = int(value.get("attempts") or 1)
        except (TypeError, ValueError):
            attempts = 1
        rules = []
        for i, raw in enumerate(value.get("evaluateOnExit") or (), start=1):
            if not isinstance(raw, Mapping):
                continue
            try:
                action = RetryAction(str(raw.get("action", "")).upper())
            except ValueError:
                continue
            rules.append(EvaluateOnExit(i, action, str(raw.get("onStatusReason", ""))))
        return cls(max(attempts, 1), tuple(rules))

    def first_match(self, reason: str) -> EvaluateOnExit | None:
        for rule in self.evaluate_on_exit:
            if rule.matches(reason):
                return rule
        return None


@dataclass(frozen=True)
class RetryDecision:
    """What Batch does after attempt ``attempt`` (1-based) of ``attempts`` ended in failure."""

    retry: bool
    cause: Cause
    attempt: int
    attempts: int
    rule: EvaluateOnExit | None = None

    def describe(self) -> str:
        """The second half of a log line: which rule decided, and what Batch does next."""
        if self.cause is Cause.TERMINATED:
            return "the job was terminated; Batch does not retry terminated jobs"
        if self.cause is Cause.TIMED_OUT:
            return (
                "the attempt ran past timeoutConfig.attemptDurationSeconds; Batch does not retry it"
            )
        if self.cause is Cause.PREEMPTION_LIMIT:
            return "preempted more often than preemptionConfiguration allows; Batch ended the job"
        matched = (
            f"{self.rule.describe()} matched" if self.rule else "no evaluateOnExit rule matched"
        )
        if self.cause is Cause.EXIT_RULE:
            return f"{matched}; the job failed for good"
        if self.retry:
            return f"{matched}; Batch queued attempt {self.attempt + 1}"
        return f"{matched}; no attempts left ({self.attempts} allowed), so the job failed"


def decide(
    strategy: RetryStrategy,
    status_reason: str | None,
    attempt: int,
    *,
    terminated: bool = False,
) -> RetryDecision:
    """Decide, as Batch does, whether a failed attempt is retried.

    ``attempt`` is the 1-based number of the attempt that just failed.
    """
    reason = status_reason or ""
    if terminated:
        return RetryDecision(False, Cause.TERMINATED, attempt, strategy.attempts)
    if reasons.is_timeout(reason):
        return RetryDecision(False, Cause.TIMED_OUT, attempt, strategy.attempts)
    rule = strategy.first_match(reason)
    if rule is not None and rule.action is RetryAction.EXIT:
        return RetryDecision(False, Cause.EXIT_RULE, attempt, strategy.attempts, rule)
    if attempt >= strategy.attempts:
        return RetryDecision(False, Cause.ATTEMPTS_EXHAUSTED, attempt, strategy.attempts, rule)
    cause = Cause.RETRY_RULE if rule is not None else Cause.NO_RULE_MATCHED
    return RetryDecision(True, cause, attempt, strategy.attempts, rule)


def requeue_after_preemption(config: Mapping[str, Any] | None, preempted_count: int) -> bool:
    """True when a job preempted ``preempted_count`` times (this one included) goes back
    to the queue. Unset ``preemptionRetriesBeforeTermination`` requeues forever (documented).
    """
    limit = (config or {}).get("preemptionRetriesBeforeTermination")
    if limit is None:
        return True
    return preempted_count <= int(limit)


def unreachable_prefix_rules(strategy: RetryStrategy) -> list[EvaluateOnExit]:
    """Rules written with the SageMaker SDK's prefix constant, which has no space after the
    colon (``Received status from SageMaker:Internal...``): real reasons have the space, so
    such a rule can never match. Worth a warning, not a rejection.
    """
    bare = reasons.SAGEMAKER_PREFIX.rstrip()
    return [
        rule
        for rule in strategy.evaluate_on_exit
        if rule.on_status_reason.startswith(bare)
        and not rule.on_status_reason.startswith(reasons.SAGEMAKER_PREFIX)
        and rule.on_status_reason[len(bare) : len(bare) + 1] not in ("", "*")
    ]
