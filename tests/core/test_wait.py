"""The wait's rules and flow (core.wait): deadlines, outcomes, endings, events, and the flow
stepped by a tiny fake driver with canned replies and a fake clock. No I/O, no Airflow."""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.logtail import LogTail
from airflow_batch_service.core.retry import Cause
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.core.wait import (
    ERROR,
    EXECUTION_TIMEOUT,
    FAILED,
    MAX_LOG_PAGES,
    RESUBMIT_NOTE,
    RESUBMITTABLE_CAUSES,
    SENSOR_TIMEOUT,
    SUCCESS,
    TIMEOUT,
    WAIT_TIMEOUT,
    Call,
    Ending,
    Failed,
    JobWait,
    Limit,
    Log,
    Seen,
    Sleep,
    WaitOutcome,
    ending,
    execution_limit,
    nearest,
    read_logs,
    wait_flow,
)

from .factories import ARN, ISE, STRATEGY, VALIDATION, attempt, describe

TRAINING_JOB = f"AWSBatchtrain{1:032x}"


def running(start: int = 2_000) -> dict[str, Any]:
    return describe("RUNNING", [attempt(1, start)], startedAt=start, retryStrategy=STRATEGY)


def succeeded(start: int = 2_000, stop: int = 9_000) -> dict[str, Any]:
    return describe(
        "SUCCEEDED",
        [attempt(1, start, stop)],
        startedAt=start,
        stoppedAt=stop,
        retryStrategy=STRATEGY,
    )


def failed(reason: str = VALIDATION, stop: int = 9_000) -> dict[str, Any]:
    return describe(
        "FAILED",
        [attempt(1, 2_000, stop, reason)],
        startedAt=2_000,
        stoppedAt=stop,
        statusReason=reason,
        retryStrategy=STRATEGY,
    )


def new_wait(**kwargs: Any) -> JobWait:
    kwargs.setdefault("poll_interval", 1.0)
    kwargs.setdefault("started_ms", 0)
    return JobWait.create("job-1", **kwargs)


def deadline(at_ms: int, kind: str = WAIT_TIMEOUT) -> Limit:
    return Limit(at_ms, kind, f"The wait exceeded {kind}.", f"{kind}=x")


# ------------------------------------------------------------------------------ limits


def test_nearest_is_the_limit_that_passes_first_ties_to_the_first_given() -> None:
    wait, execution, sensor = deadline(9_000), deadline(5_000, EXECUTION_TIMEOUT), deadline(5_000)
    assert nearest([wait, None, execution, sensor]) is execution
    assert nearest([sensor, execution]) is sensor
    assert nearest([None, wait]) is wait
    assert nearest([]) is None and nearest([None, None]) is None


def test_execution_limit_counts_from_the_tries_start_in_the_users_words() -> None:
    limit = execution_limit(1_000, 8.5, "0:00:08.500000")
    assert limit == Limit(
        9_500,
        EXECUTION_TIMEOUT,
        "The task exceeded execution_timeout=0:00:08.500000.",
        "execution_timeout=0:00:08.500000",
    )


def test_the_tasks_execution_limit_starts_at_the_task_instances_start_date() -> None:
    from datetime import UTC, datetime, timedelta

    from airflow_batch_service._shared import waiting

    start = datetime(2026, 1, 1, tzinfo=UTC)
    task = SimpleNamespace(execution_timeout=timedelta(seconds=8))
    limit = waiting.execution_limit(task, {"ti": SimpleNamespace(start_date=start)})
    assert limit is not None
    assert limit.at_ms == int(start.timestamp() * 1000) + 8_000
    assert limit.kind == EXECUTION_TIMEOUT and limit.label == "execution_timeout=0:00:08"
    # Without a start date: when execute began; without execution_timeout: no limit.
    task._started_ms = 42_000
    assert waiting.execution_limit(task, {"ti": None}).at_ms == 50_000
    assert waiting.execution_limit(SimpleNamespace(), {}) is None


def test_sleeps_never_pass_the_deadline() -> None:
    wait = new_wait(poll_interval=30.0, limit=deadline(10_000))
    step = wait.on_response(running(), 4_000)
    assert wait.remaining(4_000) == 6.0
    assert wait.sleep_for(step, 4_000) == 6.0
    assert wait.remaining(12_000) == 0.0
    assert new_wait().remaining(4_000) is None
    assert new_wait().sleep_for(step, 4_000) == step.sleep


# ------------------------------------------------------------------------------ outcomes


def test_success_carries_the_summary_arn_and_name() -> None:
    wait = new_wait()
    wait.on_response(running(), 3_000)
    outcome = wait.outcome(wait.on_response(succeeded(), 10_000), 10_000)
    assert outcome is not None and outcome.status == SUCCESS
    assert outcome.message.startswith("Service job train (job-1) SUCCEEDED after 1 attempt(s)")
    assert outcome.summary is not None and outcome.summary["status"] == "SUCCEEDED"
    assert outcome.training_job_arn == ARN + TRAINING_JOB
    assert outcome.job_name == "train" and outcome.terminate_reason is None
    assert [t["status"] for t in outcome.timeline] == ["RUNNING", "SUCCEEDED"]


def test_a_running_job_is_no_outcome_yet() -> None:
    wait = new_wait(limit=deadline(60_000))
    assert wait.outcome(wait.on_response(running(), 3_000), 3_000) is None


def test_failure_names_its_cause_and_reason() -> None:
    wait = new_wait()
    outcome = wait.outcome(wait.on_response(failed(), 10_000), 10_000)
    assert outcome is not None and outcome.status == FAILED
    assert outcome.cause == Cause.EXIT_RULE.value
    assert outcome.status_reason == VALIDATION
    assert "an EXIT rule matched" in outcome.message
    assert outcome.terminate_reason is None and outcome.timeout is None


def test_a_job_never_found_past_the_grace_does_not_exist() -> None:
    wait = new_wait(not_found_grace=5.0)
    early = wait.on_error(ErrorKind.NOT_FOUND, "Job job-1 does not exist", 3_000)
    assert wait.outcome(early, 3_000) is None and "not visible yet" in early.messages[0]
    late = wait.on_error(ErrorKind.NOT_FOUND, "Job job-1 does not exist", 6_000)
    outcome = wait.outcome(late, 6_000)
    assert outcome is not None and outcome.status == FAILED and outcome.cause == "not_found"
    assert "service job job-1 does not exist" in outcome.message


def test_a_fatal_aws_error_ends_the_wait_as_an_error() -> None:
    wait = new_wait()
    wait.on_response(running(), 3_000)
    outcome = wait.outcome(wait.on_error(ErrorKind.FATAL, "AccessDeniedException", 4_000), 4_000)
    assert outcome is not None and outcome.status == ERROR and outcome.cause is None
    assert outcome.message == "cannot describe service job job-1: AccessDeniedException"
    assert outcome.training_job_arn == ARN + TRAINING_JOB and outcome.job_name == "train"


def test_a_transient_error_is_no_outcome() -> None:
    wait = new_wait(limit=deadline(60_000))
    step = wait.on_error(ErrorKind.TRANSIENT, "ThrottlingException", 3_000)
    assert wait.outcome(step, 3_000) is None and step.sleep > 0


def test_stuck_in_runnable_past_max_runnable_seconds_must_be_terminated() -> None:
    wait = new_wait(max_runnable_seconds=1.0, terminate_reason_prefix="Airflow task t: ")
    assert wait.outcome(wait.on_response(describe("RUNNABLE"), 1_000), 1_000) is None
    outcome = wait.outcome(wait.on_response(describe("RUNNABLE"), 2_500), 2_500)
    assert outcome is not None and outcome.status == FAILED
    assert outcome.terminate_reason is not None
    assert "max_runnable_seconds=1" in outcome.terminate_reason
    assert outcome.message.startswith(outcome.terminate_reason)
    assert wait.terminate_reason(outcome) == f"Airflow task t: {outcome.terminate_reason}"


@pytest.mark.parametrize("kind", [WAIT_TIMEOUT, EXECUTION_TIMEOUT])
def test_at_the_owners_deadline_the_job_is_to_be_terminated(kind: str) -> None:
    limit = deadline(5_000, kind)
    wait = new_wait(limit=limit, terminate_on_timeout=True)
    assert wait.outcome(wait.on_response(running(), 4_000), 4_000) is None
    outcome = wait.outcome(wait.on_response(running(), 5_000), 5_000)
    assert outcome is not None and outcome.status == FAILED and outcome.timeout == kind
    assert outcome.terminate_reason == limit.what
    assert outcome.message.startswith(limit.what + "\nIts state at the last poll:\n")
    assert "NOT terminated" not in outcome.message
    assert outcome.training_job_arn == ARN + TRAINING_JOB


def test_at_a_non_owners_deadline_the_job_keeps_running() -> None:
    limit = deadline(5_000, SENSOR_TIMEOUT)
    wait = new_wait(limit=limit)
    outcome = wait.outcome(wait.on_response(running(), 6_000), 6_000)
    assert outcome is not None and outcome.status == TIMEOUT and outcome.timeout == SENSOR_TIMEOUT
    assert outcome.terminate_reason is None
    assert outcome.message.startswith(
        f"{limit.what} The service job was NOT terminated and keeps running in Batch.\n"
    )
    assert "Its state at the last poll:\nService job train (job-1) is RUNNING" in outcome.message


@pytest.mark.parametrize("owner", [True, False])
def test_a_deadline_before_any_answer_says_the_job_was_never_found(owner: bool) -> None:
    wait = new_wait(limit=deadline(5_000), terminate_on_timeout=owner)
    step = wait.on_error(ErrorKind.NOT_FOUND, "Job job-1 does not exist", 6_000)
    outcome = wait.outcome(step, 6_000)
    assert outcome is not None and outcome.status == FAILED and outcome.cause == "not_found"
    assert outcome.terminate_reason is None  # nothing to terminate
    assert "was never found" in outcome.message and "keeps running" not in outcome.message


def test_a_deadline_after_only_transient_errors_says_the_job_was_never_seen() -> None:
    wait = new_wait(limit=deadline(5_000))
    outcome = wait.outcome(wait.on_error(ErrorKind.TRANSIENT, "ServerException", 6_000), 6_000)
    assert outcome is not None and outcome.status == TIMEOUT
    assert "service job job-1 was never seen (no successful describe)" in outcome.message


# ------------------------------------------------------------------------------ termination


def _to_terminate() -> tuple[JobWait, WaitOutcome]:
    wait = new_wait(limit=deadline(5_000), terminate_on_timeout=True)
    outcome = wait.outcome(wait.on_response(running(), 6_000), 6_000)
    assert outcome is not None and outcome.terminate_reason
    return wait, outcome


def test_terminated_appends_to_the_first_line_and_clears_the_pending_terminate() -> None:
    wait, outcome = _to_terminate()
    done = wait.terminated(outcome, None)
    head, _, rest = outcome.message.partition("\n")
    assert done.message == f"{head} The job was terminated.\n{rest}"
    assert done.terminated == "The job was terminated."
    assert done.terminate_reason is None
    assert (done.status, done.timeout, done.timeline) == (FAILED, WAIT_TIMEOUT, outcome.timeline)


def test_a_failed_terminate_says_the_job_may_still_be_queued() -> None:
    wait, outcome = _to_terminate()
    done = wait.terminated(outcome, "AccessDeniedException: no batch:TerminateServiceJob")
    said = (
        "Terminating the job FAILED (AccessDeniedException: no batch:TerminateServiceJob); "
        "it may still be queued: terminate it."
    )
    assert done.terminated == said
    assert done.message.splitlines()[0] == f"{outcome.message.splitlines()[0]} {said}"
    one_line = WaitOutcome(FAILED, "job-1", "Stuck.", terminate_reason="Stuck")
    assert wait.terminated(one_line, None).message == "Stuck. The job was terminated."


# ------------------------------------------------------------------------------ endings

ALL_CAUSES = [*(c.value for c in Cause), "unknown", "not_found", None]


@pytest.mark.parametrize("resubmit", [False, True])
@pytest.mark.parametrize("cause", ALL_CAUSES)
@pytest.mark.parametrize("terminated", [None, "The job was terminated."])
def test_a_failure_is_final_unless_the_operator_resubmits_what_batch_gave_up_on(
    cause: str | None, resubmit: bool, terminated: str | None
) -> None:
    outcome = WaitOutcome(FAILED, "job-1", "it failed", cause=cause, terminated=terminated)
    how, message = ending(outcome, resubmit_on_retry=resubmit)
    if resubmit and not terminated and cause in RESUBMITTABLE_CAUSES:
        assert (how, message) == (Ending.RETRY, f"it failed\n{RESUBMIT_NOTE}")
    else:
        assert (how, message) == (Ending.FAIL, "it failed")


def test_resubmittable_causes_are_those_batch_gave_up_on_without_the_users_say_so() -> None:
    assert {
        Cause.ATTEMPTS_EXHAUSTED.value,
        Cause.TIMED_OUT.value,
        Cause.PREEMPTION_LIMIT.value,
        "unknown",
    } == RESUBMITTABLE_CAUSES


@pytest.mark.parametrize("resubmit", [False, True])
@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (WaitOutcome(SUCCESS, "j", "ok", summary={"status": "SUCCEEDED"}), Ending.RETURN),
        (WaitOutcome(SUCCESS, "j", "ok"), Ending.RETRY),  # no summary: not a usable success
        (WaitOutcome(FAILED, "j", "t", timeout=EXECUTION_TIMEOUT), Ending.TASK_TIMEOUT),
        (WaitOutcome(TIMEOUT, "j", "t", timeout=EXECUTION_TIMEOUT), Ending.TASK_TIMEOUT),
        (
            WaitOutcome(FAILED, "j", "t", timeout=EXECUTION_TIMEOUT, cause="unknown"),
            Ending.TASK_TIMEOUT,
        ),
        (WaitOutcome(FAILED, "j", "t", timeout=WAIT_TIMEOUT), Ending.FAIL),
        (WaitOutcome(TIMEOUT, "j", "t", timeout=SENSOR_TIMEOUT), Ending.SENSOR_TIMEOUT),
        (WaitOutcome(TIMEOUT, "j", "t", timeout=WAIT_TIMEOUT), Ending.SENSOR_TIMEOUT),
        (WaitOutcome(ERROR, "j", "cannot describe"), Ending.RETRY),
        (WaitOutcome("bogus", "j", "?"), Ending.RETRY),
    ],
)
def test_ending_for_every_status(outcome: WaitOutcome, expected: Ending, resubmit: bool) -> None:
    how, message = ending(outcome, resubmit_on_retry=resubmit)
    assert how is expected
    assert message == outcome.message


def test_an_outcome_without_words_still_ends_with_some() -> None:
    how, message = ending(WaitOutcome(ERROR, "j", ""))
    assert how is Ending.RETRY and message.startswith("unexpected wait outcome")


# ------------------------------------------------------------------------------ events


def test_an_outcome_survives_the_events_json_round_trip() -> None:
    wait = new_wait()
    wait.on_response(running(), 3_000)
    outcome = wait.outcome(wait.on_response(succeeded(), 10_000), 10_000)
    assert outcome is not None
    event = json.loads(json.dumps(outcome.to_event()))
    assert "terminate_reason" not in event and isinstance(event["timeline"], list)
    assert WaitOutcome.from_event(event) == outcome


def test_every_field_but_the_pending_terminate_travels() -> None:
    outcome = WaitOutcome(
        FAILED,
        "job-1",
        "m",
        summary={"a": 1},
        training_job_arn="arn",
        terminate_reason="pending",
        terminated="The job was terminated.",
        cause="exit_rule",
        status_reason="r",
        timeout=WAIT_TIMEOUT,
        timeline=({"status": "RUNNING", "atMs": 1, "exact": True, "reason": None},),
        job_name="train",
    )
    back = WaitOutcome.from_event(json.loads(json.dumps(outcome.to_event())))
    assert back == WaitOutcome(**{**outcome.__dict__, "terminate_reason": None})


def test_an_unknown_event_is_an_error_that_names_it() -> None:
    strange = WaitOutcome.from_event({"foo": 1})
    assert strange.status == ERROR and strange.job_id == ""
    assert strange.message == "unexpected wait event {'foo': 1}"
    assert ending(strange)[0] is Ending.RETRY


# ------------------------------------------------------------------------------ the flow


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
