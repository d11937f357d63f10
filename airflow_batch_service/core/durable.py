"""Durable submission's rules: which job a task key owns, and what a new try does about it.

Pure (the shell with its I/O is ``airflow_batch_service._shared.durable``). A task key
(``dag_id``, ``task_id``, ``run_id``, ``map_index``: ``core.task_tag.TaskKey``, also importable
from here) derives a deterministic clientToken per "generation" of its job
(:func:`derive_token`); the token and the key (in ``core.task_tag``'s format) are written as
tags on the job (:func:`with_durable_tags`); and :func:`decide` is the decision table for the
job an earlier try left behind:

- none found: submit, with token ``T(key, name, None)``;
- in progress (SUBMITTED ... RUNNING, or a status this version does not know): reattach;
- SUCCEEDED: reattach: return it, no new job;
- FAILED because an EXIT rule matched: fail for good, the user said that failure is final;
- FAILED otherwise (attempts exhausted, terminated, timed out, preemption limit): submit a new
  job with token ``T(key, name, X)``, X being the failed job's id.

:func:`killed_by_other_try` reads a terminate reason: a clear of a deferred task can let the
old try's kill land after the new try reattached, and the new try must not fail for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.task_tag import TASK_TAG, TaskKey
from airflow_batch_service.core.verdict import Verdict, interpret

#: Tag carrying the clientToken the job was submitted with: the lookup's proof of ownership.
TOKEN_TAG = "airflow-batch-service:client-token"
#: ``task_state_store`` key (Airflow 3.3+). Renaming it breaks in-flight retries.
STORE_KEY = "airflow_batch_service.service_job"
#: Token scheme version: part of the hash, so a future scheme never collides with this one.
TOKEN_SCHEME = "abs1"
MAX_TOKEN = 64
MAX_TAGS = 50

#: Bytes the durable clientToken and the two tags can add to a request (token 64, token tag
#: about 100, task tag at most 290, JSON punctuation): counted against the 30 KiB quota.
DURABLE_REQUEST_RESERVE = 512

_TOKEN_REJECTION_WORDS = ("clienttoken", "client token", "idempot", "already", "duplicate")


def derive_token(key: TaskKey, job_name: str, previous_job_id: str | None = None) -> str:
    """The deterministic clientToken for ``key``'s job named ``job_name`` that replaces
    ``previous_job_id`` (``None``: the first). 64 characters, ``[a-z0-9-]``."""
    material = json.dumps(
        [
            TOKEN_SCHEME,
            key.dag_id,
            key.task_id,
            key.run_id,
            key.map_index,
            job_name,
            previous_job_id,
        ],
        separators=(",", ":"),
    )
    digest = hashlib.sha256(material.encode()).hexdigest()
    token = f"{TOKEN_SCHEME}-{digest}"[:MAX_TOKEN]
    return token


def with_durable_tags(
    request: Mapping[str, Any], *, key: TaskKey, token: str, warn: Callable[[str], None]
) -> dict[str, Any]:
    """``request`` with ``clientToken`` and the two durable tags merged into the user's tags.

    The user's tags win a key collision (they are unlikely to use ours). Batch allows 50 tags:
    the token tag (which the lookup needs) is added first, the task tag only if room is left.
    """
    out = dict(request)
    out["clientToken"] = token
    user_tags = dict(out.get("tags") or {})
    tags = dict(user_tags)
    for tag_key, value in ((TOKEN_TAG, token), (TASK_TAG, key.tag_value())):
        if tag_key in tags:
            continue
        if len(tags) >= MAX_TAGS:
            warn(
                f"tags: {len(user_tags)} user tags leave no room for {tag_key!r} (Batch allows "
                f"{MAX_TAGS}); "
                + (
                    "a retry can only find this job through task_state_store (Airflow 3.3+)"
                    if tag_key == TOKEN_TAG
                    else "the job is not labelled with its task"
                )
            )
            continue
        tags[tag_key] = value
    if tags:
        out["tags"] = tags
    return out


# ------------------------------------------------------------------------------ decision


class Action(StrEnum):
    SUBMIT = "submit"
    REATTACH = "reattach"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    """What to do about the previous job of this task key."""

    action: Action
    message: str
    verdict: Verdict | None = None

    @property
    def job_id(self) -> str | None:
        return self.verdict.job_id if self.verdict else None


def decide(describe: Mapping[str, Any] | None, *, origin: str = "an earlier try") -> Decision:
    """The decision table (module doc) for one DescribeServiceJob response, or ``None``.

    ``origin`` says who submitted it ("try 1", "an earlier try"), for the log line only.
    """
    if describe is None:
        return Decision(Action.SUBMIT, "no earlier job of this task found: submitting a new one")
    verdict = interpret(describe)
    job = verdict.job_id
    if not verdict.done:
        return Decision(
            Action.REATTACH,
            f"reattaching to job {job} ({verdict.status}) submitted by {origin}",
            verdict,
        )
    if verdict.succeeded:
        return Decision(
            Action.REATTACH,
            f"job {job} submitted by {origin} already SUCCEEDED: returning it, not resubmitting",
            verdict,
        )
    if verdict.cause is Cause.EXIT_RULE:
        return Decision(
            Action.FAIL,
            f"previous job {job} failed for good because an EXIT rule matched: not "
            f"resubmitting. {verdict.headline()}",
            verdict,
        )
    cause = verdict.cause.value.replace("_", " ") if verdict.cause else "no cause given"
    return Decision(
        Action.SUBMIT,
        f"previous job {job} failed ({cause}): submitting a new one. {verdict.headline()}",
        verdict,
    )


def killed_by_other_try(status_reason: Any, prefix: str, try_number: int) -> str | None:
    """The try number whose kill terminated a job, when ``status_reason`` is this task
    instance's kill reason (``prefix`` + ``"N) was killed"``) for a try other than
    ``try_number``; else None. A clear of a deferred task lets the old try's kill land after
    the new try reattached: the new try must not fail for it."""
    if not isinstance(status_reason, str) or not status_reason.startswith(prefix):
        return None
    number = status_reason[len(prefix) :].split(")", 1)[0]
    if not number.isdigit() or int(number) == try_number:
        return None
    return number


def is_token_rejection(error_text: str) -> bool:
    """The documented "second request is rejected" has no documented error code: an error
    whose text mentions the token or a duplicate is taken for one."""
    text = error_text.lower()
    return any(word in text for word in _TOKEN_REJECTION_WORDS)
