"""AWS Batch's API rate quotas, as token buckets per account and region.

AWS allows ``SubmitServiceJob`` **5 transactions per second per account** (a fixed quota)
and Batch API calls in general about **50 per second per account**. Beyond that Batch
answers HTTP 429 ``TooManyRequestsException``, which botocore classifies as throttling and
retries (standard and adaptive modes, and legacy).

The emulator's model (AWS documents the rates, not the bursts; the bursts are ours):

- ``SubmitServiceJob``: a bucket of **5 tokens** refilled at 5 per second: five submits at
  once pass, the sixth in the same instant is throttled, then one more every 200 ms.
- every other Batch operation, together: a bucket of **50 tokens** refilled at 50 per
  second. A submit does not take from it (the issue's model: "the other calls together").
- one pair of buckets per account and region; a throttled call takes no token.
- time is the emulator clock: in server mode it is the wall clock (plus any advance), so the
  buckets refill in real time; with a frozen clock they refill only when the clock is moved,
  which makes throttling deterministic in tests.

Modes: ``aws`` (the quotas above) and ``off``. The CLI server starts with ``aws``; the
in-process ``Emulator``, ``EmulatorServer`` and the pytest fixtures start with ``off``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SUBMIT_OPERATION = "SubmitServiceJob"

#: (rate per second, burst) per bucket.
SUBMIT_RATE, SUBMIT_BURST = 5.0, 5.0
GENERAL_RATE, GENERAL_BURST = 50.0, 50.0

#: Differences of epoch-second floats are off by ~1e-7 s (0.1 s comes out as 0.09999990):
#: elapsed time is rounded to the microsecond, and a token short by less than this is whole.
_EPSILON = 1e-6


class QuotaMode(StrEnum):
    AWS = "aws"
    OFF = "off"

    @classmethod
    def parse(cls, value: Any) -> QuotaMode:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"api_quotas must be one of {allowed}, got {value!r}") from None


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    updated: float | None = None

    def take(self, now: float) -> bool:
        """Refill for the time since the last call, then take one token if there is one."""
        if self.updated is None or now < self.updated:
            self.updated = now  # first use, or a caller's clock went back: no refill
        else:
            elapsed = round(now - self.updated, 6)
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.updated = now
        if self.tokens >= 1 - _EPSILON:
            self.tokens = max(0.0, self.tokens - 1)
            return True
        return False


def bucket_name(operation: str) -> str:
    return "submit" if operation == SUBMIT_OPERATION else "general"


class ApiQuotas:
    """The buckets in force (empty when off). Thread-safe."""

    def __init__(self, mode: QuotaMode = QuotaMode.OFF) -> None:
        self.mode = mode
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def set_mode(self, mode: QuotaMode) -> None:
        with self._lock:
            if mode is not self.mode:
                self.mode = mode
                self._buckets.clear()  # switching on starts with full buckets

    def admit(self, account: str, region: str, operation: str, now: float) -> bool:
        """True if the call may proceed; False if AWS would answer 429."""
        if self.mode is QuotaMode.OFF:
            return True
        name = bucket_name(operation)
        with self._lock:
            bucket = self._buckets.get((account, region, name))
            if bucket is None:
                rate, burst = (
                    (SUBMIT_RATE, SUBMIT_BURST)
                    if name == "submit"
                    else (GENERAL_RATE, GENERAL_BURST)
                )
                bucket = self._buckets[(account, region, name)] = TokenBucket(rate, burst, burst)
            return bucket.take(now)

    def describe(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "SubmitServiceJob": {"perSecond": SUBMIT_RATE, "burst": SUBMIT_BURST},
            "otherBatchOperations": {"perSecond": GENERAL_RATE, "burst": GENERAL_BURST},
        }
