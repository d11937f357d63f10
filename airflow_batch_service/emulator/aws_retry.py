"""What AWS Batch does after a service job's run ends: retry it, requeue it, or fail the job.

The emulator's own reading of AWS's documentation, written apart from the provider's
``core.retry`` on purpose: the emulator stands in for AWS, so a mistake in the provider's
reading (a glob rule, the order of rules, what counts as an attempt) must show up as a
difference between the two, not be made by both. ``tests/contract/retry_cases.py`` holds the
cases both are checked against.

The rules, and where they come from (``shared/reference/service-jobs-api.md`` gathers them):

- **documented** (API reference, ``ServiceJobRetryStrategy``; user guide, "Service job retry
  strategies"): ``attempts`` is the total number of tries, the first included; after a failed
  attempt the ``evaluateOnExit`` rules are read in order and the first whose ``onStatusReason``
  matches the attempt's ``statusReason`` decides: ``RETRY`` runs the job again if attempts
  remain, ``EXIT`` fails it now.
- **documented** (``ServiceJobEvaluateOnExit``): ``onStatusReason`` is a glob that "can
  optionally end with an asterisk (*) so that only the start of the string needs to be an
  exact match". AWS's own patterns also start with one (``*CapacityError*``), so every ``*``
  stands for any run of characters; every other character is itself, case included, and the
  whole reason must match.
- **inferred** (the container-job docs say so, the service-job docs are silent): when no rule
  matches, the job is retried while attempts remain.
- **documented**: capacity failures are retried without using an attempt.
- **documented** (``ServiceJobPreemptionConfiguration``): after a preemption the job is
  requeued ``preemptionRetriesBeforeTermination`` times, then ends; unset, it is requeued
  forever. **Inferred**: a preempted run is not an attempt (it is reported apart, in
  ``preemptionSummary``), and ``evaluateOnExit`` does not apply to it.
- **inferred** (as for container jobs): an attempt stopped by ``attemptDurationSeconds`` is not
  retried. A terminated job is never retried (documented); terminating does not come here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RunEnd(StrEnum):
    """How one run of a job ended, as far as the retry rules care."""

    FAILED = "failed"  # the training job failed: evaluateOnExit decides
    TIMED_OUT = "timed_out"  # stopped by timeoutConfig.attemptDurationSeconds
    CAPACITY = "capacity"  # SageMaker had no capacity: requeued, no attempt used
    PREEMPTED = "preempted"  # capacity taken back: preemptionConfiguration decides


class Next(StrEnum):
    """What Batch does next."""

    RETRY = "retry"  # a new attempt: the job goes back to RUNNABLE, one attempt used
    REQUEUE = "requeue"  # back to RUNNABLE without using an attempt
    EXIT = "exit"  # the job is FAILED now


#: Which ends use one of the ``attempts``.
USES_AN_ATTEMPT = {
    RunEnd.FAILED: True,
    RunEnd.TIMED_OUT: True,
    RunEnd.CAPACITY: False,
    RunEnd.PREEMPTED: False,
}


def glob_match(pattern: str, text: str) -> bool:
    """``*`` stands for any run of characters (none included); all else must be equal, and
    the pattern must cover the whole text.

    The pieces between stars must appear in order: the first at the start, the last at the
    end, each other one at its earliest place after the one before (the earliest place
    leaves the most room for the rest, so it never misses a match).
    """
    pieces = pattern.split("*")
    if len(pieces) == 1:
        return pattern == text
    head, tail = pieces[0], pieces[-1]
    if len(head) + len(tail) > len(text) or not text.startswith(head) or not text.endswith(tail):
        return False
    position, stop = len(head), len(text) - len(tail)
    for piece in pieces[1:-1]:
        found = text.find(piece, position, stop)
        if found < 0:
            return False
        position = found + len(piece)
    return True


@dataclass(frozen=True)
class RetryPolicy:
    """How Batch applies a job's ``retryStrategy``: the attempts allowed, and the
    ``evaluateOnExit`` rules as ``(action, onStatusReason)`` pairs, in their order."""

    attempts: int = 1  # no retryStrategy submitted: one attempt
    rules: tuple[tuple[str, str], ...] = ()

    def deciding_rule(self, status_reason: str) -> int | None:
        """The 1-based number of the first rule matching ``status_reason``; None if none does."""
        for number, (_, pattern) in enumerate(self.rules, start=1):
            if glob_match(pattern, status_reason):
                return number
        return None


def policy_of(retry_strategy: Mapping[str, Any] | None) -> RetryPolicy:
    """The policy of a submitted ``retryStrategy`` (validated: attempts 1-10, rules well formed)."""
    if not retry_strategy:
        return RetryPolicy()
    rules = retry_strategy.get("evaluateOnExit") or ()
    pairs = tuple((str(r["action"]), str(r.get("onStatusReason", ""))) for r in rules)
    return RetryPolicy(int(retry_strategy.get("attempts", 1)), pairs)


def after_attempt(policy: RetryPolicy, end: RunEnd, status_reason: str, attempt: int) -> Next:
    """What follows attempt number ``attempt`` (1-based, counting only runs that use one)
    ending in ``end`` with ``status_reason``. Preemptions have rules of their own
    (:func:`after_preemption`)."""
    if end is RunEnd.PREEMPTED:
        raise ValueError("a preemption is decided by after_preemption")
    if not USES_AN_ATTEMPT[end]:
        return Next.REQUEUE
    if end is RunEnd.TIMED_OUT or attempt >= policy.attempts:
        return Next.EXIT
    number = policy.deciding_rule(status_reason)
    if number is not None and policy.rules[number - 1][0] == "EXIT":
        return Next.EXIT
    return Next.RETRY  # a RETRY rule matched, or none did (inferred)


def after_preemption(preemption_configuration: Mapping[str, Any] | None, preemptions: int) -> Next:
    """What follows the job's ``preemptions``-th preemption (this one included)."""
    allowed = (preemption_configuration or {}).get("preemptionRetriesBeforeTermination")
    if allowed is None or preemptions <= int(allowed):
        return Next.REQUEUE
    return Next.EXIT
