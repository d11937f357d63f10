"""Service-job statuses and the sets that give them meaning."""

from __future__ import annotations

from enum import StrEnum


class ServiceJobStatus(StrEnum):
    """The ``status`` of a service job, as botocore's ``ServiceJobStatus`` enum lists it."""

    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    SCHEDULED = "SCHEDULED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


#: The order a job normally moves through before it ends.
LIFECYCLE: tuple[ServiceJobStatus, ...] = (
    ServiceJobStatus.SUBMITTED,
    ServiceJobStatus.RUNNABLE,
    ServiceJobStatus.SCHEDULED,
    ServiceJobStatus.STARTING,
    ServiceJobStatus.RUNNING,
)

#: Still going. SCHEDULED (handed to SageMaker) and PENDING (in the enum, undocumented for
#: service jobs) are waiting states: the amazon provider's Batch hook does not know SCHEDULED
#: and would call it "unknown"; here it is simply in progress.
IN_PROGRESS_STATUSES: frozenset[ServiceJobStatus] = frozenset(
    {
        ServiceJobStatus.SUBMITTED,
        ServiceJobStatus.PENDING,
        ServiceJobStatus.RUNNABLE,
        ServiceJobStatus.SCHEDULED,
        ServiceJobStatus.STARTING,
        ServiceJobStatus.RUNNING,
    }
)

TERMINAL_STATUSES: frozenset[ServiceJobStatus] = frozenset(
    {ServiceJobStatus.SUCCEEDED, ServiceJobStatus.FAILED}
)

#: A training job is running (and writing logs) in these states.
ACTIVE_ATTEMPT_STATUSES: frozenset[ServiceJobStatus] = frozenset(
    {ServiceJobStatus.SCHEDULED, ServiceJobStatus.STARTING, ServiceJobStatus.RUNNING}
)


def parse_status(value: object) -> ServiceJobStatus | None:
    """Return the status for ``value``, or ``None`` for one this version does not know.

    An unknown status is never treated as a failure: AWS may add states, and a wait that
    fails on a new waiting state would kill a healthy training job's task.
    """
    try:
        return ServiceJobStatus(str(value))
    except ValueError:
        return None
