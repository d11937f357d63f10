"""The generated parts of the Markdown pages, committed in the pages between begin/end markers.

A page read on GitHub (or in an editor) must be complete, so what the docs build computes is
written into the ``.md`` files themselves, between two marker lines, by ``scripts/gen_docs.py``:

    <!-- generated:NAME -->
    ... what examples.GENERATORS[NAME]() (or layout.GENERATORS) returns, computed from the code ...
    <!-- end generated:NAME -->

    <!-- include:PATH:NAME -->
    ... the code between "# [START NAME]" and "# [END NAME]" in PATH (an example DAG) ...
    <!-- end include:PATH:NAME -->

To add a block, write its opening line alone and run ``scripts/gen_docs.py``: it adds the
content and the end marker. Never edit between the markers: the next run overwrites it, and
``tests/docs/test_docs_generated.py`` fails while the committed text differs from what the
script would write (so does the docs build with ``DOCS_CHECK=1``).

The docs build (``hooks.py``) renders the same blocks afresh and drops the marker lines, so the
site is right even before the pages are regenerated.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOCS = ROOT / "docs"
#: The command that rewrites the blocks, for every message that says a page is out of date.
REGENERATE = ".venv/bin/python scripts/gen_docs.py"

OPEN = re.compile(
    r"^<!-- (?P<kind>generated|include):(?P<arg>[A-Za-z0-9_./:-]+) -->$", re.MULTILINE
)
END = re.compile(r"^<!-- end (?P<kind>generated|include):(?P<arg>[A-Za-z0-9_./:-]+) -->$")
INCLUDE_ARG = re.compile(r"^(?P<path>[A-Za-z0-9_./-]+\.py):(?P<name>[A-Za-z0-9_]+)$")
GENERATED_ARG = re.compile(r"^[a-z0-9-]+$")


def _load(name: str) -> ModuleType:
    """A sibling module, by path, under the name ``hooks.py`` and the tests use too."""
    qualified = f"_abs_docs_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


def extract_example(path: Path, name: str) -> str:
    """The lines between ``# [START name]`` and ``# [END name]`` in ``path``, dedented."""
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# [START {name}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# [END {name}]"]
    if len(starts) != 1 or len(ends) != 1 or ends[0] <= starts[0]:
        raise ValueError(f"{path.name}: expected one '# [START {name}]' ... '# [END {name}]' pair")
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]])).strip("\n")


def all_generators() -> dict[str, Callable[[], str]]:
    """Every generated block's function: the core's examples and the package's layout."""
    return {**_load("examples").GENERATORS, **_load("layout").GENERATORS}


def render(kind: str, arg: str) -> str:
    """The Markdown for one block, without its markers. ``ValueError`` names what is wrong."""
    if kind == "include":
        match = INCLUDE_ARG.match(arg)
        if not match:
            raise ValueError(f"include:{arg}: expected include:PATH.py:NAME")
        path = match["path"]
        try:
            code = extract_example(ROOT / path, match["name"])
        except OSError as err:
            raise ValueError(f"include:{arg}: {err}") from err
        return f'```python title="{path}"\n{code}\n```'
    generators = all_generators()
    if not GENERATED_ARG.match(arg) or arg not in generators:
        raise ValueError(f"unknown generated block {arg!r}; known: {', '.join(sorted(generators))}")
    return generators[arg]().strip("\n")


@dataclass(frozen=True)
class Block:
    """One block of a page: its kind and argument, the opening line's index, and the end
    marker's (``None`` while only the opening line is written)."""

    kind: str
    arg: str
    start: int
    end: int | None


def parse(text: str, where: str = "page") -> list[Block]:
    """The page's blocks, in order. A stray or mismatched end marker is a ``ValueError``."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stray = END.match(line)
        if stray:
            raise ValueError(f"{where}:{i + 1}: {line!r} closes no block")
        opened = OPEN.match(line)
        if not opened:
            i += 1
            continue
        kind, arg = opened["kind"], opened["arg"]
        end = None
        for j in range(i + 1, len(lines)):
            if OPEN.match(lines[j]):
                break
            closing = END.match(lines[j])
            if closing:
                if (closing["kind"], closing["arg"]) != (kind, arg):
                    raise ValueError(
                        f"{where}:{j + 1}: {lines[j]!r} does not close {line!r} (line {i + 1})"
                    )
                end = j
                break
        blocks.append(Block(kind, arg, i, end))
        i = (end if end is not None else i) + 1
    return blocks


def fill(text: str, where: str = "page", *, markers: bool = True) -> str:
    """``text`` with every block rendered afresh. ``markers=False`` drops the marker lines
    (the built site); otherwise the block sits between its markers, blank lines around it."""
    lines = text.split("\n")
    out: list[str] = []
    position = 0
    for block in parse(text, where):
        try:
            body = render(block.kind, block.arg)
        except ValueError as err:
            raise ValueError(f"{where}:{block.start + 1}: {err}") from err
        out.extend(lines[position : block.start])
        if markers:
            out += [lines[block.start], "", body, "", f"<!-- end {block.kind}:{block.arg} -->"]
        else:
            out.append(body)
        position = (block.end if block.end is not None else block.start) + 1
    out.extend(lines[position:])
    return "\n".join(out)


def pages(docs_dir: Path = DOCS) -> list[Path]:
    """Every Markdown page under ``docs_dir``, sorted."""
    return sorted(path for path in docs_dir.rglob("*.md") if "_tooling" not in path.parts)


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def expected(path: Path) -> str:
    """What ``scripts/gen_docs.py`` would write to ``path``."""
    return fill(path.read_text(encoding="utf-8"), _where(path))


def stale(docs_dir: Path = DOCS) -> list[Path]:
    """Pages whose committed blocks differ from what ``scripts/gen_docs.py`` would write."""
    return [path for path in pages(docs_dir) if path.read_text(encoding="utf-8") != expected(path)]


def write_all(docs_dir: Path = DOCS) -> list[Path]:
    """Rewrite the blocks of every page that is out of date; the pages written."""
    changed = []
    for path in pages(docs_dir):
        text = path.read_text(encoding="utf-8")
        new = fill(text, _where(path))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
