"""The ``statusReason`` texts the emulator writes, as AWS words them.

Kept apart from the provider's ``core.reasons`` on purpose: the emulator plays AWS, and the
provider must recognise what AWS writes. Were both to share one list of strings, a wrong
string would be agreed with instead of caught; ``tests/contract`` checks that the provider
recognises these.

Each text says where it comes from: **documented** (AWS Batch user guide, "Service job retry
strategies" and "Preemption"; ``shared/reference/service-jobs-api.md``), **SageMaker** (the
message SageMaker itself gives), or **choice** (AWS documents no wording; container jobs'
wording where one exists).
"""

from __future__ import annotations

#: Documented: every reason relayed from SageMaker starts with this (note the space).
FROM_SAGEMAKER = "Received status from SageMaker: "

#: Documented: the reason of a succeeded attempt (and of the job).
TRAINING_COMPLETED = FROM_SAGEMAKER + "Training job completed"

#: SageMaker's message when it has no instances to give; matched by the documented pattern
#: ``*CapacityError*``. Batch requeues such a job without using an attempt (documented).
CAPACITY_ERROR = (
    FROM_SAGEMAKER + "CapacityError: Unable to provision requested ML compute capacity. "
    "Please retry using a different ML instance type."
)

#: Documented: a run stopped by cross-share preemption.
CROSS_SHARE_PREEMPTION = (
    "PREEMPTION_IN_PROGRESS: Cross-share preemption triggered to reclaim borrowed capacity"
)

#: Choice: a run stopped by in-share preemption (AWS documents only the cross-share text);
#: it starts with ``PREEMPTION`` like the documented one.
IN_SHARE_PREEMPTION = (
    "PREEMPTION_IN_PROGRESS: In-share preemption triggered by a higher priority job"
)

#: Choice (container jobs' words): an attempt stopped by ``timeoutConfig.attemptDurationSeconds``.
ATTEMPT_TIMEOUT = "Job attempt duration exceeded timeout"

#: Choice: a job ended because it was preempted more often than
#: ``preemptionConfiguration.preemptionRetriesBeforeTermination`` allows.
PREEMPTION_LIMIT = "Job terminated after exceeding preemptionRetriesBeforeTermination"

#: Choice: a scripted failure that names no reason looks like a SageMaker algorithm error.
SCRIPTED_FAILURE = FROM_SAGEMAKER + "AlgorithmError: scripted failure (emulator)"

#: Choice: the reason of a job terminated because its queue was deleted.
QUEUE_DELETED = "Job queue deleted"

#: Choice: a RUNNABLE time limit action that gives no ``reason`` of its own.
RUNNABLE_TIME_LIMIT = "RUNNABLE time limit reached"


def from_sagemaker(detail: str) -> str:
    """A reason relayed from SageMaker: ``Received status from SageMaker: <detail>``."""
    return FROM_SAGEMAKER + detail
