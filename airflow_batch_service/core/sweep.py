"""Sweeps: when one queue listing can stand in for many describes. No I/O.

A wait describes its job every poll interval. A thousand waits on one queue would spend a
thousand DescribeServiceJob calls per interval, most of them answering "no change", out of an
account's ~50 Batch calls per second. One ListServiceJobs round per queue (one call per active
status, 100 jobs a page) tells every wait whether its job changed; only those whose
:func:`summary_key` moved describe their job (for the attempts history the log and the retry
explanation need).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

#: Statuses a job can still leave: what a round pages through (finished jobs never matter).
ACTIVE_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING")
#: Below this many waits on a queue a round (one call per active status) costs more than
#: the waits' own describes: they describe as before.
MIN_WAITS = len(ACTIVE_STATUSES)


def summary_key(job: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a change is, from a ListServiceJobs summary or a describe alike: the status, the
    status reason, the latest attempt (a new training job) and whether it was terminated."""
    latest = ((job.get("latestAttempt") or {}).get("serviceResourceId") or {}).get("value")
    status = job.get("status")
    if isinstance(status, str):
        status = sys.intern(status)  # a thousand keys share one "RUNNABLE", not a copy each
    return (status, job.get("statusReason"), latest, bool(job.get("isTerminated")))


def worth_listing(waits: int) -> bool:
    return waits >= MIN_WAITS
