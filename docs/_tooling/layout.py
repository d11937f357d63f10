"""The package's layout, drawn from the code for ``docs/architecture.md``.

Two generated blocks: ``layout`` (every module under its part of the package, with the first
line of its docstring) and ``layers`` (which part may import which: the rules the architecture
test enforces). Both read ``tests/architecture/graph.py``, the same graph the test checks, so the
page cannot describe a layout the code does not have.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _graph() -> ModuleType:
    name = "_abs_docs_architecture_graph"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "tests" / "architecture" / "graph.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    sentence = first.split(". ")[0].rstrip(".")
    return sentence.replace("|", "\\|")


def layout() -> str:
    """Every module, grouped by its part of the package, in the order of ``graph.ROLES``."""
    graph = _graph()
    by_layer: dict[str, list[str]] = {}
    for module in graph.modules():
        by_layer.setdefault(graph.layer(module), []).append(module)
    lines = ["| part | module | what it is |", "|---|---|---|"]
    for part, role in graph.ROLES.items():
        modules = by_layer.get(part, [])
        if not modules:
            continue
        lines.append(f"| **`{part}`** | | {role} |")
        for module in modules:
            short = module.removeprefix(f"{graph.NAME}.") or graph.NAME
            lines.append(f"| | `{short}` | {_summary(graph.modules()[module])} |")
    return "\n".join(lines)


def layers() -> str:
    """Which part may import which, as the architecture test enforces it."""
    graph = _graph()
    lines = ["| part | may import |", "|---|---|"]
    for part in graph.ROLES:
        allowed = sorted(graph.MAY_IMPORT.get(part, ()), key=list(graph.ROLES).index)
        shown = ", ".join(f"`{name}`" for name in allowed) or "nothing of the package"
        lines.append(f"| `{part}` | {shown} |")
    return "\n".join(lines)


GENERATORS: Mapping[str, Callable[[], str]] = {"layout": layout, "layers": layers}
