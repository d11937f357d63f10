"""ListServiceJobs semantics: which jobs a request selects, newest first.

Documented: one filter at a time; a filter makes ``jobStatus`` ignored, except
SHARE_IDENTIFIER and QUOTA_SHARE_NAME which combine with it; no status means RUNNING;
JOB_NAME is case-insensitive with a trailing ``*`` for a prefix; results newest first.
Inferred: a share filter without jobStatus lists every status; BEFORE/AFTER_CREATED_AT are
strict; several values match any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.validation import Problem
from airflow_batch_service.emulator.attempts import ms
from airflow_batch_service.emulator.errors import invalid
from airflow_batch_service.emulator.jobs import ServiceJob

FILTERS = (
    "JOB_NAME",
    "BEFORE_CREATED_AT",
    "AFTER_CREATED_AT",
    "SHARE_IDENTIFIER",
    "QUOTA_SHARE_NAME",
)
#: Filters that combine with jobStatus; the others make ListServiceJobs ignore it.
STATUS_COMPATIBLE_FILTERS = ("SHARE_IDENTIFIER", "QUOTA_SHARE_NAME")


@dataclass(frozen=True)
class Query:
    status: str | None = None
    filter_name: str | None = None
    values: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Query:
        """Read and check the request; refuse it as ClientException naming each field."""
        problems: list[Problem] = []
        status = body.get("jobStatus")
        if status is not None and status not in {s.value for s in ServiceJobStatus}:
            problems.append(Problem("jobStatus", f"must be a ServiceJobStatus, got {status!r}"))
        filters = body.get("filters") or []
        if not isinstance(filters, list) or len(filters) > 1:
            problems.append(Problem("filters", "only one filter can be used at a time"))
            filters = []
        name, values = None, ()
        for item in filters:
            item = item if isinstance(item, Mapping) else {}
            name, raw = item.get("name"), item.get("values")
            if name not in FILTERS:
                problems.append(
                    Problem("filters[0].name", f"must be one of {', '.join(FILTERS)}, got {name!r}")
                )
            if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
                problems.append(Problem("filters[0].values", "must be a non-empty list of strings"))
                continue
            if name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT") and not all(
                v.isdigit() for v in raw
            ):
                problems.append(Problem("filters[0].values", "must be epoch milliseconds"))
            values = tuple(raw)
        if problems:
            raise invalid("ListServiceJobs", problems)
        return cls(status, name, values)

    def select(self, jobs: Iterable[ServiceJob]) -> list[ServiceJob]:
        """The matching jobs, newest first (already advanced to now by the caller)."""
        name = self.filter_name
        if name is None or (name in STATUS_COMPATIBLE_FILTERS and self.status is not None):
            wanted = self.status or ServiceJobStatus.RUNNING.value
            jobs = [j for j in jobs if j.status.value == wanted]
        if name is not None:
            jobs = [j for j in jobs if any(matches(j, name, v) for v in self.values)]
        return sorted(jobs, key=lambda j: (j.created, j.seq), reverse=True)


def matches(job: ServiceJob, name: str, value: str) -> bool:
    if name == "JOB_NAME":
        if value.endswith("*"):
            return job.job_name.lower().startswith(value[:-1].lower())
        return job.job_name.lower() == value.lower()
    created = ms(job.created)  # the createdAt callers saw
    if name == "BEFORE_CREATED_AT":
        return created < int(value)
    if name == "AFTER_CREATED_AT":
        return created > int(value)
    if name == "SHARE_IDENTIFIER":
        return job.request.get("shareIdentifier") == value
    if name == "QUOTA_SHARE_NAME":
        return job.request.get("quotaShareName") == value
    return False
