"""Fault injection per operation: throttling, server errors, latency, late visibility.

Reliability code (backoff, "not found right after submit") can only be tested against an
endpoint that misbehaves on purpose. A plan maps an operation name (botocore's, e.g.
``DescribeServiceJob``, or ``*`` for every operation without its own entry) to::

    {"throttleRate": 0.5,    # share of calls answered HTTP 429 TooManyRequestsException
     "errorRate": 0.2,       # share of calls answered HTTP 500 ServerException
     "latencyMs": 100,       # added to every call
     "notFoundForMs": 2000}  # a job is "not found" this long after its submit

Draws come from one ``random.Random(seed)``, so a seeded plan gives the same sequence of
faults for the same sequence of calls.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

KEYS = ("throttleRate", "errorRate", "latencyMs", "notFoundForMs")


class FaultError(ValueError):
    """A fault plan that does not follow the format; the message names the key."""


class Injected(StrEnum):
    THROTTLE = "throttle"
    ERROR = "error"


@dataclass(frozen=True)
class FaultSpec:
    throttle_rate: float = 0.0
    error_rate: float = 0.0
    latency_ms: float = 0.0
    not_found_for_ms: float = 0.0

    @classmethod
    def parse(cls, raw: Any, path: str) -> FaultSpec:
        if not isinstance(raw, Mapping):
            raise FaultError(f"{path}: must be an object with keys {', '.join(KEYS)}")
        unknown = set(raw) - set(KEYS)
        if unknown:
            raise FaultError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {', '.join(KEYS)}")
        values: dict[str, float] = {}
        for key in KEYS:
            value = raw.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise FaultError(f"{path}.{key}: must be a non-negative number, got {value!r}")
            if key.endswith("Rate") and value > 1:
                raise FaultError(f"{path}.{key}: is a rate between 0 and 1, got {value!r}")
            values[key] = float(value)
        if values["throttleRate"] + values["errorRate"] > 1:
            raise FaultError(f"{path}: throttleRate + errorRate must not exceed 1")
        return cls(values["throttleRate"], values["errorRate"], values["latencyMs"], values["notFoundForMs"])

    def to_dict(self) -> dict[str, float]:
        return {
            "throttleRate": self.throttle_rate,
            "errorRate": self.error_rate,
            "latencyMs": self.latency_ms,
            "notFoundForMs": self.not_found_for_ms,
        }


class FaultPlan:
    """The faults in force, and the seeded random source that decides each call."""

    def __init__(self, specs: Mapping[str, FaultSpec] | None = None, seed: int | None = None) -> None:
        self.specs: dict[str, FaultSpec] = dict(specs or {})
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None, seed: int | None = None) -> FaultPlan:
        if raw is None:
            return cls(seed=seed)
        if not isinstance(raw, Mapping):
            raise FaultError("faults: must be an object keyed by operation name")
        return cls({op: FaultSpec.parse(spec, op) for op, spec in raw.items()}, seed)

    def spec(self, operation: str) -> FaultSpec | None:
        return self.specs.get(operation) or self.specs.get("*")

    def draw(self, operation: str) -> Injected | None:
        """Decide whether this call of ``operation`` fails, consuming one draw when it could."""
        spec = self.spec(operation)
        if spec is None or (spec.throttle_rate == 0 and spec.error_rate == 0):
            return None
        with self._lock:
            roll = self._rng.random()
        if roll < spec.throttle_rate:
            return Injected.THROTTLE
        if roll < spec.throttle_rate + spec.error_rate:
            return Injected.ERROR
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "faults": {op: s.to_dict() for op, s in self.specs.items()}}
