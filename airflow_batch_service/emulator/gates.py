"""Named gates: a scenario try waits in a status until a test opens the gate by name.

``holdUntilSeen`` ties a transition to what a client has been shown; a gate ties it to an
explicit step of the test (``holdUntilReleased: {"RUNNING": "trained"}`` keeps the try RUNNING
until ``open_gate("trained")``). A test then says what happens next, instead of betting that a
state lasts long enough for the real scheduler, triggerer or browser to see it: it waits for
the job to be at the gate (``gates()`` lists who waits where), does what it tests (kill the
task, clear it, reload the page), and opens the gate.

A gate stays open once opened (a job reaching it later passes straight through) until the
emulator is reset. Opening stamps the gate with the emulator's clock, and a released
transition happens no earlier than it would have by time alone, as with ``holdUntilSeen``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

#: Gate names: short, printable, safe in a URL path and a JSON key.
NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class GateError(ValueError):
    """A gate name that does not follow :data:`NAME`; the message says the rule."""


def check_name(name: object, where: str = "gate") -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise GateError(
            f"{where}: a gate name is 1-64 letters, digits, '_', '.', ':' or '-', got {name!r}"
        )
    return name


class Gates:
    """Which gates are open, and since when (emulator clock, epoch seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened: dict[str, float] = {}

    def opened_at(self, name: str) -> float | None:
        with self._lock:
            return self._opened.get(name)

    def open(self, name: str, at: float) -> float:
        """Open ``name`` at ``at`` (a gate opened before keeps its first time); returns when."""
        check_name(name)
        with self._lock:
            return self._opened.setdefault(name, at)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._opened)


def wait_until_waiting(
    read: Callable[[], dict[str, Any]], gate: str, count: int = 1, timeout: float = 120.0
) -> list[str]:
    """Block until ``count`` jobs wait at ``gate`` (``read`` is a handle's ``gates``); returns
    their ids. The bound is generous on purpose: it is reached only when something is wrong,
    and then the error says what was awaited and what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = read()
        waiting = list(seen.get("waiting", {}).get(gate, []))
        if len(waiting) >= count:
            return waiting
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"waited {timeout:g}s for {count} job(s) at gate {gate!r}; saw {seen}"
            )
        time.sleep(0.1)
