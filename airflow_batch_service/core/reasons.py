"""Status reasons: the strings Batch and SageMaker put in ``statusReason``.

Documented forms are marked so; the rest are this project's choices where AWS is silent
(the emulator produces them, the sensor recognises them).
"""

from __future__ import annotations

#: Documented prefix of every reason relayed from SageMaker.
SAGEMAKER_PREFIX = "Received status from SageMaker: "

#: Documented reason of a succeeded attempt.
TRAINING_COMPLETED = SAGEMAKER_PREFIX + "Training job completed"

#: Capacity failures carry this marker (documented pattern ``*CapacityError*``).
CAPACITY_MARKER = "CapacityError"
CAPACITY_ERROR = (
    SAGEMAKER_PREFIX + "CapacityError: Unable to provision requested ML compute capacity. "
    "Please retry using a different ML instance type."
)

#: Documented reason of a preemption.
PREEMPTION = "PREEMPTION_IN_PROGRESS: Cross-share preemption triggered to reclaim borrowed capacity"

#: Inferred (container jobs use the same words): an attempt ended by timeoutConfig.
ATTEMPT_TIMEOUT = "Job attempt duration exceeded timeout"

#: Inferred: a job terminated after more preemptions than preemptionRetriesBeforeTermination.
PREEMPTION_LIMIT = "Job terminated after exceeding preemptionRetriesBeforeTermination"


def sagemaker(detail: str) -> str:
    """A reason in SageMaker's relayed form: ``Received status from SageMaker: <detail>``."""
    return SAGEMAKER_PREFIX + detail


def is_capacity(reason: str | None) -> bool:
    """True for a capacity shortage, which Batch retries without using an attempt."""
    return bool(reason) and CAPACITY_MARKER in (reason or "")


def is_timeout(reason: str | None) -> bool:
    return bool(reason) and (reason or "").startswith(ATTEMPT_TIMEOUT)


def is_preemption(reason: str | None) -> bool:
    return bool(reason) and (reason or "").startswith("PREEMPTION")
