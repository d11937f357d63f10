"""What a wait flow asks its driver for, and what the driver answers (the httpx
``Auth.auth_flow`` way: one generator, stepped by a sync and an async driver). No I/O.

A flow (``core.wait.wait_flow``, ``core.wait_reads``) yields requests: :class:`Call` a hook
method, :class:`Sleep`, :class:`Log` a line, :class:`Seen` a fresh verdict (the shell persists
links). The driver (``airflow_batch_service._shared.waiting``) does it and sends back the
answer, or :class:`Failed` when the call raised an AWS error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.verdict import Verdict


@dataclass(frozen=True)
class Call:
    """Call the hook's ``method`` (the async driver awaits its ``a``-prefixed twin)."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """What a driver sends back when a :class:`Call` raised an AWS error."""

    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Log:
    level: str  # "debug", "info", "warning", "error"
    message: str


@dataclass(frozen=True)
class Seen:
    """A fresh verdict: the shell persists its links (a trigger has nothing to do)."""

    verdict: Verdict


Request = Call | Sleep | Log | Seen
