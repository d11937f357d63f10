"""The emulator package's shape: short modules, no import cycles, and imports inside functions
only where they keep something cheap to import (each says why, ``# lazy: <reason>``)."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_batch_service.emulator as emulator_package

EMULATOR = Path(emulator_package.__file__).parent
PACKAGE = "airflow_batch_service.emulator"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    return {path.stem: path for path in sorted(EMULATOR.glob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _runtime_imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Imports that run (not under ``if TYPE_CHECKING``), each with whether it sits in a
    function."""
    out: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                out.append((child, in_function))
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inner)

    visit(tree, False)
    return out


def _emulator_targets(node: ast.Import | ast.ImportFrom, modules: set[str]) -> set[str]:
    """The emulator modules an import loads (``from ..emulator import x`` loads module x)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.module == PACKAGE:
        names = [f"{PACKAGE}.{alias.name}" for alias in node.names]
    else:
        names = [node.module or ""]
    out = set()
    for name in names:
        if name.startswith(PACKAGE + "."):
            stem = name[len(PACKAGE) + 1 :].split(".")[0]
            if stem in modules:
                out.add(stem)
    return out


def test_no_module_is_over_400_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these by job: {long}"


def test_imports_inside_functions_say_why() -> None:
    missing = []
    for name, path in _modules().items():
        lines = path.read_text().splitlines()
        for node, in_function in _runtime_imports(ast.parse(path.read_text())):
            if in_function and "# lazy:" not in lines[node.lineno - 1]:
                missing.append(f"{name}.py:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not missing, (
        "move these to module level, or say why they must wait (# lazy: <reason>):\n"
        + "\n".join(missing)
    )


def test_no_import_cycles_inside_the_emulator() -> None:
    modules = _modules()
    graph = {
        name: set().union(
            *(
                _emulator_targets(node, set(modules))
                for node, _ in _runtime_imports(ast.parse(path.read_text()))
            )
        )
        - {name, "__init__"}
        for name, path in modules.items()
    }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                walk(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert not cycles, "\n".join(cycles)
