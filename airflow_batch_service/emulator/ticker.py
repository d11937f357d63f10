"""Server mode's heartbeat: bring jobs and state-change events up to now, a few times a second.

Jobs move lazily, when something reads them; but AWS publishes a state-change event when the
job changes, whoever looks. A server whose clock is the wall clock therefore needs something
that moves the world while nobody calls Batch: this thread, which runs ``tick`` (in practice
``side_services.catch_up``) every ``interval`` wall seconds until stopped. In-process there is
none: tests move time with ``advance()``, so nothing happens behind their back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Wall seconds between ticks: events show up within this much of when they are due.
INTERVAL = 0.2


class Ticker:
    """Runs ``tick`` every ``interval`` seconds on a daemon thread, from :meth:`start` until
    :meth:`stop` (which waits for the thread to end). A failing tick is logged, not fatal."""

    def __init__(self, tick: Callable[[], None], interval: float = INTERVAL) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Ticker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="emulator-ticker", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._tick()
            except Exception:  # a reset racing the tick, say: the next tick starts afresh
                log.debug("emulator tick failed", exc_info=True)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
