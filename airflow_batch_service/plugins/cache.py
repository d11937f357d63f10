"""How long the pages reuse what AWS told them, and the cache that keeps it.

A page view must not cost an AWS call per job: every api-server process keeps one
:class:`TTLCache`, and each kind of answer lives as long as it can stay true. Queue and
environment descriptions change rarely (:data:`CONFIG_TTL`); a queue's snapshot, its RUNNABLE
list and an unfinished job change by the second (:data:`LIVE_TTL`); a finished job no longer
changes (:data:`FINISHED_TTL`), and a job's tags never do (:data:`TAGS_TTL`). Pure.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

#: Seconds a snapshot / RUNNABLE list / unfinished job describe is reused.
LIVE_TTL = 5.0
#: Seconds queue, environment, policy and quota-share descriptions are reused.
CONFIG_TTL = 60.0
#: Seconds a finished job's describe is reused (it no longer changes).
FINISHED_TTL = 3600.0
#: Seconds a job's tags are reused: a day, for good in practice (they never change).
TAGS_TTL = FINISHED_TTL * 24


class TTLCache:
    """A small thread-safe cache of loaded values, each with its own time to live."""

    def __init__(self, max_items: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items
        self._clock = clock
        self.loads = 0

    def get(self, key: Any, ttl: float | Callable[[Any], float], load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        value = load()
        self.loads += 1
        life = ttl(value) if callable(ttl) else ttl
        with self._lock:
            self._items[key] = (now + life, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
