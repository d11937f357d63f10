"""The wait's flow (core.wait.wait_flow, core.wait_reads): stepped by a tiny fake driver with
canned replies and a fake clock, as ``_shared.waiting`` steps it with a hook. No I/O, no
Airflow."""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.core.wait import (
    ERROR,
    FAILED,
    MAX_LOG_PAGES,
    SUCCESS,
    TIMEOUT,
    WAIT_TIMEOUT,
    Call,
    Failed,
    JobWait,
    Log,
    Seen,
    Sleep,
    read_logs,
    wait_flow,
)

from .factories import ISE, STRATEGY, attempt, describe
from .test_wait import TRAINING_JOB, deadline, new_wait, running, succeeded


@dataclass
class Driver:
    """Steps a flow like ``waiting.run``: canned replies per Call method (the last one repeats;
    a method without any answers ``Failed``), a fake clock that sleeping moves."""

    replies: Mapping[str, list[Any]]
    now: int = 0
    calls: list[Call] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)
    _queues: dict[str, list[Any]] = field(default_factory=dict)

    def clock(self) -> int:
        return self.now

    def answer(self, call: Call) -> Any:
        queue = self._queues.setdefault(call.method, list(self.replies.get(call.method, [])))
        if not queue:
            return Failed(ErrorKind.TRANSIENT, f"no canned reply for {call.method}")
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return reply() if callable(reply) else reply

    def run(self, flow: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        try:
            while True:
                request = flow.send(reply)
                reply = None
                if isinstance(request, Call):
                    self.calls.append(request)
                    reply = self.answer(request)
                elif isinstance(request, Sleep):
                    self.sleeps.append(request.seconds)
                    self.now += int(request.seconds * 1000)
                elif isinstance(request, Log):
                    self.logs.append((request.level, request.message))
                elif isinstance(request, Seen):
                    self.seen.append(request.verdict)
        except StopIteration as stop:
            return stop.value

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def lines(self, level: str | None = None) -> list[str]:
        return [m for lv, m in self.logs if level is None or lv == level]


def test_once_polls_one_time_and_returns_none_while_the_job_goes_on() -> None:
    driver = Driver({"describe_service_job": [running()]}, now=3_000)
    wait = new_wait()
    assert driver.run(wait_flow(wait, clock=driver.clock, once=True)) is None
    assert driver.called("describe_service_job") == [
        Call("describe_service_job", {"job_id": "job-1"})
    ]
    assert driver.sleeps == [] and len(driver.seen) == 1
    assert wait.last_step is not None and wait.last_step.sleep > 0  # the poke's backoff
    assert "service job train (job-1) is RUNNING" in driver.lines("info")


def test_once_returns_the_outcome_when_the_job_has_ended() -> None:
    driver = Driver({"describe_service_job": [succeeded()]}, now=10_000)
    outcome = driver.run(wait_flow(new_wait(), clock=driver.clock, once=True))
    assert outcome.status == SUCCESS and driver.sleeps == []


def test_once_resumes_from_the_previous_pokes_state_without_repeating_lines() -> None:
    first = new_wait()
    driver = Driver({"describe_service_job": [running()]}, now=3_000)
    driver.run(wait_flow(first, clock=driver.clock, once=True))
    again = Driver({"describe_service_job": [running()]}, now=4_000)
    resumed = JobWait.create(
        "job-1", poll_interval=1.0, state=json.loads(json.dumps(first.state()))
    )
    assert again.run(wait_flow(resumed, clock=again.clock, once=True)) is None
    assert again.lines("info") == []


def test_the_full_wait_rides_out_transient_errors_until_the_end() -> None:
    throttled = Failed(ErrorKind.TRANSIENT, "TooManyRequestsException: slow down")
    driver = Driver(
        {"describe_service_job": [describe("RUNNABLE"), throttled, running(), succeeded()]},
        now=1_000,
    )
    outcome = driver.run(wait_flow(new_wait(), clock=driver.clock))
    assert outcome.status == SUCCESS
    assert len(driver.called("describe_service_job")) == 4
    assert len(driver.sleeps) == 3 and all(s > 0 for s in driver.sleeps)
    assert any("TooManyRequestsException" in m for m in driver.lines("warning"))
    assert any("works again" in m for m in driver.lines("info"))
    assert [v.status for v in driver.seen] == ["RUNNABLE", "RUNNING", "SUCCEEDED"]


def test_a_fatal_error_ends_the_full_wait_at_once() -> None:
    denied = Failed(ErrorKind.FATAL, "AccessDeniedException")
    driver = Driver({"describe_service_job": [running(), denied]}, now=3_000)
    outcome = driver.run(wait_flow(new_wait(), clock=driver.clock))
    assert outcome.status == ERROR and len(driver.sleeps) == 1


def test_the_owner_terminates_its_job_when_the_deadline_passes() -> None:
    limit = deadline(5_000)
    driver = Driver({"describe_service_job": [running()], "terminate_service_job": [None]})
    wait = new_wait(
        poll_interval=2.0,
        limit=limit,
        terminate_on_timeout=True,
        terminate_reason_prefix="Airflow task train: ",
    )
    outcome = driver.run(wait_flow(wait, clock=driver.clock))
    assert driver.called("terminate_service_job") == [
        Call(
            "terminate_service_job",
            {"job_id": "job-1", "reason": f"Airflow task train: {limit.what}"},
        )
    ]
    assert driver.calls[-1].method == "terminate_service_job"  # after the last describe
    assert driver.now == limit.at_ms  # the last sleep stopped at the deadline, not past it
    assert outcome.status == FAILED and outcome.timeout == WAIT_TIMEOUT
    assert outcome.terminated == "The job was terminated." and outcome.terminate_reason is None
    assert f"{limit.what}; terminating service job job-1" in driver.lines("error")


def test_a_failed_terminate_is_logged_and_said() -> None:
    denied = Failed(ErrorKind.FATAL, "AccessDeniedException")
    driver = Driver({"describe_service_job": [running()], "terminate_service_job": [denied]})
    wait = new_wait(limit=deadline(2_000), terminate_on_timeout=True)
    outcome = driver.run(wait_flow(wait, clock=driver.clock))
    assert outcome.terminated.startswith("Terminating the job FAILED (AccessDeniedException)")
    assert "could not terminate service job job-1: AccessDeniedException" in driver.lines("error")


def test_a_non_owner_never_terminates() -> None:
    driver = Driver({"describe_service_job": [running()]})
    outcome = driver.run(wait_flow(new_wait(limit=deadline(3_000)), clock=driver.clock))
    assert outcome.status == TIMEOUT and driver.called("terminate_service_job") == []


def test_stuck_in_runnable_is_terminated_by_the_flow() -> None:
    driver = Driver(
        {"describe_service_job": [describe("RUNNABLE")], "terminate_service_job": [None]}
    )
    wait = new_wait(max_runnable_seconds=2.5)
    outcome = driver.run(wait_flow(wait, clock=driver.clock))
    assert len(driver.called("terminate_service_job")) == 1
    assert outcome.status == FAILED and outcome.terminated == "The job was terminated."
    assert "max_runnable_seconds=2.5" in outcome.message


# -- training logs


STREAM = f"{TRAINING_JOB}/algo-1-1700000000"


def events(*messages: str) -> list[dict[str, Any]]:
    return [{"timestamp": 1, "message": m + "\n"} for m in messages]


def test_the_flow_follows_the_latest_attempts_logs_and_reads_the_last_lines_at_the_end() -> None:
    driver = Driver(
        {
            "describe_service_job": [running(), running(), succeeded(stop=200_000)],
            "describe_log_streams": [[STREAM]],
            "get_log_events": [
                (events("epoch 1"), "t1"),
                (events("epoch 2"), "t2"),
                ([], "t2"),  # the same token back: nothing more for now
                (events("done"), "t3"),
                ([], "t3"),
            ],
        },
        now=3_000,
    )
    # 40 s polls: the first read is due one READ_INTERVAL (30 s) after the job is followed.
    outcome = driver.run(
        wait_flow(new_wait(poll_interval=40.0), clock=driver.clock, tail=LogTail())
    )
    assert outcome.status == SUCCESS
    assert driver.called("describe_log_streams") == [
        Call("describe_log_streams", {"log_group": LOG_GROUP, "prefix": f"{TRAINING_JOB}/"})
    ]
    tokens = [c.kwargs["token"] for c in driver.called("get_log_events")]
    assert tokens == [None, "t1", "t2", "t2", "t3"]  # paging within a read, resuming after it
    assert all(c.kwargs["stream"] == STREAM for c in driver.called("get_log_events"))
    log_lines = [m for m in driver.lines("info") if m.startswith("[attempt")]
    assert log_lines == [
        "[attempt 1 algo-1] epoch 1",
        "[attempt 1 algo-1] epoch 2",
        "[attempt 1 algo-1] done",
    ]


def test_a_failed_log_read_never_ends_the_wait() -> None:
    throttled = Failed(ErrorKind.TRANSIENT, "ThrottlingException: Rate exceeded")
    driver = Driver(
        {
            "describe_service_job": [running(), running(), succeeded(stop=200_000)],
            "describe_log_streams": [[STREAM]],
            "get_log_events": [throttled],
        },
        now=3_000,
    )
    outcome = driver.run(
        wait_flow(new_wait(poll_interval=40.0), clock=driver.clock, tail=LogTail())
    )
    assert outcome.status == SUCCESS
    assert len(driver.called("get_log_events")) == 2  # tried on the due read and at the end
    assert (
        driver.lines("debug")
        == ["could not read training logs: ThrottlingException: Rate exceeded"] * 2
    )
    assert not driver.lines("warning") and not driver.lines("error")


def test_a_failed_stream_listing_stops_the_round_and_the_next_tries_again() -> None:
    tail = LogTail()
    tail.follow(TRAINING_JOB, 1, 0)
    missing = Failed(ErrorKind.NOT_FOUND, "ResourceNotFoundException: no log group")
    driver = Driver({"describe_log_streams": [missing, [STREAM]], "get_log_events": [([], None)]})
    assert driver.run(read_logs(tail, 30_000)) == []
    assert driver.lines("debug") == [
        "could not list training log streams: ResourceNotFoundException: no log group"
    ]
    assert driver.called("get_log_events") == []
    assert driver.run(read_logs(tail, 60_000)) == []
    assert len(driver.called("get_log_events")) == 1


def test_a_chatty_stream_is_read_at_most_max_log_pages_per_round() -> None:
    tail = LogTail()
    tail.follow(TRAINING_JOB, 1, 0)
    pages = iter(range(1, 100))

    def page() -> tuple[list[dict[str, Any]], str]:
        n = next(pages)
        return events(f"line {n}"), f"t{n}"

    driver = Driver({"describe_log_streams": [[STREAM]], "get_log_events": [page]})
    lines = driver.run(read_logs(tail, 30_000))
    assert len(lines) == MAX_LOG_PAGES == len(driver.called("get_log_events"))
    assert lines[0] == "[attempt 1 algo-1] line 1"
    more = driver.run(read_logs(tail, 60_000))  # the next round goes on from the last token
    assert more[0] == f"[attempt 1 algo-1] line {MAX_LOG_PAGES + 1}"
    assert driver.called("get_log_events")[MAX_LOG_PAGES].kwargs["token"] == f"t{MAX_LOG_PAGES}"


def test_an_idle_tail_reads_nothing() -> None:
    driver = Driver({})
    assert driver.run(read_logs(LogTail(), 0)) == [] and driver.calls == []


def test_a_new_attempt_drains_the_previous_attempts_logs() -> None:
    second = f"AWSBatchtrain{2:032x}"
    tries = [attempt(1, 2_000, 4_000, ISE), attempt(2, 5_000)]
    retried = describe("RUNNING", tries, startedAt=5_000, retryStrategy=STRATEGY)
    done = describe(
        "SUCCEEDED",
        [tries[0], attempt(2, 5_000, 200_000)],
        startedAt=5_000,
        stoppedAt=200_000,
        retryStrategy=STRATEGY,
    )
    streams = {f"{TRAINING_JOB}/": [STREAM], f"{second}/": [f"{second}/algo-1-1700000001"]}
    driver = Driver(
        {
            "describe_service_job": [running(), retried, done],
            "describe_log_streams": [lambda: streams[driver.calls[-1].kwargs["prefix"]]],
            "get_log_events": [lambda: (events(driver.calls[-1].kwargs["stream"]), None)],
        },
        now=3_000,
    )
    driver.run(wait_flow(new_wait(poll_interval=40.0), clock=driver.clock, tail=LogTail()))
    read = [c.kwargs["stream"] for c in driver.called("get_log_events")]
    # Attempt 2 started: attempt 1's stream is read one last time, then only attempt 2's.
    assert read[0] == STREAM and read[-1] == streams[f"{second}/"][0]
    assert STREAM not in read[read.index(streams[f"{second}/"][0]) :]
    labels = {m.split("]")[0] + "]" for m in driver.lines("info") if m.startswith("[attempt")}
    assert labels == {"[attempt 1 algo-1]", "[attempt 2 algo-1]"}
