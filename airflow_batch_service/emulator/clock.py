"""The emulator's notion of "now", which tests can freeze and move.

Job lifecycles are computed from elapsed time when a job is read, so the clock is the only
thing that makes a job progress. A real clock gives a live emulator; a manual clock (frozen,
moved by :meth:`Clock.advance`) gives lifecycle tests that never sleep and never race.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Wall time plus an offset, or a frozen instant, or a caller's own time source."""

    def __init__(self, source: Callable[[], float] | None = None) -> None:
        self._source = source
        self._frozen_at: float | None = None
        self._offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch, as a float."""
        if self._frozen_at is not None:
            return self._frozen_at
        base = self._source() if self._source is not None else time.time()
        return base + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def freeze(self) -> None:
        """Stop time where it is: from now on only :meth:`advance` moves it."""
        self._frozen_at = self.now()

    def unfreeze(self) -> None:
        if self._frozen_at is not None:
            self._offset = self._frozen_at - (self._source or time.time)()
            self._frozen_at = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def advance(self, seconds: float) -> float:
        """Move time forward (frozen or not) and return the new now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds
        return self.now()
