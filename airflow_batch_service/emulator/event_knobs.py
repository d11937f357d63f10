"""How the emulator's EventBridge misbehaves on purpose: the knobs of its state-change events.

EventBridge delivers at least once, late and in no guaranteed order, and a consumer that
counts on anything better breaks in production only. So the emulator can drop, duplicate,
delay and reorder the events it publishes (``events``), decided by a seeded random source.
The knobs travel as one mapping (``configure(events={...})``, the control API, the
``events`` section of a scenario file, the CLI's ``--event-*`` flags); this module checks and
merges them, and names the knob in every refusal; and the name of a queue to receive them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

#: The SQS queue ``event_queue(...)`` sets up when no name is given.
DEFAULT_QUEUE = "batch-service-events"
#: The knobs, as ``configure(events={...})`` names them.
KEYS = ("enabled", "drop", "duplicate", "delay_seconds", "reorder", "seed")
#: Other spellings accepted for a knob (the camelCase of the JSON files).
ALIASES = {"delaySeconds": "delay_seconds"}
RATES = ("drop", "duplicate", "reorder")
#: SQS queue names: 1-80 of letters, digits, ``-`` and ``_``; a FIFO queue's ends ``.fifo``.
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}(\.fifo)?$|^[A-Za-z0-9_-]{1,80}$")


class EventKnobError(ValueError):
    """A knob with a value it cannot take; the message names the knob."""


def _label(key: str) -> str:
    return f"events.{key}"


@dataclass(frozen=True)
class EventKnobs:
    """``enabled``: publish at all. ``drop`` / ``duplicate`` / ``reorder``: the share (0..1)
    of events never delivered / delivered twice / held back until after the job's next
    event. ``delay_seconds``: every event is delivered this many emulator-clock seconds after
    it happened. ``seed``: the random source's seed (None: unseeded)."""

    enabled: bool = True
    drop: float = 0.0
    duplicate: float = 0.0
    delay_seconds: float = 0.0
    reorder: float = 0.0
    seed: int | None = None

    def merged(
        self, raw: Mapping[str, Any] | None, label: Callable[[str], str] = _label
    ) -> EventKnobs:
        """These knobs with those in ``raw`` replaced (absent or None: left alone). Raises
        :class:`EventKnobError` naming the knob (``label(key)``) on a bad value."""
        if raw is None:
            return self
        if not isinstance(raw, Mapping):
            raise EventKnobError(f"events: must be an object with keys {', '.join(KEYS)}")
        changes: dict[str, Any] = {}
        for given, value in raw.items():
            key = ALIASES.get(str(given), str(given))
            if key not in KEYS:
                raise EventKnobError(
                    f"{label(str(given))}: unknown knob; allowed: {', '.join(KEYS)}"
                )
            if value is not None:
                changes[key] = check(key, value, label(str(given)))
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in KEYS}


def check(key: str, value: Any, name: str) -> Any:
    """``value`` for the knob ``key`` as stored, or :class:`EventKnobError` naming ``name``."""
    if key == "enabled":
        if not isinstance(value, bool):
            raise EventKnobError(f"{name}: must be true or false, got {value!r}")
        return value
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise EventKnobError(f"{name}: must be an integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise EventKnobError(f"{name}: must be a number, got {value!r}")
    if key in RATES and not 0 <= value <= 1:
        raise EventKnobError(f"{name}: must be between 0 and 1, got {value!r}")
    if key == "delay_seconds" and not 0 <= value < float("inf"):
        raise EventKnobError(f"{name}: must be a non-negative number of seconds, got {value!r}")
    return float(value)


def check_queue_name(name: Any, label: str = "name") -> str:
    """``name`` if it is an SQS queue name (what ``event_queue`` creates), else a
    :class:`EventKnobError` naming ``label``."""
    if not isinstance(name, str) or not _QUEUE_NAME.match(name):
        raise EventKnobError(
            f"{label}: {name!r} is not an SQS queue name (1-80 letters, digits, '-' or '_'; "
            "a FIFO queue's ends in .fifo)"
        )
    return name


def job_queue_list(job_queues: str | Sequence[str] | None) -> list[str] | None:
    """``event_queue``'s ``job_queues`` (one name or ARN, or several) as a list."""
    if job_queues is None:
        return None
    return [job_queues] if isinstance(job_queues, str) else list(job_queues)
