"""Scripted outcomes: which attempt of which job succeeds, fails, hangs or gets preempted.

A scenario file picks jobs by a ``jobName`` glob (``*`` matches any run of characters, as in
``onStatusReason``: ``aws_retry.glob_match``) and lists what each try does. The first matching
entry wins. Tries past the script succeed. Format (documented in ``docs/emulator.md``)::

    {"secondsPerState": 0.2,
     "jobs": [{"jobName": "flaky-*",
               "attempts": [{"result": "FAILED", "statusReason": "...", "seconds": 1},
                            {"result": "SUCCEEDED", "metrics": {"validation:accuracy": 0.93}}]}]}

``metrics`` (emulator extension) is what the attempt's ``DescribeTrainingJob`` reports in
``FinalMetricDataList`` once the attempt has ended. A value may be NaN or infinite (a
diverged loss, as SageMaker reports it): a Python float in-process, JSON's ``NaN`` /
``Infinity`` / ``-Infinity`` tokens (Python's ``json`` reads them), or the strings ``"NaN"``,
``"Infinity"``, ``"-Infinity"`` for a client whose JSON cannot carry the tokens;
:meth:`Scenarios.to_dict` writes the strings, so what the control API answers is standard
JSON. A ``statusReason`` is any string, NUL characters included.

``holdUntilSeen`` (emulator extension) keeps the try in a status until a client has been shown
the job in it: ``{"RUNNABLE": 1}`` leaves RUNNABLE only after one DescribeServiceJob or
ListServiceJobs answer showed the job RUNNABLE. Time alone cannot promise that a poller sees a
state (a loaded machine polls late); a hold on what was seen can, so a demo or a test meets
the state it announces however slow its client is.

``holdUntilReleased`` (emulator extension) keeps the try in a status until a test opens a named
gate: ``{"RUNNING": "trained"}`` leaves RUNNING only after ``open_gate("trained")`` (``gates``).
Both holds may apply to one status; the job then waits for both.

``events`` (top level, optional) sets the state-change events' knobs (``event_knobs``:
``{"drop": 0.1, "delay_seconds": 5, "seed": 1}``), like ``secondsPerState`` sets the timing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from airflow_batch_service.emulator import status_reasons
from airflow_batch_service.emulator.aws_retry import glob_match
from airflow_batch_service.emulator.event_knobs import EventKnobError, EventKnobs
from airflow_batch_service.emulator.gates import GateError, check_name


class Result(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CAPACITY = "CAPACITY"  # SCHEDULED -> back to RUNNABLE, no attempt used
    PREEMPTED = "PREEMPTED"  # runs ``seconds`` then is preempted
    HANG = "HANG"  # runs until a timeout or a terminate


#: A failure with no scripted reason looks like a SageMaker algorithm error.
DEFAULT_FAILURE = status_reasons.SCRIPTED_FAILURE


#: The statuses a try can be held in (``holdUntilSeen``): those the job leaves by itself once
#: the try is chosen. SUBMITTED comes before any try; the ends are final.
HOLDABLE = ("RUNNABLE", "SCHEDULED", "STARTING", "RUNNING")

#: Statuses a result never leaves by itself, or never reaches: a hold there would be dead.
_NEVER_LEFT = {
    Result.CAPACITY: {"STARTING": "never reaches STARTING", "RUNNING": "never reaches RUNNING"},
    Result.HANG: {"RUNNING": "never leaves RUNNING by itself"},
}


class ScenarioError(ValueError):
    """A scenario document that does not follow the format; the message names the field."""


@dataclass(frozen=True)
class Step:
    """What one try of a job does. ``seconds``/``runnable_seconds`` of None mean "one state"."""

    result: Result = Result.SUCCEEDED
    status_reason: str | None = None
    seconds: float | None = None
    runnable_seconds: float | None = None
    #: FinalMetricDataList of this try's training job: (MetricName, Value) in file order.
    metrics: tuple[tuple[str, float], ...] = ()
    #: (status, n): the try leaves that status only once clients were shown it there n times.
    hold_until_seen: tuple[tuple[str, int], ...] = ()
    #: (status, gate): the try leaves that status only once the named gate is open.
    hold_until_released: tuple[tuple[str, str], ...] = ()

    def gate_for(self, status: str) -> str | None:
        """The gate this try waits at in ``status`` (None: no gate)."""
        return next((gate for held, gate in self.hold_until_released if held == status), None)

    def failure_reason(self) -> str:
        return self.status_reason or DEFAULT_FAILURE

    def sightings_needed(self, status: str) -> int:
        """How many answers must show the job in ``status`` before this try leaves it (0:
        no hold, time alone decides)."""
        for held, count in self.hold_until_seen:
            if held == status:
                return count
        return 0


@dataclass(frozen=True)
class JobScript:
    job_name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Scenarios:
    seconds_per_state: float | None = None
    jobs: tuple[JobScript, ...] = ()
    events: Mapping[str, Any] | None = None  # the state-change events' knobs it sets

    def steps_for(self, job_name: str) -> tuple[Step, ...]:
        for script in self.jobs:
            if glob_match(script.job_name, job_name):
                return script.steps
        return ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"jobs": [_script_to_dict(s) for s in self.jobs]}
        if self.seconds_per_state is not None:
            out["secondsPerState"] = self.seconds_per_state
        if self.events is not None:
            out["events"] = dict(self.events)
        return out


def _script_to_dict(script: JobScript) -> dict[str, Any]:
    steps = []
    for step in script.steps:
        item: dict[str, Any] = {"result": step.result.value}
        if step.status_reason is not None:
            item["statusReason"] = step.status_reason
        if step.seconds is not None:
            item["seconds"] = step.seconds
        if step.runnable_seconds is not None:
            item["runnableSeconds"] = step.runnable_seconds
        if step.metrics:
            item["metrics"] = {name: _metric_out(value) for name, value in step.metrics}
        if step.hold_until_seen:
            item["holdUntilSeen"] = dict(step.hold_until_seen)
        if step.hold_until_released:
            item["holdUntilReleased"] = dict(step.hold_until_released)
        steps.append(item)
    return {"jobName": script.job_name, "attempts": steps}


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScenarioError(f"{path}: must be a non-negative number, got {value!r}")
    return float(value)


#: The spellings of the non-finite metric values a scenario may give as strings.
NON_FINITE_METRICS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _metric_out(value: float) -> float | str:
    """A metric as :meth:`Scenarios.to_dict` writes it: a non-finite one as its string."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _metric_value(value: Any, path: str) -> float:
    """A number (NaN and infinities too), or one of :data:`NON_FINITE_METRICS`' strings."""
    if isinstance(value, str) and value in NON_FINITE_METRICS:
        return NON_FINITE_METRICS[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(
            f'{path}: must be a finite number, NaN or an infinity (a float, or the string "NaN", '
            f'"Infinity" or "-Infinity"), got {value!r}'
        )
    return float(value)


def _metrics(raw: Any, path: str) -> tuple[tuple[str, float], ...]:
    """``{"validation:accuracy": 0.93}``: SageMaker metric names (1-255 chars) -> numbers,
    non-finite ones included (``{"train:loss": "NaN"}``)."""
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{path}: must be an object mapping metric names to numbers")
    out = []
    for name, value in raw.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise ScenarioError(
                f"{path}: metric names are strings of 1-255 characters, got {name!r}"
            )
        out.append((name, _metric_value(value, f"{path}.{name}")))
    return tuple(out)


def _held_statuses(raw: Any, result: Result, path: str, what: str) -> list[tuple[str, Any]]:
    """``{status: value}`` of a hold: each status one a try can be held in, and leaves."""
    allowed = ", ".join(HOLDABLE)
    if not isinstance(raw, Mapping) or not raw:
        raise ScenarioError(
            f"{path}: must be a non-empty object mapping a status ({allowed}) to {what}, "
            f"got {raw!r}"
        )
    for status in raw:
        if status not in HOLDABLE:
            raise ScenarioError(
                f"{path}: {status!r} is not a status a try can be held in; use {allowed}"
            )
        dead = _NEVER_LEFT.get(result, {}).get(status)
        if dead is not None:
            raise ScenarioError(f"{path}.{status}: a {result.value} try {dead}")
    return [(str(status), value) for status, value in raw.items()]


def _holds(raw: Any, result: Result, path: str) -> tuple[tuple[str, int], ...]:
    """``{"RUNNABLE": 1}``: status -> how many answers must show the job in it (>= 1)."""
    out = []
    for status, count in _held_statuses(
        raw, result, path, "how many answers must show the job in it"
    ):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ScenarioError(
                f"{path}.{status}: must be a whole number of answers >= 1, got {count!r}"
            )
        out.append((status, count))
    return tuple(out)


def _gates(raw: Any, result: Result, path: str) -> tuple[tuple[str, str], ...]:
    """``{"RUNNING": "trained"}``: status -> the gate that must be open to leave it."""
    out = []
    for status, gate in _held_statuses(raw, result, path, "the name of the gate that releases it"):
        try:
            out.append((status, check_name(gate, f"{path}.{status}")))
        except GateError as err:
            raise ScenarioError(str(err)) from None
    return tuple(out)


def _step(raw: Any, path: str) -> Step:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{path}: must be an object")
    unknown = set(raw) - {
        "result",
        "statusReason",
        "seconds",
        "runnableSeconds",
        "metrics",
        "holdUntilSeen",
        "holdUntilReleased",
    }
    if unknown:
        raise ScenarioError(f"{path}: unknown key(s) {sorted(unknown)}")
    try:
        result = Result(str(raw.get("result", "SUCCEEDED")).upper())
    except ValueError:
        allowed = ", ".join(r.value for r in Result)
        raise ScenarioError(
            f"{path}.result: must be one of {allowed}, got {raw.get('result')!r}"
        ) from None
    reason = raw.get("statusReason")
    if reason is not None and not isinstance(reason, str):
        raise ScenarioError(f"{path}.statusReason: must be a string")
    seconds = raw.get("seconds")
    runnable = raw.get("runnableSeconds")
    return Step(
        result=result,
        status_reason=reason,
        seconds=None if seconds is None else _number(seconds, f"{path}.seconds"),
        runnable_seconds=None if runnable is None else _number(runnable, f"{path}.runnableSeconds"),
        metrics=_metrics(raw["metrics"], f"{path}.metrics")
        if raw.get("metrics") is not None
        else (),
        hold_until_seen=_holds(raw["holdUntilSeen"], result, f"{path}.holdUntilSeen")
        if "holdUntilSeen" in raw
        else (),
        hold_until_released=_gates(raw["holdUntilReleased"], result, f"{path}.holdUntilReleased")
        if "holdUntilReleased" in raw
        else (),
    )


def parse(document: Mapping[str, Any] | str | Path) -> Scenarios:
    """Parse a scenario document (a mapping, a JSON string or a path to a JSON file)."""
    if isinstance(document, Path) or (
        isinstance(document, str) and not document.lstrip().startswith("{")
    ):
        document = json.loads(Path(document).read_text())
    elif isinstance(document, str):
        document = json.loads(document)
    if not isinstance(document, Mapping):
        raise ScenarioError("scenarios: must be a JSON object with a 'jobs' list")
    unknown = set(document) - {"secondsPerState", "jobs", "events"}
    if unknown:
        raise ScenarioError(f"scenarios: unknown key(s) {sorted(unknown)}")
    events = document.get("events")
    try:
        EventKnobs().merged(events)
    except EventKnobError as err:
        raise ScenarioError(str(err)) from None
    sps = document.get("secondsPerState")
    seconds_per_state = None if sps is None else _number(sps, "secondsPerState")
    raw_jobs = document.get("jobs", [])
    if not isinstance(raw_jobs, list):
        raise ScenarioError("jobs: must be a list")
    jobs = []
    for i, raw in enumerate(raw_jobs):
        path = f"jobs[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("jobName"), str):
            raise ScenarioError(f"{path}.jobName: is required (a glob over job names)")
        unknown = set(raw) - {"jobName", "attempts"}
        if unknown:
            raise ScenarioError(f"{path}: unknown key(s) {sorted(unknown)}")
        attempts = raw.get("attempts", [])
        if not isinstance(attempts, list):
            raise ScenarioError(f"{path}.attempts: must be a list")
        steps = tuple(_step(a, f"{path}.attempts[{j}]") for j, a in enumerate(attempts))
        jobs.append(JobScript(raw["jobName"], steps))
    return Scenarios(seconds_per_state, tuple(jobs), None if events is None else dict(events))
