"""The emulator's SQS queue counts (``emulator.sqs_speed``) keep moto's rules.

moto asked every message for the clock; the emulator reads it once per pass. What a consumer
sees must not change: in-flight and delayed messages are neither received nor counted as
available, and come back when their time comes (moto's message clock is the wall clock).
"""

from __future__ import annotations

import time
from typing import Any

import pytest


@pytest.fixture
def sqs(emu: Any) -> Any:
    return emu.client("sqs")


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


def test_in_flight_and_delayed_messages_are_counted_apart_and_not_received(sqs):
    url = sqs.create_queue(QueueName="counts")["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(k), "MessageBody": f"m{k}"} for k in range(3)]
    )
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=900)
    assert counts(sqs, url) == (3, 0, 1)

    taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=900)
    assert len(taken["Messages"]) == 2
    assert counts(sqs, url) == (1, 2, 1)
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900)
    assert [m["Body"] for m in rest["Messages"]] == [
        b for b in ("m0", "m1", "m2") if b not in {m["Body"] for m in taken["Messages"]}
    ]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") is None
    assert counts(sqs, url) == (0, 3, 1)


def test_a_message_given_back_is_received_again(sqs):
    url = sqs.create_queue(QueueName="given-back")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    [message] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=900)["Messages"]
    assert counts(sqs, url) == (0, 1, 0)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    deadline = time.monotonic() + 30  # moto's "visible" is strictly after visible_at
    while not (got := sqs.receive_message(QueueUrl=url).get("Messages")):
        assert time.monotonic() < deadline, "a message given back never came back"
    assert [m["Body"] for m in got] == ["again"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)
