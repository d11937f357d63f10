"""Held calls: a call the fault plan marks ``"hold": true`` waits, before it acts, until the
test releases it.

A test of what happens *while* an AWS call is in flight (a kill that lands inside a describe,
a cancel during a client's first STS call) must not bet on how long the call takes: it holds
the call open, waits until the emulator says the call is held (:meth:`Holds.snapshot`), acts,
then releases it. A held call never waits longer than its ``holdMs`` (a forgotten release
cannot hang a suite); it then goes on as if released.

One registry per process (module level, not per reset): a settings reset must not strand a
held request thread. Replacing the fault plan releases every held call.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

#: Default bound of a hold, milliseconds.
DEFAULT_HOLD_MS = 120_000.0


class Holds:
    """Calls waiting to be released, counted per operation (``service:Operation``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._waiting: Counter[str] = Counter()
        self._total: Counter[str] = Counter()

    def hold(self, key: str, max_ms: float = DEFAULT_HOLD_MS) -> bool:
        """Block until the next :meth:`release` (True) or ``max_ms`` passed (False)."""
        with self._cond:
            generation = self._generation
            self._waiting[key] += 1
            self._total[key] += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(
                    lambda: self._generation != generation, timeout=max_ms / 1000
                )
            finally:
                self._waiting[key] -= 1
                if not self._waiting[key]:
                    del self._waiting[key]
                self._cond.notify_all()

    def release(self) -> int:
        """Let every call held now go on; returns how many there were."""
        with self._cond:
            held = sum(self._waiting.values())
            self._generation += 1
            self._cond.notify_all()
            return held

    def snapshot(self) -> dict[str, Any]:
        """``{"held": {op: calls waiting now}, "heldTotal": {op: calls ever held}}``."""
        with self._cond:
            return {"held": dict(self._waiting), "heldTotal": dict(self._total)}

    def clear_counts(self) -> None:
        with self._cond:
            self._total.clear()


HOLDS = Holds()
