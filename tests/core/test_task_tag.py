"""``core.task_tag``: the task tag's format and its one parser, and the edges they decide."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_batch_service.core.task_tag import (
    MAX_TAG_VALUE,
    TASK_TAG,
    TaskKey,
    format_task_tag,
    parse_task_tag,
)

RUN = "manual__2026-01-01T00:00:00+00:00"
#: Batch's tag-value characters (Unicode letters and digits, space, ``_ . : / = + - @``).
TAG_CHARS = re.compile(r"[\w .:/=+\-@]*")


def test_the_tag_key() -> None:
    assert TASK_TAG == "airflow-batch-service:task"


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        (TaskKey("d", "t", "r"), "d:t:r:-1"),
        (TaskKey("d", "t", "r", 0), "d:t:r:0"),
        (TaskKey("sweep", "group.train", RUN, 12), f"sweep:group.train:{RUN}:12"),
        # A run id keeps its ':'; every other character Batch refuses becomes '_'.
        (TaskKey("d", "t", "r:1", 2), "d:t:r:1:2"),
        (TaskKey("d", "t", "r~x", 1), "d:t:r_x:1"),
        (TaskKey("d", "t", "a#b?c", -1), "d:t:a_b_c:-1"),
        # DAG and task ids hold no ':' in Airflow; written as '_' all the same (one reading).
        (TaskKey("a:b", "t:u", "r", 0), "a_b:t_u:r:0"),
        (TaskKey("dåg", "tâsk", "rün", 0), "dåg:tâsk:rün:0"),  # letters in any script stay
    ],
)
def test_format(key: TaskKey, tag: str) -> None:
    assert format_task_tag(key) == key.tag_value() == tag
    assert str(key) == f"{key.dag_id}:{key.task_id}:{key.run_id}:{key.map_index}"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("d:t:r:-1", ("d", "t", "r", -1)),
        ("d:t:r:0", ("d", "t", "r", 0)),
        (f"d:t:{RUN}:3", ("d", "t", RUN, 3)),
        ("d:t:r:1:2", ("d", "t", "r:1", 2)),  # the run id runs to the last ':'
        ("d:t:r::2", ("d", "t", "r:", 2)),
        ("d:t:r_x:1", ("d", "t", "r_x", 1)),  # as written: sanitized parts
        ("d:t: :1", ("d", "t", " ", 1)),
        # Not a tag this provider writes: None.
        ("d:t:r~x:1", None),  # '~' is never written but as a shortened value's hash mark
        ("d:t:r#x:1", None),  # a character the format replaces
        ("d:t:r:01", None),  # a map index is written as str(int)
        ("d:t:r:+1", None),
        ("d:t:r: 1", None),
        ("d:t:r:1_0", None),  # int() would take it
        ("d:t:r:-0", None),
        ("d:t:r:-2", None),  # a map index is -1 or a position
        ("d:t:r:x", None),
        ("d:t:r:", None),
        ("d:t:r", None),
        ("d:t::1", None),  # empty fields
        ("d::r:1", None),
        (":t:r:1", None),
        ("d:t", None),
        ("", None),
        (None, None),
        (7, None),
        ("x" * 239 + "~" + "0" * 16, None),  # a shortened value cannot be read back
    ],
)
def test_parse(value: object, parsed: tuple[str, str, str, int] | None) -> None:
    key = parse_task_tag(value)
    assert key == parsed
    if key is not None:
        assert isinstance(key, TaskKey) and format_task_tag(key) == value
        dag_id, task_id, run_id, map_index = key  # a parsed tag unpacks
        assert (dag_id, task_id, run_id, map_index) == parsed


def test_a_long_key_is_shortened_uniquely_and_not_read_back() -> None:
    key = TaskKey("d" * 250, "t" * 250, "r" * 250 + "?!", 3)
    tag = key.tag_value()
    assert len(tag) == MAX_TAG_VALUE and tag[-17] == "~"
    assert tag != TaskKey("d" * 250, "t" * 250, "r" * 250 + "?#", 3).tag_value()
    assert parse_task_tag(tag) is None


def test_from_context() -> None:
    class TI:
        run_id, map_index = "from_ti", 4

    assert TaskKey.from_context({"ti": TI()}, dag_id="d", task_id="t") == ("d", "t", "from_ti", 4)
    context = {"run_id": "r", "ti": object()}
    assert TaskKey.from_context(context, dag_id="d", task_id="t") == TaskKey("d", "t", "r", -1)


# ------------------------------------------------------------------------------ properties

#: Airflow's DAG and task ids: letters, digits, '_', '.', '-' (task ids of a group: 'g.t').
IDS = st.from_regex(r"[A-Za-z0-9_.-]{1,40}", fullmatch=True)
#: Run ids: anything non-empty (a custom run id may hold what the tag charset refuses).
RUNS = st.text(min_size=1, max_size=80)
MAP_INDEXES = st.integers(min_value=-1, max_value=10**6)


def _clean(text: str) -> str:
    return "".join(c if TAG_CHARS.fullmatch(c) else "_" for c in text)


@given(IDS, IDS, RUNS, MAP_INDEXES)
@example("d", "t", RUN, -1)
@example("d", "t", "r~x", 1)
@example("d", "t", ":", 0)
def test_every_written_tag_reads_back_as_its_sanitized_key(
    dag_id: str, task_id: str, run_id: str, map_index: int
) -> None:
    tag = TaskKey(dag_id, task_id, run_id, map_index).tag_value()
    assert len(tag) <= MAX_TAG_VALUE and TAG_CHARS.fullmatch(tag.replace("~", ""))
    if "~" not in tag:  # not shortened ('~' is never written otherwise)
        assert parse_task_tag(tag) == (dag_id, task_id, _clean(run_id), map_index)


@given(st.text(max_size=12), st.text(max_size=12), st.text(max_size=40), st.integers())
def test_any_key_reads_back_or_not_at_all(
    dag_id: str, task_id: str, run_id: str, map_index: int
) -> None:
    """Ids Airflow would refuse (empty, with ':' or anything else): the parser never returns
    a key whose tag differs from the one it read."""
    tag = TaskKey(dag_id, task_id, run_id, map_index).tag_value()
    key = parse_task_tag(tag)
    if key is not None:
        assert key.tag_value() == tag
        assert (key.dag_id, key.task_id) == (
            _clean(dag_id).replace(":", "_"),
            _clean(task_id).replace(":", "_"),
        )


@given(st.text(max_size=60))
def test_parse_never_raises_and_only_accepts_what_it_would_write(value: str) -> None:
    key = parse_task_tag(value)
    assert key is None or key.tag_value() == value
