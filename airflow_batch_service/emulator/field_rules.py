"""Field rules the emulator checks with its own code: tags and ``schedulingPriority``.

Written from AWS's documented bounds (Batch API reference: ``TagResource``,
``UpdateServiceJob``; AWS tagging rules), apart from the provider's ``core.validation`` on
purpose: the emulator plays the service the provider's checks guard against, so a wrong bound
there must not be agreed with here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batch_service.core.validation import Problem

#: Documented: a resource holds 1-50 tags; keys 1-128 characters, values up to 256.
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
#: Documented: keys starting ``aws:`` are reserved for AWS.
RESERVED_TAG_PREFIX = "aws:"
#: Documented: ``schedulingPriority`` is 0-9999.
PRIORITY_RANGE = range(0, 10_000)
#: Documented: TerminateServiceJobs takes up to 50 job ids.
MAX_TERMINATE_BATCH = 50


def tags_problems(tags: Any, path: str = "tags") -> list[Problem]:
    """A ``tags`` map against the documented bounds; one problem per broken rule."""
    if not isinstance(tags, Mapping):
        return [
            Problem(path, f"must be an object of string keys and values, got {type(tags).__name__}")
        ]
    out = []
    if not tags or len(tags) > MAX_TAGS:
        out.append(Problem(path, f"must hold 1-{MAX_TAGS} tags, got {len(tags)}"))
    for key, value in tags.items():
        where = f"{path}[{key!r}]"
        if not isinstance(key, str) or not key or len(key) > MAX_TAG_KEY:
            out.append(Problem(where, f"tag keys must be 1-{MAX_TAG_KEY} characters"))
        elif key.lower().startswith(RESERVED_TAG_PREFIX):
            out.append(Problem(where, "tag keys may not start with 'aws:' (reserved by AWS)"))
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            out.append(
                Problem(where, f"tag values must be strings of at most {MAX_TAG_VALUE} characters")
            )
    return out


def priority_problems(value: Any, path: str = "schedulingPriority") -> list[Problem]:
    """``schedulingPriority``: an integer 0-9999 (0 is a real value)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return [Problem(path, f"must be an integer, got {type(value).__name__} {value!r}")]
    if value not in PRIORITY_RANGE:
        low, high = PRIORITY_RANGE[0], PRIORITY_RANGE[-1]
        return [Problem(path, f"must be between {low} and {high}, got {value}")]
    return []
