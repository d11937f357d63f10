"""The wait on a service environment's or job queue's status: its rules and its one flow. No I/O.

A sensor's poke, the create operator's wait on the worker and the trigger all wait the same
way, so the way is written once, as ``core.wait`` writes the wait on a job (with the same
requests, ``core.flow``): :func:`resource_flow` (and :func:`resource_poke`, its one look) is a
generator that yields what it needs done (``Call`` a describe, ``Sleep``, ``Log``) and
receives the answer, or ``Failed`` when the describe raised an AWS error (``core.errors``
classified it). The drivers that step it (blocking and ``async``) live in
``airflow_batch_service._shared.resource_waiting``; neither holds a rule.

The rules, all here:

- what to describe: :data:`RESOURCES` (the hook method and its argument per kind);
- what a status means: ``core.operations.check_service_environment`` / ``check_job_queue``
  (``VALID``/``DELETED`` done, ``CREATING``/``UPDATING``/``DELETING`` still going, anything
  else failed; a queue that is not ``SAGEMAKER_TRAINING`` failed);
- errors: throttling, 5xx and connection trouble are waited through (logged, asked again);
  any other AWS error ends the wait (:attr:`ResourceOutcome.error`);
- pacing: one describe every ``poll_interval`` seconds, the same after an error (a status
  changes in minutes, one call per interval is far below any quota);
- timeout: ``max_attempts`` describes (None: no limit of its own; the task's ``timeout``
  still applies), then a ``timeout`` outcome that names the last thing seen;
- how it ends a task: :func:`ending` (the sensor's and the operator's rules differ only on a
  timeout).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_batch_service.core.flow import Call, Failed, Log, Request, Sleep
from airflow_batch_service.core.operations import (
    ResourceCheck,
    ResourceStatus,
    check_job_queue,
    check_service_environment,
)
from airflow_batch_service.core.outcome import Ending

#: Outcome (and trigger event) statuses.
SUCCESS, FAILURE, TIMEOUT = "success", "failure", "timeout"


@dataclass(frozen=True)
class Resource:
    """A kind of resource a wait describes: its words, the hook method and its argument.

    ``argument`` is also the name of the resource argument on the sensors and triggers.
    """

    what: str
    method: str
    argument: str
    check: Callable[..., ResourceCheck]


SERVICE_ENVIRONMENT = Resource(
    "service environment",
    "describe_service_environment",
    "service_environment",
    check_service_environment,
)
JOB_QUEUE = Resource("job queue", "describe_job_queue_now", "job_queue", check_job_queue)
#: Each kind by its ``argument``.
RESOURCES = {r.argument: r for r in (SERVICE_ENVIRONMENT, JOB_QUEUE)}


@dataclass(frozen=True)
class ResourceOutcome:
    """How a wait ended: ``status`` (:data:`SUCCESS`, :data:`FAILURE`, :data:`TIMEOUT`), the
    words, and the resource's summary (``ResourceCheck.summary``; empty when none was seen).

    ``error``: a describe raised an AWS error the wait does not wait through (not a status);
    a shell on the worker re-raises that exception as it was raised.
    """

    status: str
    message: str
    value: dict[str, Any] = field(default_factory=dict)
    error: bool = False

    def to_event(self) -> dict[str, Any]:
        """The trigger's JSON-able event: ``{"status", "message", "value"}``."""
        return {"status": self.status, "message": self.message, "value": dict(self.value)}

    @classmethod
    def from_event(cls, event: Mapping[str, Any] | None) -> ResourceOutcome:
        """A trigger's event read back (anything unexpected is a failure that shows it)."""
        event = event or {}
        value = event.get("value")
        return cls(
            str(event.get("status") or FAILURE),
            str(event.get("message") or event),
            dict(value) if isinstance(value, Mapping) else {},
        )


def ending(outcome: ResourceOutcome, *, sensor: bool) -> Ending:
    """How the task ends: return the summary on success; a failed status (or an error) is
    final; a timeout is the sensor's timeout, or a retryable failure of the operator."""
    if outcome.status == SUCCESS:
        return Ending.RETURN
    if outcome.status == TIMEOUT:
        return Ending.SENSOR_TIMEOUT if sensor else Ending.RETRY
    return Ending.FAIL


def attempts_within(timeout: float | None, poll_interval: float) -> int | None:
    """The describes that fit in ``timeout`` seconds (at least one), or None without one."""
    if timeout is None or poll_interval <= 0:
        return None
    return max(1, math.ceil(float(timeout) / poll_interval))


@dataclass
class ResourceWait:
    """One wait's rules and what it saw so far (module doc)."""

    resource: Resource
    identifier: str
    poll_interval: float = 30
    max_attempts: int | None = None
    treat_non_existing_as_deleted: bool = False
    attempts: int = 0
    #: What the last describe said: the timeout's explanation.
    last: str = "no answer yet"
    #: The last status read (a shell persists the console link from its ARN).
    last_check: ResourceCheck | None = None

    @property
    def name(self) -> str:
        return f"{self.resource.what} {self.identifier}"

    def describe(self) -> Call:
        return Call(self.resource.method, {self.resource.argument: self.identifier})

    def describe_failed(self, message: str) -> ResourceOutcome:
        """The end of a wait whose describe failed for good (an AWS error, or anything a
        trigger cannot go on after)."""
        return ResourceOutcome(FAILURE, f"describing {self.name} failed: {message}", error=True)

    def on_reply(self, reply: Any, *, once: bool) -> tuple[Log, ResourceOutcome | None]:
        """The line to log for one describe's answer, and the outcome if it ends the wait."""
        self.attempts += 1
        if isinstance(reply, Failed):
            if not reply.kind.retryable:
                return Log("error", f"Describing {self.name} failed: {reply.message}"), (
                    self.describe_failed(reply.message)
                )
            self.last = f"transient error: {reply.message}"
            again = "asking again at the next poke" if once else "asking again"
            return Log("warning", f"Describing {self.name} failed ({reply.message}); {again}"), None
        check = self.last_check = self.resource.check(
            self.identifier, reply, treat_non_existing_as_deleted=self.treat_non_existing_as_deleted
        )
        self.last = check.message
        if check.outcome is ResourceStatus.READY:
            return Log("info", check.message), ResourceOutcome(
                SUCCESS, check.message, check.summary
            )
        if check.outcome is ResourceStatus.FAILED:
            return Log("error", check.message), ResourceOutcome(
                FAILURE, check.message, check.summary
            )
        return Log("info", check.message), None

    @property
    def exhausted(self) -> bool:
        return self.max_attempts is not None and self.attempts >= self.max_attempts

    def timed_out(self) -> ResourceOutcome:
        return ResourceOutcome(
            TIMEOUT,
            f"{self.name} did not become ready within {self.max_attempts} polls every "
            f"{self.poll_interval:g}s; last: {self.last}",
        )


def _look(wait: ResourceWait, *, once: bool) -> Generator[Request, Any, ResourceOutcome | None]:
    line, outcome = wait.on_reply((yield wait.describe()), once=once)
    yield line
    return outcome


def resource_flow(wait: ResourceWait) -> Generator[Request, Any, ResourceOutcome]:
    """Describe, judge, log, sleep, end: the whole wait as requests."""
    while True:
        outcome = yield from _look(wait, once=False)
        if outcome is not None:
            return outcome
        if wait.exhausted:
            return wait.timed_out()
        yield Sleep(wait.poll_interval)


def resource_poke(wait: ResourceWait) -> Generator[Request, Any, ResourceOutcome | None]:
    """One look (a sensor's poke): the outcome, or None while the wait goes on."""
    return (yield from _look(wait, once=True))
