"""A service job as the API shows it: the DescribeServiceJob answer and the ListServiceJobs
summary (botocore's shapes), built from a :class:`~.jobs.ServiceJob`.

Apart from ``jobs`` so the lifecycle and the answers' shapes change for their own reasons.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_batch_service.emulator.attempts import ms

if TYPE_CHECKING:
    from airflow_batch_service.emulator.jobs import ServiceJob

#: How many preempted runs ``preemptionSummary.recentPreemptedAttempts`` keeps (inferred).
RECENT_PREEMPTIONS = 5

#: Request members DescribeServiceJob echoes when they were submitted.
_ECHOED = ("retryStrategy", "schedulingPriority", "preemptionConfiguration", "timeoutConfig")


def describe(job: ServiceJob) -> dict[str, Any]:
    """The DescribeServiceJob response (botocore's DescribeServiceJobResponse members)."""
    out = _common(job)
    out["jobQueue"] = job.queue_arn
    out["attempts"] = [a.to_api() for a in job.attempts]
    out["serviceRequestPayload"] = job.request["serviceRequestPayload"]
    out["tags"] = dict(job.tags)
    out["isTerminated"] = job.is_terminated
    for key in _ECHOED:
        if job.request.get(key) is not None:
            out[key] = job.request[key]
    if job.preempted_count:
        out["preemptionSummary"] = {
            "preemptedAttemptCount": job.preempted_count,
            "recentPreemptedAttempts": [a.to_api() for a in job.preempted[-RECENT_PREEMPTIONS:]],
        }
    return out


def summary(job: ServiceJob) -> dict[str, Any]:
    """A ListServiceJobs summary: no attempts history; isTerminated only when true."""
    out = _common(job)
    if job.is_terminated:
        out["isTerminated"] = True
    return out


def _common(job: ServiceJob) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobId": job.job_id,
        "jobArn": job.job_arn,
        "jobName": job.job_name,
        "status": job.status.value,
        "createdAt": ms(job.created),
        "serviceJobType": job.request["serviceJobType"],
    }
    for key, value in (
        ("statusReason", job.status_reason),
        ("scheduledAt", job.scheduled_at),
        ("startedAt", job.started_at),
        ("stoppedAt", job.stopped_at),
    ):
        if value is not None:
            out[key] = value
    if job.attempts:
        out["latestAttempt"] = {"serviceResourceId": job.attempts[-1].to_api()["serviceResourceId"]}
    if job.usage:
        out["capacityUsage"] = [dict(u) for u in job.usage]
    for key in ("shareIdentifier", "quotaShareName"):
        if job.request.get(key) is not None:
            out[key] = job.request[key]
    return out
