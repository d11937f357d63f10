"""What an AWS Batch service-job event says, and which ones a watcher wants. No I/O.

AWS Batch publishes a "Batch Service Job State Change" event to EventBridge on every state
change of an existing service job (none for the submission itself). An EventBridge rule
delivers it to an SQS queue, whose message body is the event's JSON envelope (``source``
``aws.batch``, ``detail-type``, ``id``, ``time``, ``resources`` = the job's ARN, and a
``detail`` shaped like DescribeServiceJob's response without ``tags`` and
``serviceRequestPayload``). An SNS topic in between wraps it once more (``Message``).

:func:`parse_event` turns a message body into a :class:`JobEvent`, or None for anything else
(another source, another detail-type, a test message, garbage): a consumer deletes those
without a word to the waits. :class:`EventFilter` is what a watcher of jobs submitted
elsewhere asks for: queues, shares, a job-name prefix, final statuses.

EventBridge delivers at least once, late, out of order, or not at all: an event is a hint.
What a wait makes of one is ``core.event_wait``'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_batch_service.core.status import ServiceJobStatus

SOURCE = "aws.batch"
STATE_CHANGE = "Batch Service Job State Change"

#: The final statuses, the ones a watcher fires on by default.
FINAL_STATUSES = (ServiceJobStatus.SUCCEEDED.value, ServiceJobStatus.FAILED.value)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One service job's state change, as the event told it."""

    event_id: str
    job_id: str
    job_arn: str
    status: str
    job_queue: str = ""
    job_name: str = ""
    share_identifier: str = ""
    time: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def summary(self) -> dict[str, Any]:
        """What a watcher's trigger event carries (strict JSON once the caller cleans it)."""
        return {
            "event_id": self.event_id,
            "time": self.time,
            "job_id": self.job_id,
            "job_arn": self.job_arn,
            "job_name": self.job_name,
            "job_queue": self.job_queue,
            "share_identifier": self.share_identifier or None,
            "status": self.status,
            "status_reason": self.detail.get("statusReason"),
            "attempts": len(self.detail.get("attempts") or ()),
        }


def job_id_of(job_id_or_arn: str) -> str:
    """The jobId of a jobId or a service-job ARN (``arn:...:service-job/<id>``)."""
    return job_id_or_arn.rsplit("/", 1)[-1] if job_id_or_arn.startswith("arn:") else job_id_or_arn


def queue_name(name_or_arn: str) -> str:
    """A job queue's name, from its name or ARN (events carry the ARN)."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn


def parse_event(body: str | bytes | Mapping[str, Any]) -> JobEvent | None:
    """The service-job state change in an SQS message body, or None if it holds none."""
    envelope = _load(body)
    if envelope is not None and "Message" in envelope and "detail" not in envelope:
        envelope = _load(envelope.get("Message"))  # delivered through an SNS topic
    if envelope is None:
        return None
    if envelope.get("source") != SOURCE or envelope.get("detail-type") != STATE_CHANGE:
        return None
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        return None
    resources = envelope.get("resources") or []
    arn = str(detail.get("jobArn") or (resources[0] if resources else ""))
    job_id = str(detail.get("jobId") or (job_id_of(arn) if arn else ""))
    status = detail.get("status")
    if not job_id or not isinstance(status, str):
        return None
    return JobEvent(
        event_id=str(envelope.get("id") or ""),
        job_id=job_id,
        job_arn=arn,
        status=status,
        job_queue=str(detail.get("jobQueue") or ""),
        job_name=str(detail.get("jobName") or ""),
        share_identifier=str(detail.get("shareIdentifier") or ""),
        time=str(envelope.get("time") or ""),
        detail=detail,
    )


def _load(body: Any) -> Mapping[str, Any] | None:
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, (str, bytes)):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class EventFilter:
    """Which service-job events a watcher wants. Empty means "any" for each criterion,
    except ``statuses``, which defaults to the final ones.

    ``job_queues`` match by name or ARN; ``share_identifiers`` exactly;
    ``job_name_prefix`` as a prefix of the job's name.
    """

    job_queues: tuple[str, ...] = ()
    share_identifiers: tuple[str, ...] = ()
    job_name_prefix: str = ""
    statuses: tuple[str, ...] = FINAL_STATUSES

    @classmethod
    def create(
        cls,
        *,
        job_queues: Iterable[str] | str | None = None,
        share_identifiers: Iterable[str] | str | None = None,
        job_name_prefix: str | None = None,
        statuses: Iterable[str] | str | None = None,
    ) -> EventFilter:
        """A filter from user arguments (a single string counts as a one-item list); raises
        ``ValueError`` naming the argument for a status that is not a service-job status."""
        wanted = _strings(statuses) or FINAL_STATUSES
        known = {status.value for status in ServiceJobStatus}
        unknown = [status for status in wanted if status not in known]
        if unknown:
            raise ValueError(
                f"statuses: {unknown} are not service-job statuses (one of {sorted(known)})"
            )
        return cls(
            job_queues=tuple(queue_name(q) for q in _strings(job_queues)),
            share_identifiers=_strings(share_identifiers),
            job_name_prefix=job_name_prefix or "",
            statuses=wanted,
        )

    def matches(self, event: JobEvent) -> bool:
        if event.status not in self.statuses:
            return False
        if self.job_queues and queue_name(event.job_queue) not in self.job_queues:
            return False
        if self.share_identifiers and event.share_identifier not in self.share_identifiers:
            return False
        return event.job_name.startswith(self.job_name_prefix)

    def to_kwargs(self) -> dict[str, Any]:
        return {
            "job_queues": list(self.job_queues),
            "share_identifiers": list(self.share_identifiers),
            "job_name_prefix": self.job_name_prefix,
            "statuses": list(self.statuses),
        }


def _strings(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(str(v) for v in values)


#: What a consumer does with a message once its own waits or watchers have seen it.
DELETE = "delete"
RELEASE = "release"


def disposition(*, taken: bool, age_seconds: float, handoff_seconds: float) -> str:
    """Delete or give back a message: every triggerer process reads the same queue, and SQS
    hands each message to one reader. A message no wait or watcher of this process took is
    given back (made visible again shortly) while younger than ``handoff_seconds``, so the
    process that waits on that job can read it; after that nobody is waiting for it (the
    reconciliation poll covers a wait that begins later) and it is deleted. A message that was
    taken, or that holds no service-job event, is deleted at once."""
    if taken or age_seconds >= handoff_seconds:
        return DELETE
    return RELEASE
