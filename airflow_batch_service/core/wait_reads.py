"""What a wait reads besides the job itself: the training job's log lines, and where a
RUNNABLE job stands in its queue. Both are sub-flows of ``core.wait.wait_flow`` (requests
from ``core.flow``, no I/O), and both are best effort: their trouble never touches the wait.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from airflow_batch_service.core.flow import Call, Failed, Log, Request
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.standing import READ_INTERVAL_SECONDS, standing
from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.core.verdict import Verdict, format_duration
from airflow_batch_service.core.watch import WatchState

#: GetLogEvents pages read per stream per read: a chatty job catches up over a few reads.
MAX_LOG_PAGES = 10


def read_logs(tail: LogTail, now_ms: int) -> Generator[Request, Any, list[str]]:
    """One round of training-log reads (call when ``tail.due``): the new lines, in order.

    Log trouble (no log group yet, throttling, a lost connection) never touches the wait: the
    round stops, one debug line says why, and the next round tries again.
    """
    lines: list[str] = []
    if tail.idle:
        return lines
    tail.read_done(now_ms)
    for name in tail.to_discover():
        reply = yield Call("describe_log_streams", {"log_group": LOG_GROUP, "prefix": f"{name}/"})
        if isinstance(reply, Failed):
            yield Log("debug", f"could not list training log streams: {reply.message}")
            return lines
        tail.on_streams(name, reply)
    for name, stream, token in tail.to_read():
        for _ in range(MAX_LOG_PAGES):
            reply = yield Call(
                "get_log_events",
                {"log_group": LOG_GROUP, "stream": stream, "token": token},
            )
            if isinstance(reply, Failed):
                yield Log("debug", f"could not read training logs: {reply.message}")
                return lines
            events, next_token = reply
            lines.extend(tail.on_events(name, stream, events, next_token))
            if not next_token or next_token == token:
                break
            token = next_token
    tail.settle()
    return lines


def look_at_queue(
    state: WatchState, describe: Mapping[str, Any], verdict: Verdict, now_ms: int
) -> Generator[Request, Any, None]:
    """While the job is RUNNABLE, read where it stands (at most every
    ``core.standing.READ_INTERVAL_SECONDS``; the snapshot itself is shared per queue by the
    hook) and log it when its place or the capacity in use changed. ``state``: the wait's
    watch state, which keeps what was read and logged."""
    queue = describe.get("jobQueue")
    if verdict.status != ServiceJobStatus.RUNNABLE or not queue or not verdict.job_arn:
        return
    if (
        state.standing_read is not None
        and now_ms - state.standing_read < READ_INTERVAL_SECONDS * 1000
    ):
        return
    state.standing_read = now_ms
    reply = yield Call(
        "queue_picture",
        {"job_queue": str(queue), "quota_share_name": describe.get("quotaShareName")},
    )
    if isinstance(reply, Failed):
        yield Log("debug", f"could not read the queue snapshot: {reply.message}")
        return
    if not isinstance(reply, Mapping):
        return
    where = standing(
        reply.get("snapshot") or {},
        job_arn=verdict.job_arn,
        queue=str(reply.get("queue") or queue),
        quota_share=describe.get("quotaShareName"),
        share_identifier=describe.get("shareIdentifier"),
        limits=reply.get("limits") or {},
    )
    since = state.runnable_since or state.since or now_ms
    text = where.describe(format_duration(max(0, now_ms - since)))
    state.position, state.place, state.standing_text = where.position, where.place, text
    if where.key() != state.standing_key:
        state.standing_key = where.key()
        yield Log("info", text)
