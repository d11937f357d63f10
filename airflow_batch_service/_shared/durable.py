"""Durable submission: an Airflow retry reattaches to its job instead of submitting another.

A service job is a multi-GPU training run. When a worker dies mid-task, or Airflow retries a
task whose job is still running (or already succeeded), submitting again burns money twice.
XComs are cleared before every try, so they cannot carry the jobId across. This module decides,
at the start of every try, whether the task key (``dag_id``, ``task_id``, ``run_id``,
``map_index``) already owns a job, and what to do about it:

- none found: submit, with token ``T(key, name, None)``;
- in progress (SUBMITTED ... RUNNING, or a status this version does not know): reattach,
  i.e. wait on it / return its jobId;
- SUCCEEDED: reattach: return it, no new job;
- FAILED because an EXIT rule matched: ``AirflowFailException``, the user said that failure
  is final, so Airflow must not retry it;
- FAILED otherwise (attempts exhausted, terminated, timed out, preemption limit): submit a new
  job with token ``T(key, name, X)``, X being the failed job's id.

Where the previous job comes from, in order:

1. Airflow 3.3+: ``context["task_state_store"]`` (persists across tries of one task instance)
   holds the jobId this task submitted or reattached to. Cheapest and exact.
2. Otherwise (Airflow < 3.3, or the store is empty because the try died between submit and
   ``set``) and only from the second try on: ListServiceJobs with the JOB_NAME filter, then a
   describe of each candidate, keeping the jobs whose ``airflow-batch-service:client-token`` tag
   belongs to this task key's token chain (below).
3. Always: the clientToken is deterministic. If the lookup missed a job (not yet visible to
   List; eventual consistency), or botocore itself re-sent SubmitServiceJob after a 5xx or a
   timeout, AWS either rejects the repeated token (documented, with an undocumented error) or
   returns the first job: both resolve to the existing job, found by its token tag.

The token chain: ``T(key, jobName, previous)`` is a hash of the task key, the job name and the
jobId of the failed job it replaces (``None`` for the first). Every try of one task key
therefore derives the same token for the same "generation", and a resubmit after a failure
gets a new one, so AWS does not reject it as a duplicate. The token is stored on the job as a
tag because DescribeServiceJob does not return the clientToken.

A user-given ``client_token`` is sent as is, never replaced: it *is* the identity of the job.
A retry reattaches to the job carrying it; after a non-final failure the task fails with
``AirflowFailException``, because AWS would reject the same token again (template the token
with something that changes, or leave it unset and let this module derive one).

The rules (tokens, tags, the decision table) are pure, in ``core.durable`` (the task tag's
format in ``core.task_tag``); this module is their I/O shell: it asks the store, submits, and
rides out throttling; the ListServiceJobs lookup of steps 2 and 3 is ``_shared.durable_lookup``.
Every AWS call goes through the hook; every error is read through
``core.errors.classify_exception``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_batch_service._shared.durable_lookup import (
    LOOKUP_LIMIT,
    VISIBILITY_WAIT_SECONDS,
    JobLookup,
    token_of,
)
from airflow_batch_service.core.backoff import Backoff
from airflow_batch_service.core.durable import (
    DURABLE_REQUEST_RESERVE,
    STORE_KEY,
    TOKEN_TAG,
    Action,
    Decision,
    decide,
    derive_token,
    is_token_rejection,
    killed_by_other_try,
    with_durable_tags,
)
from airflow_batch_service.core.errors import classify_exception
from airflow_batch_service.core.task_tag import TASK_TAG, TaskKey

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

__all__ = [
    "DURABLE_REQUEST_RESERVE",
    "STORE_KEY",
    "TASK_TAG",
    "TOKEN_TAG",
    "DurableSubmitError",
    "DurableSubmitter",
    "Submission",
    "TaskKey",
    "decide",
    "derive_token",
    "killed_by_other_try",
    "with_durable_tags",
]

#: Default seconds a throttled SubmitServiceJob is retried (``submit_patience``): ten minutes
#: ride out any burst against the 5-per-second quota; a task is never failed within them.
SUBMIT_PATIENCE = 600.0
#: How a previous job found by ``durable_lookup`` is named in the log.
FOUND_BY_LISTING = "an earlier try (found by ListServiceJobs)"
#: Rounds of decide -> submit -> "token already used" -> decide, before giving up (a loop guard).
MAX_ROUNDS = 5


class DurableSubmitError(Exception):
    """Submitting failed; ``final`` means a retry would fail the same way."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


@dataclass
class Submission:
    """The job this try owns: ``response`` has SubmitServiceJob's shape (jobId, jobArn,
    jobName) whether it was submitted now or reattached to."""

    response: dict[str, Any]
    reattached: bool
    decision: Decision
    client_token: str


def _job_response(describe: Mapping[str, Any]) -> dict[str, Any]:
    return {k: describe.get(k) for k in ("jobArn", "jobName", "jobId")}


@dataclass
class DurableSubmitter:
    """Find this task key's previous job, decide, and submit or reattach.

    ``store`` is ``context["task_state_store"]`` (Airflow 3.3+) or ``None``; ``try_number`` is
    the task instance's. ``sleep`` and ``visibility_wait`` exist so a caller can bound waits.
    """

    hook: BatchServiceJobHook
    key: TaskKey
    log: Any
    store: Any = None
    try_number: int = 1
    lookup_limit: int = LOOKUP_LIMIT
    visibility_wait: float = VISIBILITY_WAIT_SECONDS
    sleep: Callable[[float], None] = field(default=time.sleep)
    job_queue: str | None = None  # the lookup lists this queue only (set by submit)
    #: Seconds to keep retrying a throttled (or 5xx) SubmitServiceJob; see ``_submit_once``.
    patience: float = SUBMIT_PATIENCE
    rng: random.Random = field(default_factory=random.Random)

    # -- public ----------------------------------------------------------------------------

    def submit(self, request: Mapping[str, Any]) -> Submission:
        """Submit ``request`` (validated, without durable tags) or reattach; see module doc."""
        job_name = str(request["jobName"])
        user_token = request.get("clientToken")
        self.job_queue = request.get("jobQueue")
        previous, origin = self._previous_job(job_name, user_token)
        for _ in range(MAX_ROUNDS):
            decision = decide(previous, origin=origin)
            if decision.action is Action.FAIL:
                self.log.error(decision.message)
                raise DurableSubmitError(decision.message, final=True)
            if decision.action is Action.REATTACH:
                self.log.info(decision.message)
                token = token_of(previous) or ""
                self._remember(previous, token, submitted=False)
                return Submission(_job_response(previous or {}), True, decision, token)
            token = self._next_token(job_name, user_token, previous)
            if previous is not None:
                self.log.warning(decision.message)
            else:
                self.log.info("%s (clientToken %s)", decision.message, token)
            response, holder = self._submit_once(request, token)
            if response is not None:
                self._remember(response, token, submitted=True)
                return Submission(response, False, decision, token)
            # The token is taken: by a job that was not visible to the lookup, or by our own
            # first request that botocore re-sent. Decide again on that job.
            previous, origin = holder, "an earlier request with the same clientToken"
        raise DurableSubmitError(
            f"gave up after {MAX_ROUNDS} rounds of submit/lookup for job name {job_name!r}"
        )

    # -- the previous job ------------------------------------------------------------------

    @property
    def _jobs(self) -> JobLookup:
        """The ListServiceJobs lookups (``_shared.durable_lookup``), on the request's queue."""
        return JobLookup(
            self.hook,
            self.key,
            self.log,
            self.job_queue,
            self.lookup_limit,
            self.visibility_wait,
            self.sleep,
        )

    def _previous_job(
        self, job_name: str, user_token: str | None
    ) -> tuple[dict[str, Any] | None, str]:
        stored = self._stored()
        if stored and user_token and stored.get("client_token") != user_token:
            # A user-given token is the job's identity: a different token asks for a
            # different job (e.g. one templated per try), so the stored job is not ours.
            self.log.info(
                "client_token changed since job %s was submitted: not reattaching to it",
                stored["job_id"],
            )
            return self._jobs.chain_head(job_name, user_token), FOUND_BY_LISTING
        if stored:
            job_id = str(stored["job_id"])
            describe = self._jobs.describe_visible(job_id)
            if describe is not None:
                number = stored.get("try_number")
                return describe, f"try {number}" if number else "an earlier try"
            self.log.warning(
                "task_state_store names job %s but it cannot be described: looking it up",
                job_id,
            )
        if self.try_number <= 1 and not stored:
            # A first try has no earlier job; the deterministic token still covers a
            # botocore-level duplicate. (A clear makes try_number 2+, so it looks.)
            return None, "an earlier try"
        return self._jobs.chain_head(job_name, user_token), FOUND_BY_LISTING

    def _stored(self) -> dict[str, Any] | None:
        if self.store is None:
            return None
        value = self.store.get(STORE_KEY)
        if isinstance(value, Mapping) and value.get("job_id"):
            return dict(value)
        return None

    def _remember(
        self, describe_or_response: Mapping[str, Any] | None, token: str, *, submitted: bool
    ) -> None:
        """Save the job for the next try; ``try_number`` only if this try submitted it."""
        if self.store is None or not describe_or_response:
            return
        value = {
            "job_id": describe_or_response.get("jobId"),
            "job_arn": describe_or_response.get("jobArn"),
            "job_name": describe_or_response.get("jobName"),
            "client_token": token,
            "try_number": self.try_number if submitted else None,
        }
        stored = self._stored()
        if stored and stored.get("job_id") == value["job_id"]:
            return  # reattached to what the store already names: keep "submitted by try N"
        try:
            self.store.set(STORE_KEY, value)
        except Exception:  # the lookup still covers a lost write
            self.log.warning(
                "Could not save job %s to task_state_store", value["job_id"], exc_info=True
            )

    def _next_token(
        self, job_name: str, user_token: str | None, previous: Mapping[str, Any] | None
    ) -> str:
        if user_token:
            if previous is not None:
                message = (
                    f"previous job {previous.get('jobId')} failed and carries the given "
                    f"client_token {user_token!r}: AWS would reject a new job with the same "
                    "token. Give a new client_token (or none: the operator then derives one "
                    "per job) to submit again."
                )
                self.log.error(message)
                raise DurableSubmitError(message, final=True)
            return str(user_token)
        previous_id = str(previous["jobId"]) if previous is not None else None
        return derive_token(self.key, job_name, previous_id)

    # -- submit ----------------------------------------------------------------------------

    def _submit_once(
        self, request: Mapping[str, Any], token: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Submit with ``token``: ``(response, None)``, or ``(None, describe)`` of the job
        that already holds the token.

        Throttling, 5xx and connection errors are retried with the same token, spaced by
        ``core.backoff.Backoff`` for up to ``patience`` seconds: the token makes a repeat
        safe (AWS rejects it, or answers with the first job, and either resolves to that job).
        A permanent error (HTTP 4xx) is final: the task fails without Airflow retries, with
        SubmitServiceJob's own message.
        """
        full = with_durable_tags(request, key=self.key, token=token, warn=self.log.warning)
        backoff = Backoff(patience=self.patience)
        started, failures = time.monotonic(), 0
        while True:
            try:
                response = self.hook.submit_service_job(full)
                break
            except Exception as exc:
                mapped = classify_exception(exc)
                if mapped is None:
                    raise
                kind, text = mapped
                if kind.retryable:
                    failures += 1
                    elapsed = time.monotonic() - started
                    delay = backoff.next_delay(failures, elapsed, self.rng)
                    if delay is None:
                        raise DurableSubmitError(
                            f"SubmitServiceJob still failing after {elapsed:.0f}s of retries "
                            f"(submit_patience={self.patience:g}s); nothing was created that "
                            f"a retry would not find again (clientToken {token}). Last error: "
                            f"{text}"
                        ) from exc
                    self.log.warning(
                        "SubmitServiceJob: %s; retry %d in %.1fs with the same clientToken "
                        "(%.0fs of submit_patience=%gs left)",
                        text,
                        failures,
                        delay,
                        self.patience - elapsed,
                        self.patience,
                    )
                    self.sleep(delay)
                    continue
                rejected = is_token_rejection(text)
                holder = self._jobs.holder_of(token, str(request["jobName"])) if rejected else None
                if holder is None and rejected:
                    raise DurableSubmitError(
                        f"SubmitServiceJob says clientToken {token} was used already, but no job "
                        f"carrying it became visible within {self.visibility_wait:g}s; a retry "
                        f"of the task looks it up again: {text}"
                    ) from exc
                if holder is None:
                    raise DurableSubmitError(
                        f"SubmitServiceJob refused the request, so nothing was submitted and "
                        f"the task is not retried (the same request would be refused again): "
                        f"{text}",
                        final=True,
                    ) from exc
                self.log.warning(
                    "SubmitServiceJob refused clientToken %s (%s): it belongs to job %s (%s)",
                    token,
                    text,
                    holder.get("jobId"),
                    holder.get("status"),
                )
                return None, holder
        self.log.info(
            "Submitted service job %s: jobId %s, jobArn %s (clientToken %s)",
            response.get("jobName"),
            response.get("jobId"),
            response.get("jobArn"),
            token,
        )
        return response, None
