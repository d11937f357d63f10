"""moto's SQS queue counts, made fast enough for a queue of thousands of events.

moto works out a queue's visible messages and its approximate counts by asking every message
whether it is visible or delayed, and each answer reads the clock through two ``datetime``
conversions. Every ``SendMessage`` builds the queue's attributes (for
``ContentBasedDeduplication``), which computes three of those counts: with 2,000 messages
queued, one ``SendMessageBatch`` of ten took 0.5 s, so an event queue a thousand jobs fill
(six state changes each) slowed sends and receives to a dozen messages a second, where AWS
serves thousands. The counts here read the clock once per pass and compare the same fields
with the same rules (visible: now > ``visible_at``; delayed: now < ``delayed_until``).
"""

from __future__ import annotations

from typing import Any

from moto.core.utils import unix_time_millis
from moto.sqs.models import Queue


def _visible(queue: Any) -> list[Any]:
    now = unix_time_millis()
    return [m for m in queue._messages if now > m.visible_at and not now < m.delayed_until]


def _delayed(queue: Any) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _not_visible(queue: Any) -> int:
    now = unix_time_millis()
    return sum(1 for m in queue._messages if not now > m.visible_at)


def _count(queue: Any) -> int:
    return len(_visible(queue))


#: The emulator's counts, by the name of moto's ``Queue`` property each replaces.
FAST: dict[str, property] = {
    "messages": property(_visible),
    "approximate_number_of_messages_delayed": property(_delayed),
    "approximate_number_of_messages_not_visible": property(_not_visible),
    "approximate_number_of_messages": property(_count),
}
#: moto's own, kept for ``benchmarks/emulator_throughput.py`` to compare against.
MOTO: dict[str, Any] = {name: Queue.__dict__[name] for name in FAST}


def install() -> None:
    """Replace moto's per-message clock reads in ``Queue`` (idempotent)."""
    for name, counted in FAST.items():
        setattr(Queue, name, counted)
