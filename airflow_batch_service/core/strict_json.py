"""JSON that every Airflow metadata database stores: no NaN, no infinities, no NUL character.

Airflow keeps XCom values, trigger kwargs and a deferred task's ``next_kwargs`` (where a
trigger's event lands) in JSON columns. PostgreSQL refuses ``NaN``, ``Infinity`` and
``-Infinity`` there (they are not JSON) and the NUL character ``\\u0000`` in any text; SQLite
takes them all, so a test database never notices. A diverged training run (loss = NaN), an
infinite metric or a status reason with a NUL byte would then fail the task *after* its job
succeeded. Everything the provider hands to Airflow passes through :func:`strict_json` first,
where the dict is built for Airflow (``WaitOutcome.to_event``, ``WaitSpec.to_kwargs``, the
XCom pushes and the task results).

The rule, for any JSON-able value (dicts, lists, tuples, strings, numbers, booleans, None):

- a float that is NaN or infinite becomes ``None`` (JSON ``null``). Where the original matters
  it is kept beside the value, spelled as :func:`non_finite_text` spells it (``"NaN"``,
  ``"Infinity"``, ``"-Infinity"``: what ``float()`` reads back); the training result does so
  (``finalMetricsNonFinite``, ``core.training_result``). A non-finite float used as a dict
  key becomes that spelling (what ``json.dumps`` writes for it by default);
- a NUL character in a string, a dict key included, becomes the visible 6-character text
  ``\\u0000`` (a backslash, ``u``, four zeros): nothing is lost silently and the text still
  reads. (A key that then equals another key of the same dict: the later one wins.)
- everything else passes through unchanged: same values, same key order. Tuples become lists
  only where something inside them changed (JSON writes both as arrays anyway).

Cheap and total: a value with nothing to change is returned as it is (the same object, not a
copy), and anything that is not JSON-able is passed through untouched rather than refused.

Pure: standard library only.
"""

from __future__ import annotations

import math
from typing import Any

#: What a NUL character in a string becomes: the visible text ``\u0000`` (6 characters).
NUL_TEXT = "\\u0000"


def non_finite_text(value: float) -> str:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"``: a non-finite float as JSON's
    extensions spell it, and as ``float()`` reads it back."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _text(value: str) -> str:
    return value.replace("\x00", NUL_TEXT) if "\x00" in value else value


def _key(key: Any) -> Any:
    if isinstance(key, str):
        return _text(key)
    if isinstance(key, float) and not math.isfinite(key):
        return non_finite_text(key)
    return key


def strict_json(value: Any) -> Any:
    """``value`` as PostgreSQL's JSON takes it (see the module doc): non-finite floats as
    ``None``, NUL characters as the text ``\\u0000``; ``value`` itself when nothing changes.
    The input is never modified."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        items = [(_key(k), strict_json(v)) for k, v in value.items()]
        if all(k is k2 and v is v2 for (k, v), (k2, v2) in zip(value.items(), items, strict=True)):
            return value
        return dict(items)
    if isinstance(value, list | tuple):
        converted = [strict_json(item) for item in value]
        if all(a is b for a, b in zip(value, converted, strict=True)):
            return value
        return converted
    return value
