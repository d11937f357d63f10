"""Fetch new training-log lines: the thin I/O half of log streaming (``core.logtail``).

:func:`fetch_new_lines` reads what :class:`~airflow_batch_service.core.logtail.LogTail` asks
for with a CloudWatch Logs client and returns the new, labelled lines. The sync wait calls it
directly; the trigger calls it in a thread (``shared_clients.run_blocking``) with the triggerer's shared
logs client. Log trouble (no log group yet, throttling, a lost connection) never affects the
wait: it is logged at debug level and the next poll tries again.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_batch_service.core.logtail import TRAINING_LOG_GROUP, LogTail
from airflow_batch_service.core.verdict import Verdict, training_job_name

#: GetLogEvents pages read per stream per poll: a chatty job catches up over a few polls
#: instead of one poll taking minutes.
MAX_PAGES = 10

_log = logging.getLogger(__name__)


def follow_verdict(tail: LogTail, verdict: Verdict, now_ms: int | None = None) -> None:
    """Point the tail at the latest attempt's training job (``latestAttempt``)."""
    from airflow_batch_service.waiting import now_ms as clock

    tail.follow(
        training_job_name(verdict.latest_training_job_arn),
        len(verdict.attempts),
        clock() if now_ms is None else now_ms,
    )


def fetch_new_lines(client: Any, tail: LogTail, now_ms: int | None = None) -> list[str]:
    """One round of reads (call when ``tail.due(...)``). Returns the new lines in order."""
    from airflow_batch_service.waiting import now_ms as clock

    lines: list[str] = []
    if tail.idle:
        return lines
    tail.read_done(clock() if now_ms is None else now_ms)
    try:
        for name in tail.to_discover():
            response = client.describe_log_streams(
                logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{name}/"
            )
            tail.on_streams(name, (s["logStreamName"] for s in response.get("logStreams", [])))
        for name, stream, token in tail.to_read():
            for _ in range(MAX_PAGES):
                kwargs: dict[str, Any] = {
                    "logGroupName": TRAINING_LOG_GROUP,
                    "logStreamName": stream,
                    "startFromHead": True,
                }
                if token:
                    kwargs["nextToken"] = token
                response = client.get_log_events(**kwargs)
                next_token = response.get("nextForwardToken")
                lines.extend(tail.on_events(name, stream, response.get("events", []), next_token))
                if not next_token or next_token == token:
                    break
                token = next_token
        tail.settle()
    except Exception as exc:  # never let logs end or slow a wait
        _log.debug("could not read training logs: %s", exc)
    return lines


async def fetch_new_lines_async(client: Any, tail: LogTail) -> list[str]:
    """:func:`fetch_new_lines` off the event loop (the client is a thread-safe boto3 client)."""
    from airflow_batch_service.shared_clients import run_blocking

    return await run_blocking(fetch_new_lines, client, tail)
