"""``core.strict_json``: what PostgreSQL's JSON columns refuse (NaN, infinities, NUL) made
storable, and nothing else touched."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from airflow_batch_service.core.strict_json import NUL_TEXT, non_finite_text, strict_json

NAN, INF = float("nan"), float("inf")


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


def storable(value: Any) -> str:
    """What PostgreSQL would take: strict JSON with no NUL character in any string."""
    text = json.dumps(value, allow_nan=False)
    assert not has_nul(value) and not has_nul(json.loads(text))
    return text


def test_non_finite_floats_become_null_anywhere():
    value = {"a": NAN, "b": [INF, -INF, 1.5], "c": {"d": (NAN, 2)}}
    assert strict_json(value) == {"a": None, "b": [None, None, 1.5], "c": {"d": [None, 2]}}
    storable(strict_json(value))


def test_a_nul_becomes_the_visible_text_in_values_and_keys():
    value = {"reason\x00": "a\x00b\x00", "list": ["\x00"], "nested": {"k\x00k": {"\x00": 1}}}
    out = strict_json(value)
    assert out == {
        "reason\\u0000": "a\\u0000b\\u0000",
        "list": ["\\u0000"],
        "nested": {"k\\u0000k": {"\\u0000": 1}},
    }
    assert NUL_TEXT == "\\u0000" and len(NUL_TEXT) == 6
    # JSON writes the text as a backslash, u, four zeros: readable, not a NUL.
    assert json.loads(json.dumps(out["list"][0])) == "\\u0000"
    storable(out)


def test_everything_else_is_untouched_and_keeps_its_order():
    value = {
        "z": 1,
        "a": True,
        "m": False,
        "n": None,
        "i": 10**30,
        "f": -0.0,
        "tiny": 5e-324,
        "s": "text with \\u0000 already spelled and unicode: é ✓",
        "l": [1, "x", {"q": 2.5}],
    }
    out = strict_json(value)
    assert out == value
    assert list(out) == list(value)
    assert out["a"] is True and out["m"] is False and isinstance(out["i"], int)
    assert math.copysign(1.0, out["f"]) == -1.0


def test_nothing_to_change_returns_the_value_itself_and_the_input_is_never_modified():
    clean = {"a": [1, {"b": "c"}], "t": (1, 2)}
    assert strict_json(clean) is clean
    dirty: dict[str, Any] = {"a": [1, {"b": "c\x00"}], "keep": {"x": 1}, "f": NAN}
    before = copy.deepcopy(dirty)
    out = strict_json(dirty)
    assert out is not dirty and out["a"] is not dirty["a"]
    assert out["keep"] is dirty["keep"]  # an unchanged branch is shared, not copied
    assert dirty["a"] == before["a"] and dirty["keep"] == before["keep"]
    assert math.isnan(dirty["f"])


def test_key_order_is_kept_when_a_key_changes():
    out = strict_json({"b": 1, "a\x00": 2, "c": NAN})
    assert list(out) == ["b", "a\\u0000", "c"]


def test_non_json_keys_as_json_writes_them():
    out = strict_json({1: "x", NAN: 1, INF: 2, -INF: 3, None: 4, 2.5: 5})
    assert out == {1: "x", "NaN": 1, "Infinity": 2, "-Infinity": 3, None: 4, 2.5: 5}
    storable(out)


def test_scalars():
    assert strict_json(NAN) is None
    assert strict_json(-INF) is None
    assert strict_json("\x00") == "\\u0000"
    assert strict_json(3) == 3 and strict_json(None) is None and strict_json(True) is True


def test_non_json_values_pass_through_untouched():
    marker = object()
    assert strict_json(marker) is marker
    assert strict_json({"a": marker})["a"] is marker


def test_the_non_finite_spelling_reads_back_with_float():
    for value in (NAN, INF, -INF):
        text = non_finite_text(value)
        back = float(text)
        assert (math.isnan(back) and math.isnan(value)) or back == value
    assert [non_finite_text(v) for v in (NAN, INF, -INF)] == ["NaN", "Infinity", "-Infinity"]


# -- any JSON-able value comes out storable ---------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["\x00", "a\x00b", "\x00\x00"])
)
KEYS = st.text() | st.sampled_from(["\x00", "k\x00", "\\u0000"])
JSON_ABLE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=5).map(tuple)
        | st.dictionaries(KEYS, inner, max_size=5)
    ),
    max_leaves=30,
)


@given(JSON_ABLE)
@example({"loss": NAN, "reason\x00": ["x\x00", INF, (-INF,)]})
def test_any_json_able_value_comes_out_strict_and_without_nul(value):
    out = strict_json(value)
    storable(out)
    # Applying it again changes nothing: the output is already strict.
    assert strict_json(out) is out


@given(JSON_ABLE)
def test_a_value_with_nothing_to_change_comes_out_equal(value):
    text = json.dumps(value)  # allow_nan: NaN tokens and \u0000 escapes show what changes
    if "NaN" in text or "Infinity" in text or "\\u0000" in text:
        return
    assert json.dumps(strict_json(value)) == text
