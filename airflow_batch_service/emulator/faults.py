"""Fault injection per operation: throttling, server errors, lost responses, latency, late
visibility; for Batch and for the CloudWatch Logs and SageMaker calls around it.

Reliability code (backoff, "not found right after submit", "did my submit happen?") can
only be tested against an endpoint that misbehaves on purpose. A plan maps an operation to::

    {"throttleRate": 0.5,       # share of calls answered "throttled" before they act
     "errorRate": 0.2,          # share of calls answered HTTP 500 before they act
     "lostResponseRate": 0.1,   # share of calls that ACT, but whose answer is lost
     "lostResponseMode": "error",   # ... the client then gets HTTP 500 ("error") or a read
                                    # timeout ("timeout")
     "lostResponseHoldMs": 61000,   # server mode, "timeout": how long the answer is held
     "latencyMs": 100,          # added to every call
     "notFoundForMs": 2000,     # a job is "not found" this long after its submit
     "hold": true,              # every call waits, before it acts, until released
     "holdMs": 120000}          # ... at most this long (then it goes on)

Operation keys: a Batch operation name (``DescribeServiceJob``), ``*`` for every Batch
operation without its own entry, or a CloudWatch Logs / SageMaker / STS operation, unqualified
(``GetLogEvents``, ``DescribeTrainingJob``, ``AssumeRole``) or qualified
(``logs:GetLogEvents``, ``sagemaker:DescribeTrainingJob``, ``sts:AssumeRole``, ``logs:*``,
``sagemaker:*``). An unqualified name that Batch also has (``TagResource``) means Batch's;
qualify it (``logs:TagResource``) for Logs.

A held call (``holds.py``) is released through the control API (``release``) or by the next
fault plan; ``stats`` reports ``held`` (waiting now) and ``heldTotal``.

Draws come from one ``random.Random(seed)``, so a seeded plan gives the same sequence of
faults for the same sequence of calls. One draw decides throttle / error / lost response.
"""

from __future__ import annotations

import difflib
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

RATE_KEYS = ("throttleRate", "errorRate", "lostResponseRate")
NUMBER_KEYS = (*RATE_KEYS, "lostResponseHoldMs", "latencyMs", "notFoundForMs", "holdMs")
KEYS = (*NUMBER_KEYS, "lostResponseMode", "hold")

#: Services whose calls a plan can target (botocore service names), in lookup order for
#: unqualified operation names.
SERVICES = ("batch", "logs", "sagemaker", "sts")

#: Default hold of a "timeout" lost response in server mode: just past botocore's default
#: read timeout (60 s), so a default client times out.
DEFAULT_HOLD_MS = 61_000.0
#: Default bound of a ``"hold": true`` call (``holds.py``).
DEFAULT_HELD_CALL_MS = 120_000.0


_NUMBER_DEFAULTS = {"lostResponseHoldMs": DEFAULT_HOLD_MS, "holdMs": DEFAULT_HELD_CALL_MS}


class FaultError(ValueError):
    """A fault plan that does not follow the format; the message names the key."""


class Injected(StrEnum):
    THROTTLE = "throttle"
    ERROR = "error"
    LOST = "lost"  # the call acts; its answer is replaced by an error or a read timeout


class LostResponseMode(StrEnum):
    ERROR = "error"  # HTTP 500 after the call took effect
    TIMEOUT = "timeout"  # no answer in time: the client's read times out


@cache
def operations(service: str) -> frozenset[str]:
    """botocore's operation names for ``service``."""
    import botocore.session  # lazy: the CLI imports this module for --help; botocore is slow

    return frozenset(botocore.session.get_session().get_service_model(service).operation_names)


def resolve(key: str) -> tuple[str, str]:
    """A plan key -> (service, operation or "*"); raises FaultError naming the key."""
    if key == "*":
        return "batch", "*"
    if ":" in key:
        service, operation = key.split(":", 1)
        if service not in SERVICES:
            raise FaultError(
                f"faults.{key}: unknown service {service!r}; allowed: {', '.join(SERVICES)}"
            )
        if operation == "*" or operation in operations(service):
            return service, operation
        raise FaultError(
            f"faults.{key}: {service} has no operation {operation!r}{_suggest(operation, service)}"
        )
    for service in SERVICES:
        if key in operations(service):
            return service, key
    raise FaultError(
        f"faults.{key}: not an operation of {', '.join(SERVICES)}{_suggest(key, *SERVICES)} "
        "(keys are botocore operation names, '*', or 'logs:<Operation>' / 'sagemaker:<Operation>')"
    )


def _suggest(name: str, *services: str) -> str:
    known = sorted(set().union(*(operations(s) for s in services)))
    close = difflib.get_close_matches(name, known, n=3)
    return f"; did you mean {', '.join(close)}?" if close else ""


@dataclass(frozen=True)
class FaultSpec:
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    latency_ms: float = 0.0
    not_found_for_ms: float = 0.0
    lost_response_rate: float = 0.0
    lost_response_mode: LostResponseMode = LostResponseMode.ERROR
    lost_response_hold_ms: float = DEFAULT_HOLD_MS
    hold: bool = False
    hold_ms: float = DEFAULT_HELD_CALL_MS

    @classmethod
    def parse(cls, raw: Any, path: str) -> FaultSpec:
        if not isinstance(raw, Mapping):
            raise FaultError(f"{path}: must be an object with keys {', '.join(KEYS)}")
        unknown = set(raw) - set(KEYS)
        if unknown:
            raise FaultError(
                f"{path}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(KEYS)}"
            )
        values: dict[str, float] = {}
        for key in NUMBER_KEYS:
            value = raw.get(key, _NUMBER_DEFAULTS.get(key, 0))
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise FaultError(f"{path}.{key}: must be a non-negative number, got {value!r}")
            if key in RATE_KEYS and value > 1:
                raise FaultError(f"{path}.{key}: is a rate between 0 and 1, got {value!r}")
            values[key] = float(value)
        if sum(values[k] for k in RATE_KEYS) > 1:
            raise FaultError(
                f"{path}: throttleRate + errorRate + lostResponseRate must not exceed 1"
            )
        hold = raw.get("hold", False)
        if not isinstance(hold, bool):
            raise FaultError(f"{path}.hold: must be true or false, got {hold!r}")
        mode = raw.get("lostResponseMode", LostResponseMode.ERROR.value)
        try:
            lost_mode = LostResponseMode(mode)
        except ValueError:
            allowed = ", ".join(m.value for m in LostResponseMode)
            raise FaultError(
                f"{path}.lostResponseMode: must be one of {allowed}, got {mode!r}"
            ) from None
        return cls(
            values["throttleRate"],
            values["errorRate"],
            values["latencyMs"],
            values["notFoundForMs"],
            values["lostResponseRate"],
            lost_mode,
            values["lostResponseHoldMs"],
            hold,
            values["holdMs"],
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "throttleRate": self.throttle_rate,
            "errorRate": self.error_rate,
            "latencyMs": self.latency_ms,
            "notFoundForMs": self.not_found_for_ms,
        }
        if self.lost_response_rate:  # only when used: older documents stay as they were
            out["lostResponseRate"] = self.lost_response_rate
            out["lostResponseMode"] = self.lost_response_mode.value
            out["lostResponseHoldMs"] = self.lost_response_hold_ms
        if self.hold:
            out["hold"] = True
            out["holdMs"] = self.hold_ms
        return out


class FaultPlan:
    """The faults in force, and the seeded random source that decides each call."""

    def __init__(
        self, specs: Mapping[str, FaultSpec] | None = None, seed: int | None = None
    ) -> None:
        self.specs: dict[str, FaultSpec] = dict(specs or {})
        self._by_target = {resolve(key): spec for key, spec in self.specs.items()}
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None, seed: int | None = None) -> FaultPlan:
        if raw is None:
            return cls(seed=seed)
        if not isinstance(raw, Mapping):
            raise FaultError("faults: must be an object keyed by operation name")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultError(f"seed: must be an integer, got {seed!r}")
        specs = {}
        for op, spec in raw.items():
            resolve(str(op))
            specs[str(op)] = FaultSpec.parse(spec, str(op))
        return cls(specs, seed)

    def spec(self, operation: str, service: str = "batch") -> FaultSpec | None:
        return self._by_target.get((service, operation)) or self._by_target.get((service, "*"))

    def draw(self, operation: str, service: str = "batch") -> Injected | None:
        """Decide whether this call of ``operation`` fails, consuming one draw when it could."""
        spec = self.spec(operation, service)
        if spec is None or (
            spec.throttle_rate == 0 and spec.error_rate == 0 and spec.lost_response_rate == 0
        ):
            return None
        with self._lock:
            roll = self._rng.random()
        if roll < spec.throttle_rate:
            return Injected.THROTTLE
        if roll < spec.throttle_rate + spec.error_rate:
            return Injected.ERROR
        if roll < spec.throttle_rate + spec.error_rate + spec.lost_response_rate:
            return Injected.LOST
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "faults": {op: s.to_dict() for op, s in self.specs.items()}}
