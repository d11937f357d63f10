"""Reading the emulator's state-change events back out of SQS, for ``test_events.py``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]

STATE_CHANGE = "Batch Service Job State Change"

#: A job that succeeds at the first try goes through these, one event each (none for SUBMITTED).
HAPPY_PATH = ["RUNNABLE", "SCHEDULED", "STARTING", "RUNNING", "SUCCEEDED"]


def drain(sqs: Any, url: str) -> list[Event]:
    """Every message in the queue now, parsed, in arrival order (and deleted)."""
    out: list[Event] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return out
        for message in messages:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def wait_for_events(
    sqs: Any,
    url: str,
    done: Callable[[list[Event]], bool],
    what: str,
    timeout: float = 90.0,
) -> list[Event]:
    """Long-poll the queue until ``done(every event so far)``; fail naming ``what`` after
    ``timeout`` seconds (generous: the machine may be loaded)."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        for message in messages:
            seen.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if done(seen):
            return seen
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {statuses(seen)}")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def statuses(events: list[Event]) -> list[str]:
    """Each state change's status; the detail-type of any other event."""
    return [
        event["detail"]["status"] if event["detail-type"] == STATE_CHANGE else event["detail-type"]
        for event in events
    ]


def of_job(events: list[Event], job_id: str) -> list[Event]:
    return [event for event in events if event["detail"].get("jobId") == job_id]


def iso(epoch_ms: int) -> str:
    """EventBridge's ``time`` of an instant given in Batch's epoch milliseconds."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def advance_until_quiet(emu: Any, seconds: float = 12, step: float = 1) -> None:
    """Move the frozen clock far enough for a job (1 s per state) to finish, in steps."""
    for _ in range(int(seconds / step)):
        emu.advance(step)


def held_back(events: list[Event], order: list[str]) -> int:
    """How many of one job's events arrived after an event that happened later (``order``:
    its statuses in the order they happened, each once)."""
    rank = [order.index(status) for status in statuses(events)]
    return sum(1 for i, r in enumerate(rank) if any(earlier > r for earlier in rank[:i]))
