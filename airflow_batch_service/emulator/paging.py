"""``maxResults`` / ``nextToken`` for every list operation of the emulator."""

from __future__ import annotations

import base64
import json
from typing import Any

from airflow_batch_service.core.validation import Problem
from airflow_batch_service.emulator.errors import invalid

MAX_RESULTS = 100


def page(
    operation: str, items: list[Any], max_results: Any, next_token: Any
) -> tuple[list[Any], str | None]:
    """One page of ``items`` and the token of the next (an opaque offset), or refuse bad
    input the way Batch does: maxResults 1-100, a token this API returned."""
    problems: list[Problem] = []
    if max_results is not None and (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not 1 <= max_results <= MAX_RESULTS
    ):
        problems.append(
            Problem("maxResults", f"must be between 1 and {MAX_RESULTS}, got {max_results!r}")
        )
    start = 0
    if next_token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(str(next_token)))["offset"])
        except (ValueError, KeyError, TypeError):
            problems.append(Problem("nextToken", "is not a token this API returned"))
    if problems:
        raise invalid(operation, problems)
    size = max_results or MAX_RESULTS
    items_page = items[start : start + size]
    token = None
    if start + size < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
    return items_page, token
