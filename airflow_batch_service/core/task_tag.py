"""The task tag: which Airflow task instance submitted a service job, written on the job itself.

Durable submission writes it on every job it submits (``core.durable.with_durable_tags``) and
three readers read it back: the terminate-by-DAG-run selection
(``core.operations.selected_by_run``), and the UI plugin's task-instance tab (the jobs of
earlier tries) and queue page (which task is waiting). Writer and readers must agree to the
character, so the key, the format and the one parser live here, and nowhere else.

The format: ``dag_id:task_id:run_id:map_index`` (``map_index`` ``-1`` for an unmapped task),
kept within Batch's tag values: a character outside ``[\\w .:/=+\\-@]`` becomes ``_``, and a
value over 256 characters keeps its first 239 and gains ``~`` and 16 hex digits of a SHA-256 of
the whole key (so it stays unique, but cannot be read back).

Reading it back (:func:`parse_task_tag`), the edges decided here:

- Only a value this module writes is read. The parser splits the value, formats the parts
  again, and accepts the parts only when that gives the value back, character for character.
  Anything else is someone else's tag, or one whose task cannot be recovered: None.
- So ``d:t:r~x:1`` is None. ``~`` is not a tag character (a run id ``r~x`` is written
  ``r_x``); in a value this module writes, ``~`` only marks a shortened one. Likewise a
  shortened value, a character the format replaces (``#``, ``?``), a map index written any
  other way than ``str(int)`` (``01``, ``+1``, `` 1``), one below ``-1``, or an empty field.
- Separators: a DAG id and a task id hold no ``:`` (Airflow's rule: letters, digits, ``_``,
  ``.``, ``-``), and the format writes a ``:`` in them as ``_`` all the same, so the first two
  ``:`` always end the DAG and the task id. A run id may hold ``:``
  (``manual__2026-01-01T00:00:00+00:00``): it is everything from the task id to the last
  ``:``, which starts the map index.
- The parts come back as the tag holds them, i.e. sanitized: a run id with a replaced
  character comes back with ``_`` in its place. To ask "did run R submit this job?", format
  R's key and compare the tags (``core.operations.selected_by_run``), never the parsed ids.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

#: The tag's key on the job: the task key, for people (console, cost reports), the UI and the
#: terminate-by-run selection.
TASK_TAG = "airflow-batch-service:task"
#: Batch's longest tag value.
MAX_TAG_VALUE = 256
#: Length of the hash a shortened value ends with (after ``~``).
_DIGEST = 16

_UNSAFE = re.compile(r"[^\w .:/=+\-@]")
_UNSAFE_IN_ID = re.compile(r"[^\w .:/=+\-@]|:")


class TaskKey(NamedTuple):
    """What identifies "the same task" across tries: a retry or a clear keeps all four.

    A tuple, so a parsed tag unpacks (``dag_id, task_id, run_id, map_index = key``) and
    compares equal to the plain tuple of its parts.
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1

    @classmethod
    def from_context(cls, context: Mapping[str, Any], *, dag_id: str, task_id: str) -> TaskKey:
        """Read the key from the task context (the operator supplies its own ids)."""
        ti = context.get("ti")
        run_id = context.get("run_id") or getattr(ti, "run_id", None) or ""
        map_index = getattr(ti, "map_index", None)
        if not isinstance(map_index, int):
            map_index = -1
        return cls(str(dag_id), str(task_id), str(run_id), map_index)

    def __str__(self) -> str:
        return f"{self.dag_id}:{self.task_id}:{self.run_id}:{self.map_index}"

    def tag_value(self) -> str:
        """This key's task tag (:func:`format_task_tag`)."""
        return format_task_tag(self)


def format_task_tag(key: TaskKey) -> str:
    """``key`` as a tag value: Batch's tag charset and at most 256 characters (module doc)."""
    text = ":".join(
        (
            _UNSAFE_IN_ID.sub("_", key.dag_id),
            _UNSAFE_IN_ID.sub("_", key.task_id),
            _UNSAFE.sub("_", key.run_id),
            str(key.map_index),
        )
    )
    if len(text) <= MAX_TAG_VALUE:
        return text
    digest = hashlib.sha256(str(key).encode()).hexdigest()[:_DIGEST]
    return f"{text[: MAX_TAG_VALUE - _DIGEST - 1]}~{digest}"


def parse_task_tag(value: Any) -> TaskKey | None:
    """The task key a task tag names, as the tag holds it (sanitized); None when ``value`` is
    not a tag :func:`format_task_tag` writes in full (the edges: module doc)."""
    if not isinstance(value, str):
        return None
    head = value.split(":", 2)
    if len(head) != 3:
        return None
    dag_id, task_id, rest = head
    run_id, sep, index = rest.rpartition(":")
    if not (dag_id and task_id and run_id and sep):
        return None
    try:
        map_index = int(index)
    except ValueError:
        return None
    key = TaskKey(dag_id, task_id, run_id, map_index)
    if map_index < -1 or format_task_tag(key) != value:
        return None
    return key
