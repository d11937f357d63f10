"""The two drivers every wait flow is stepped by: blocking and ``async``, side by side.

A wait is written once in the core as a generator of ``core.flow`` requests (the job wait,
``core.wait.wait_flow``; the resource-status wait, ``core.resource_wait.resource_flow``). These
drivers do only the I/O the requests ask for, the way httpx's ``Client`` and ``AsyncClient``
step one ``auth_flow``: a ``Call`` goes to the ``call`` the caller gives (how it reaches AWS,
and how an AWS error becomes ``Failed``, is the caller's), a ``Sleep`` sleeps, a ``Log`` line
is written and a ``Seen`` verdict handed to ``on_seen``. Neither holds a rule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

from airflow_batch_service.core.flow import Call, Log, Request, Seen, Sleep

T = TypeVar("T")


class Steps(Generic[T]):
    """A flow's calls and sleeps, in order; the log lines and verdicts between are handled
    here, once for both drivers. A driver sets :attr:`reply` to a call's answer;
    :attr:`outcome` is what the flow returned."""

    def __init__(
        self,
        flow: Generator[Request, Any, T],
        log: Any,
        on_seen: Callable[[Any], None] | None = None,
    ) -> None:
        self.flow, self.log, self.on_seen = flow, log, on_seen
        self.reply: Any = None
        self.outcome: T

    def __iter__(self) -> Iterator[Call | Sleep]:
        try:
            while True:
                request = self.flow.send(self.reply)
                self.reply = None
                if isinstance(request, Log):
                    getattr(self.log, request.level)("%s", request.message)
                elif isinstance(request, Seen):
                    if self.on_seen is not None:
                        self.on_seen(request.verdict)
                else:
                    yield request
        except StopIteration as stop:
            self.outcome = stop.value


def run(
    flow: Generator[Request, Any, T],
    call: Callable[[Call], Any],
    log: Any,
    *,
    on_seen: Callable[[Any], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Step ``flow`` with blocking calls until it returns."""
    steps = Steps(flow, log, on_seen)
    for request in steps:
        if isinstance(request, Call):
            steps.reply = call(request)
        else:
            sleep(request.seconds)
    return steps.outcome


async def arun(
    flow: Generator[Request, Any, T],
    call: Callable[[Call], Awaitable[Any]],
    log: Any,
    *,
    on_seen: Callable[[Any], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Step ``flow`` with awaited calls until it returns."""
    steps = Steps(flow, log, on_seen)
    for request in steps:
        if isinstance(request, Call):
            steps.reply = await call(request)
        else:
            await sleep(request.seconds)
    return steps.outcome
