"""``docs/architecture.md`` names modules and their functions; each name must exist, so the
page cannot describe a layout the code no longer has (its tables are generated; this checks
the prose)."""

from __future__ import annotations

import ast
import re

from tests.architecture import graph

PAGE = graph.ROOT / "docs" / "architecture.md"
_NAME = re.compile(
    r"`((?:core|_shared|hooks|plugins|emulator|operators|sensors|triggers|links|cli)"
    r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`"
)


def _defined(module: str) -> set[str]:
    tree = ast.parse(graph.modules()[module].read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def resolves(name: str) -> bool:
    """A dotted name of the page: a module of the package, or a name defined in one."""
    full = f"{graph.NAME}.{name}"
    if full in graph.modules():
        return True
    module, _, attr = full.rpartition(".")
    return module in graph.modules() and attr in _defined(module)


def test_every_module_the_page_names_exists() -> None:
    names = sorted(set(_NAME.findall(PAGE.read_text(encoding="utf-8"))))
    assert len(names) > 20, names
    missing = [name for name in names if not resolves(name)]
    assert not missing, f"docs/architecture.md names what the code does not have: {missing}"


def test_the_name_check_bites() -> None:
    assert resolves("core.wait.wait_flow")
    assert not resolves("core.wait.no_such_flow")
    assert not resolves("_shared.no_such_module")
