"""Keep a cancel's message across every await of a trigger.

Airflow 3.3's triggerer tells a user's kill, clear or mark of a deferred task from any other
cancellation only by the message it cancels the trigger's task with
(``__airflow_user_action__``), and calls the trigger's ``on_kill`` only when the
``CancelledError`` that leaves ``run()`` still carries it. Not every await keeps it: asgiref's
``sync_to_async`` (which builds the shared client) re-raises a bare ``CancelledError``, and on
Python 3.11 ``asyncio.wait_for`` can swallow a cancel outright when its inner call finishes in
the same step. A message lost there means ``on_kill`` never runs and the job it should
terminate is orphaned.

:func:`keeping_cancel_message` runs the trigger's work in a child task and waits for it with
``asyncio.wait``, which never catches a cancel: the cancel therefore lands on that one await,
with its message, whatever the work was doing; the work is then cancelled with the same
message and the original error is re-raised. Nothing inside the work can lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


async def keeping_cancel_message(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work``; a cancel of the calling task is re-raised here with its message
    intact, after ``work`` has been cancelled with the same message."""
    inner = asyncio.ensure_future(work)
    try:
        await asyncio.wait({inner})
    except asyncio.CancelledError as cancel:
        # Do not wait for the work to unwind: an AWS call held open in a thread would hold
        # the cancel (and so on_kill) until it returns.
        inner.cancel(*cancel.args[:1])
        inner.add_done_callback(_retrieve)
        raise
    return inner.result()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Read the finished work's outcome, so asyncio does not log it as never retrieved."""
    with contextlib.suppress(BaseException):
        task.result()


#: Work started by :func:`finishing_even_if_cancelled`, held so it is not collected mid-way.
_IN_FLIGHT: set[asyncio.Future[Any]] = set()


async def finishing_even_if_cancelled(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` in its own task, which a cancel of the caller does not stop.

    Airflow 3.3's triggerer repeats its cancel of a killed trigger on every state sync (about
    each second) until the trigger is gone, and a repeat cancels the trigger's ``on_kill``
    itself: a terminate still waiting on AWS (a client being built, a throttled call) would be
    abandoned and the job orphaned. The caller sees the cancel; the work goes on to its end.
    """
    task = asyncio.ensure_future(work)
    _IN_FLIGHT.add(task)
    task.add_done_callback(_IN_FLIGHT.discard)
    task.add_done_callback(_retrieve)
    return await asyncio.shield(task)
