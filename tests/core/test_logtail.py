"""``core.logtail``: attempts that ended before the wait first looked are read once."""

from __future__ import annotations

import json

from airflow_batch_service.core.logtail import LogTail


def _round_trip(tail: LogTail) -> LogTail:
    return LogTail.from_dict(json.loads(json.dumps(tail.to_dict())))


def test_attempts_ended_before_the_first_look_are_read_once_now() -> None:
    tail = LogTail()
    tail.follow("tj-3", 3, now_ms=1_000, earlier=[("tj-1", 1), (None, 2)])
    assert tail.due(1_000)  # the failed attempt's log now, not an interval later
    assert tail.to_discover() == ["tj-1", "tj-3"]
    tail.on_streams("tj-1", ["tj-1/algo-1-17"])
    assert tail.on_events("tj-1", "tj-1/algo-1-17", [{"message": "boom"}], "f/1") == [
        "[attempt 1 algo-1] boom"
    ]
    tail.read_done(1_000)
    tail.settle()
    assert list(tail.jobs) == ["tj-3"]
    # Later looks, and a deferral's state carried over, never take attempt 1 up again.
    for again in (tail, _round_trip(tail)):
        again.follow("tj-3", 3, now_ms=2_000, earlier=[("tj-1", 1), (None, 2)])
        assert list(again.jobs) == ["tj-3"]


def test_an_attempt_followed_while_it_ran_is_not_read_again_as_earlier() -> None:
    tail = LogTail()
    tail.follow("tj-1", 1, now_ms=0)
    tail.follow("tj-2", 2, now_ms=5_000, earlier=[("tj-1", 1)])
    assert tail.jobs["tj-1"].closing and tail.due(5_000)  # drained once, as before
    tail.settle()
    tail.follow("tj-2", 2, now_ms=6_000, earlier=[("tj-1", 1)])
    assert list(tail.jobs) == ["tj-2"]
    assert "seen_attempt" not in tail.to_dict()  # ``jobs`` says it: rows stay as before


def test_the_highest_attempt_taken_up_is_kept_when_jobs_no_longer_show_it() -> None:
    tail = LogTail()
    tail.follow(None, 2, now_ms=0, earlier=[("tj-1", 1)])  # attempt 2 has no training job yet
    tail.settle()
    assert tail.jobs == {} and tail.to_dict()["seen_attempt"] == 1
    again = _round_trip(tail)
    again.follow("tj-2", 2, now_ms=1_000, earlier=[("tj-1", 1)])
    assert list(again.jobs) == ["tj-2"]
