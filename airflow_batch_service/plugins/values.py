"""Lenient readers of what AWS and Airflow hand the pages.

A page shows what it can and says what failed: it never fails over a value it did not expect
(a timestamp that is not a number, an error with a page-long message). The view models and
the data gathering share these few readers. Pure.
"""

from __future__ import annotations

from typing import Any

#: Characters of an error message a page shows.
MAX_ERROR_TEXT = 400


def int_or_none(value: Any) -> int | None:
    """``value`` as an int (a timestamp in ms, a count), or None when it is not one."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def error_text(exc: BaseException) -> str:
    """An exception in a line a page can show: its message (or its type), shortened."""
    text = str(exc) or type(exc).__name__
    return text if len(text) < MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "..."
