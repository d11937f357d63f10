"""The resource-status wait's rules and flow (core.resource_wait): what is described, what
ends the wait, errors, pacing, the timeout, events and endings. Stepped by a tiny fake driver
with canned replies. No I/O, no Airflow."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest

from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.flow import Call, Failed, Log, Sleep
from airflow_batch_service.core.outcome import Ending
from airflow_batch_service.core.resource_wait import (
    FAILURE,
    JOB_QUEUE,
    RESOURCES,
    SERVICE_ENVIRONMENT,
    SUCCESS,
    TIMEOUT,
    ResourceOutcome,
    ResourceWait,
    attempts_within,
    ending,
    resource_flow,
    resource_poke,
)

ENV_ARN = "arn:aws:batch:us-east-1:123456789012:service-environment/env"
THROTTLED = Failed(ErrorKind.THROTTLED, "TooManyRequestsException (HTTP 429): slow down")
DENIED = Failed(ErrorKind.PERMANENT, "AccessDeniedException (HTTP 403): no")


def env(status: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "serviceEnvironmentName": "env",
        "serviceEnvironmentArn": ENV_ARN,
        "status": status,
        "state": "ENABLED",
        "statusReason": reason,
    }


def queue(status: str, kind: str | None = "SAGEMAKER_TRAINING") -> dict[str, Any]:
    return {
        "jobQueueName": "q",
        "jobQueueArn": "arn:q",
        "status": status,
        "state": "ENABLED",
        "jobQueueType": kind,
    }


class Driver:
    """Answers each Call with the next canned reply (the last one repeats); records the rest."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.calls: list[Call] = []
        self.logs: list[tuple[str, str]] = []
        self.sleeps: list[float] = []

    def run(self, flow: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        try:
            while True:
                request = flow.send(reply)
                reply = None
                if isinstance(request, Call):
                    self.calls.append(request)
                    reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
                elif isinstance(request, Sleep):
                    self.sleeps.append(request.seconds)
                elif isinstance(request, Log):
                    self.logs.append((request.level, request.message))
        except StopIteration as stop:
            return stop.value


def new_wait(resource: Any = SERVICE_ENVIRONMENT, **kwargs: Any) -> ResourceWait:
    kwargs.setdefault("poll_interval", 5)
    return ResourceWait(resource, "env" if resource is SERVICE_ENVIRONMENT else "q", **kwargs)


def test_what_is_described_per_kind() -> None:
    assert new_wait().describe() == Call(
        "describe_service_environment", {"service_environment": "env"}
    )
    assert new_wait(JOB_QUEUE).describe() == Call("describe_job_queue_now", {"job_queue": "q"})
    assert RESOURCES == {"service_environment": SERVICE_ENVIRONMENT, "job_queue": JOB_QUEUE}


def test_waits_through_creating_and_a_throttle_then_succeeds() -> None:
    driver = Driver(env("CREATING"), THROTTLED, env("UPDATING"), env("VALID"))
    outcome = driver.run(resource_flow(new_wait(max_attempts=10)))
    assert outcome == ResourceOutcome(
        SUCCESS,
        "service environment env is VALID (state ENABLED)",
        {
            "name": "env",
            "arn": ENV_ARN,
            "status": "VALID",
            "state": "ENABLED",
            "statusReason": None,
        },
    )
    assert len(driver.calls) == 4 and driver.sleeps == [5, 5, 5]
    assert [level for level, _ in driver.logs] == ["info", "warning", "info", "info"]
    assert driver.logs[1][1] == (
        "Describing service environment env failed (TooManyRequestsException (HTTP 429): "
        "slow down); asking again"
    )


def test_a_failed_status_ends_the_wait_at_once() -> None:
    driver = Driver(env("INVALID", "no capacity"))
    outcome = driver.run(resource_flow(new_wait()))
    assert outcome.status == FAILURE and not outcome.error
    assert "is INVALID (no capacity): it will not become VALID" in outcome.message
    assert outcome.value["arn"] == ENV_ARN
    assert driver.logs == [("error", outcome.message)] and driver.sleeps == []


def test_a_permanent_error_ends_the_wait_as_an_error() -> None:
    driver = Driver(DENIED)
    outcome = driver.run(resource_flow(new_wait()))
    assert outcome.status == FAILURE and outcome.error and outcome.value == {}
    assert outcome.message == (
        "describing service environment env failed: AccessDeniedException (HTTP 403): no"
    )
    assert driver.logs[0][0] == "error"


def test_missing_fails_or_counts_as_deleted() -> None:
    assert Driver(None).run(resource_flow(new_wait())).status == FAILURE
    deleted = Driver(None).run(resource_flow(new_wait(treat_non_existing_as_deleted=True)))
    assert deleted.status == SUCCESS and deleted.value["status"] == "DELETED"


def test_a_container_job_queue_fails() -> None:
    outcome = Driver(queue("VALID", None)).run(resource_flow(new_wait(JOB_QUEUE)))
    assert outcome.status == FAILURE and "not a SAGEMAKER_TRAINING queue" in outcome.message


def test_times_out_after_max_attempts_naming_the_last_look() -> None:
    driver = Driver(env("CREATING"), THROTTLED)
    outcome = driver.run(resource_flow(new_wait(max_attempts=3)))
    assert outcome.status == TIMEOUT
    assert outcome.message == (
        "service environment env did not become ready within 3 polls every 5s; last: "
        "transient error: TooManyRequestsException (HTTP 429): slow down"
    )
    assert len(driver.calls) == 3 and driver.sleeps == [5, 5]  # no sleep after the last


def test_poke_is_one_look() -> None:
    wait = new_wait()
    driver = Driver(env("CREATING"))
    assert driver.run(resource_poke(wait)) is None
    assert driver.sleeps == [] and wait.last_check is not None
    assert wait.last_check.summary["arn"] == ENV_ARN
    driver = Driver(THROTTLED)
    assert driver.run(resource_poke(new_wait())) is None
    assert driver.logs[0][1].endswith("asking again at the next poke")
    assert Driver(env("VALID")).run(resource_poke(new_wait())).status == SUCCESS


def test_events_round_trip_and_read_anything() -> None:
    outcome = ResourceOutcome(SUCCESS, "ok", {"arn": ENV_ARN})
    event = json.loads(json.dumps(outcome.to_event()))
    assert event == {"status": SUCCESS, "message": "ok", "value": {"arn": ENV_ARN}}
    assert ResourceOutcome.from_event(event) == outcome
    odd = ResourceOutcome.from_event({"surprise": 1})
    assert odd.status == FAILURE and "surprise" in odd.message and odd.value == {}
    assert ResourceOutcome.from_event(None).status == FAILURE


@pytest.mark.parametrize(
    ("status", "sensor", "how"),
    [
        (SUCCESS, True, Ending.RETURN),
        (SUCCESS, False, Ending.RETURN),
        (FAILURE, True, Ending.FAIL),
        (FAILURE, False, Ending.FAIL),
        (TIMEOUT, True, Ending.SENSOR_TIMEOUT),
        (TIMEOUT, False, Ending.RETRY),
    ],
)
def test_ending(status: str, sensor: bool, how: Ending) -> None:
    assert ending(ResourceOutcome(status, "m"), sensor=sensor) is how


def test_attempts_within_a_timeout() -> None:
    assert attempts_within(30, 0.05) == 600
    assert attempts_within(1, 10) == 1
    assert attempts_within(None, 10) is None
    assert attempts_within(30, 0) is None
