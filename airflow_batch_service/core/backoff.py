"""How long to wait before calling again after a throttle or a 5xx, and for how long to keep at it.

AWS allows SubmitServiceJob 5 times per second per account, shared by every caller: a mapped
sweep that submits in a burst is throttled for real, and giving up after botocore's few quick
retries fails tasks that only had to wait their turn. A submit carries a clientToken, so
calling again is safe; :class:`Backoff` spaces the calls (exponential, "equal jitter" so that
many workers throttled together spread out instead of retrying in lockstep) and bounds the
whole effort by a ``patience`` in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays for call number ``n`` after ``n`` transient failures, within ``patience``."""

    base: float = 1.0
    #: A small cap: a worker throttled several times in a row during the rush must not sleep
    #: through the quota freeing up (measured: cap 20 s left the last 10% of a 200-submit burst
    #: 19 s behind, 67% of the quota over the burst; cap 5 s gave 83%, ``benchmarks/sweep_scale.py``).
    cap: float = 5.0
    patience: float = 600.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to sleep after the ``failures``-th failure in a row (1, 2, ...)."""
        capped = min(self.cap, self.base * (2 ** max(0, min(failures - 1, 16))))
        return capped / 2 + rng.uniform(0, capped / 2)

    def next_delay(self, failures: int, elapsed: float, rng: random.Random) -> float | None:
        """The sleep before trying again, or None when that would run past ``patience``."""
        delay = self.delay(failures, rng)
        if elapsed + delay > self.patience:
            return None
        return delay
