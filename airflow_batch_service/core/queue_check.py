"""Is this job queue one a service job can be submitted to, with these share arguments?

SubmitServiceJob answers a wrong queue with a 400 whose text varies, and a user who gave the
wrong queue name, or a ``share_identifier`` on a FIFO queue, learns it only after the task's
first AWS call. The operator describes the queue (and its scheduling policy) once, before
submitting, and asks :func:`queue_problems`, which names the argument and the rule.

Scheduling policies: a policy with ``quotaSharePolicy`` makes a quota-share queue; any other
policy is a fair-share policy (the only kind that existed before quota shares). No policy: a
FIFO queue. A fair-share queue needs ``shareIdentifier``; a quota-share queue needs
``quotaShareName``; each is refused anywhere else (``service-jobs-api.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batch_service.core.validation import Problem

SAGEMAKER_TRAINING = "SAGEMAKER_TRAINING"
FIFO, FAIR_SHARE, QUOTA_SHARE = "FIFO", "fair-share", "quota-share"


def policy_kind(queue: Mapping[str, Any], policy: Mapping[str, Any] | None) -> str:
    """FIFO, fair-share or quota-share, from the queue's detail and its policy's detail."""
    if not queue.get("schedulingPolicyArn"):
        return FIFO
    if policy is not None and policy.get("quotaSharePolicy") is not None:
        return QUOTA_SHARE
    return FAIR_SHARE


def queue_problems(
    name: str,
    queue: Mapping[str, Any] | None,
    policy: Mapping[str, Any] | None,
    request: Mapping[str, Any],
    *,
    where: str = "",
) -> list[Problem]:
    """Every reason ``request`` cannot go to ``queue`` (DescribeJobQueues detail, or None when
    it does not exist). ``where`` says where it was looked for (region), for the message."""
    if queue is None:
        return [
            Problem(
                "jobQueue",
                f"job queue {name!r} does not exist{where}: check the name (or ARN) and the "
                "connection's region",
            )
        ]
    label = queue.get("jobQueueName") or name
    kind = queue.get("jobQueueType")
    if kind is not None and kind != SAGEMAKER_TRAINING:
        return [
            Problem(
                "jobQueue",
                f"job queue {label} is a {kind} queue; service jobs need a "
                f"{SAGEMAKER_TRAINING} queue (one with a serviceEnvironmentOrder)",
            )
        ]
    out: list[Problem] = []
    if queue.get("state") not in (None, "ENABLED"):
        out.append(
            Problem("jobQueue", f"job queue {label} is {queue['state']} and accepts no jobs")
        )
    if queue.get("status") in ("INVALID", "DELETING", "DELETED"):
        reason = f" ({queue['statusReason']})" if queue.get("statusReason") else ""
        out.append(
            Problem(
                "jobQueue", f"job queue {label} is {queue['status']}{reason} and accepts no jobs"
            )
        )
    policy_kind_ = policy_kind(queue, policy)
    share, quota = request.get("shareIdentifier"), request.get("quotaShareName")
    for kind, field, given in (
        (FAIR_SHARE, "shareIdentifier", share),
        (QUOTA_SHARE, "quotaShareName", quota),
    ):
        if policy_kind_ == kind and given is None:
            message = f"is required: job queue {label} has a {kind} scheduling policy"
        elif policy_kind_ != kind and given is not None:
            message = f"must not be given: job queue {label} is a {policy_kind_} queue, not {kind}"
        else:
            continue
        out.append(Problem(field, message))
    return out
