"""Durable submission's lookup: the job an earlier try of this task key left behind.

``_shared.durable`` asks here when ``task_state_store`` cannot answer (Airflow < 3.3, or a try
that died between submit and the store write), and when AWS says a clientToken is taken:

- :func:`jobs_named`: ListServiceJobs with the JOB_NAME filter (every status: a filter makes
  ListServiceJobs ignore jobStatus), newest first. The UI plugin's tab finds earlier tries'
  jobs with it too.
- :meth:`JobLookup.describe_visible`: a describe that waits out "not found" right after a
  submit (eventual consistency).
- :meth:`JobLookup.chain_head`: of those jobs, the ones whose token tag belongs to this task
  key's token chain, ``T(key, name, None)``, then ``T(key, name, X)`` after job X failed; the
  newest job of the chain is the one a new try decides on.
- :meth:`JobLookup.holder_of`: the job that holds a token AWS refused, waited for.

Every AWS call goes through the hook; every error is read through
``core.errors.classify_exception``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_batch_service.core.durable import TOKEN_TAG, derive_token
from airflow_batch_service.core.errors import ErrorKind, classify_exception
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.task_tag import TaskKey
from airflow_batch_service.core.verdict import interpret

#: At most this many same-named jobs are described per lookup (newest first). A job name
#: unique per run (``{{ run_id }}``-derived) keeps the lookup at one or two describes.
LOOKUP_LIMIT = 50
#: How long a job returned by List (or a rejected token) may stay invisible before giving up.
VISIBILITY_WAIT_SECONDS = 30.0


def jobs_named(hook: Any, job_queue: str | None, job_name: str) -> list[dict[str, Any]]:
    """ListServiceJobs summaries of the jobs named ``job_name`` on ``job_queue``, newest first.

    The JOB_NAME filter is case-insensitive: a caller keeps the exact name itself."""
    summaries = list(
        hook.list_service_jobs(
            job_queue=job_queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
        )
    )
    summaries.sort(key=lambda s: s.get("createdAt") or 0, reverse=True)
    return summaries


def token_of(describe: Mapping[str, Any] | None) -> str | None:
    """The clientToken a job was submitted with, as its token tag holds it."""
    tags = (describe or {}).get("tags") or {}
    value = tags.get(TOKEN_TAG)
    return str(value) if value else None


@dataclass
class JobLookup:
    """The lookups of one task key's jobs on one queue (module doc)."""

    hook: Any
    key: TaskKey
    log: Any
    job_queue: str | None = None
    lookup_limit: int = LOOKUP_LIMIT
    visibility_wait: float = VISIBILITY_WAIT_SECONDS
    sleep: Callable[[float], None] = field(default=time.sleep)

    def describe_visible(self, job_id: str) -> dict[str, Any] | None:
        """Describe, waiting out "not found" right after submit (eventual consistency);
        ``None`` if the job stays invisible for ``visibility_wait`` seconds."""
        deadline = time.monotonic() + self.visibility_wait
        delay = 0.25
        while True:
            try:
                return self.hook.describe_service_job(job_id)
            except Exception as exc:
                mapped = classify_exception(exc)
                if mapped is None or mapped[0] is ErrorKind.FATAL:
                    raise
                if time.monotonic() >= deadline:
                    if mapped[0] is ErrorKind.NOT_FOUND:
                        return None
                    raise
                self.log.info("Describing job %s: %s; trying again", job_id, mapped[1])
                self.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _candidates(self, job_name: str) -> Iterator[dict[str, Any]]:
        """Describes of the jobs named ``job_name`` on the queue, newest first, at most
        ``lookup_limit``."""
        summaries = jobs_named(self.hook, self.job_queue, job_name)
        if len(summaries) > self.lookup_limit:
            self.log.warning(
                "%d jobs are named %r; looking at the newest %d only. A job name unique per "
                "run (derived from {{ run_id }}) makes this lookup cheap and exact.",
                len(summaries),
                job_name,
                self.lookup_limit,
            )
        for summary in summaries[: self.lookup_limit]:
            if summary.get("jobName") != job_name:  # the filter is case-insensitive
                continue
            describe = self.describe_visible(str(summary["jobId"]))
            if describe is not None:
                yield describe

    def by_token(self, job_name: str) -> dict[str, dict[str, Any]]:
        """Token -> the newest job named ``job_name`` that carries it."""
        found: dict[str, dict[str, Any]] = {}
        for describe in self._candidates(job_name):
            token = token_of(describe)
            if token and token not in found:  # newest wins
                found[token] = describe
        return found

    def chain_head(self, job_name: str, user_token: str | None) -> dict[str, Any] | None:
        """The newest job of this task key's token chain (module doc), or ``None``; with a
        user-given token, the job carrying it."""
        jobs = self.by_token(job_name)
        if user_token:
            return jobs.get(user_token)
        token, previous = derive_token(self.key, job_name), None
        for _ in range(len(jobs) + 1):
            job = jobs.get(token)
            if job is None:
                break
            previous = job
            verdict = interpret(job)
            if not verdict.done or verdict.succeeded or verdict.cause is Cause.EXIT_RULE:
                break
            token = derive_token(self.key, job_name, verdict.job_id)
        return previous

    def holder_of(self, token: str, job_name: str) -> dict[str, Any] | None:
        """The job already submitted with ``token`` (AWS said the token was used), waited for
        up to ``visibility_wait``: a job just created may not be listed yet."""
        deadline = time.monotonic() + self.visibility_wait
        while True:
            holder = self.by_token(job_name).get(token)
            if holder is not None or time.monotonic() >= deadline:
                return holder
            self.sleep(1.0)
