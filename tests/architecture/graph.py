"""The package's import graph, read from the source (AST, nothing imported).

Every ``import`` of a package module by another, at module level or inside a function, is an
edge; imports under ``if TYPE_CHECKING:`` are not (they never run). The architecture tests
(``test_layers.py``) and ``scripts/import_graph.py`` read the same graph, so what the tests
enforce is what the script shows.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_batch_service"
NAME = PACKAGE.name

#: What an import inside a function must say on its (first) line: why it cannot be at the top.
LAZY_MARK = "# lazy:"


#: Which part of the package may import which (besides itself). The parts: the pure ``core``;
#: the AWS boundary ``hooks``; the private glue ``_shared``; the Airflow shells ``links``,
#: ``triggers``, ``operators``, ``sensors``; the UI ``plugins``; the ``emulator`` (server side,
#: never Airflow); the command line ``cli``; and the public modules at the package root.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "emulator": frozenset({"core"}),
    "hooks": frozenset({"core"}),
    "_shared": frozenset({"core", "hooks"}),
    "links": frozenset({"core"}),
    "triggers": frozenset({"core", "hooks", "_shared"}),
    "operators": frozenset({"core", "hooks", "_shared", "links", "triggers"}),
    "sensors": frozenset({"core", "hooks", "_shared", "links", "triggers"}),
    "plugins": frozenset({"core", "hooks", "_shared", "links"}),
    "decorators": frozenset({"core", "hooks", "_shared", "links", "triggers", "operators"}),
    "runner": frozenset(),
    "cli": frozenset({"core", "hooks", "_shared", "emulator"}),
    "naming": frozenset({"core"}),
    "get_provider_info": frozenset(),
    "(package)": frozenset(),
}

#: What each part of the package is, in the order a job passes through them (drawn in
#: ``docs/architecture.md`` by ``docs/_tooling/layout.py``).
ROLES: dict[str, str] = {
    "(package)": "the package root: the version, nothing imported",
    "naming": "public: Jinja filters for DAG files (job names AWS accepts)",
    "get_provider_info": "public: the provider's metadata for Airflow's provider manager",
    "operators": "Airflow shell: the submit operator and the service-operations operators",
    "sensors": "Airflow shell: the job sensor and the resource sensors",
    "triggers": "Airflow shell: the deferred waits, run by the triggerer",
    "links": "Airflow shell: the console links on a task",
    "decorators": "Airflow shell: @task.batch_service, a function as a training job",
    "runner": "shipped into the training container: calls the function; stdlib only",
    "plugins": "the UI plugin: the task tab and the queues page (api-server, Airflow >= 3.1)",
    "_shared": "private glue the shells share: the wait's drivers, durable submission, ...",
    "hooks": "the AWS boundary: every call to Batch, CloudWatch Logs and SageMaker",
    "core": "the pure rules: statuses, retries, verdicts, the waits as flows; stdlib only",
    "emulator": "the local Batch service-job API, for tests and the demo; never Airflow",
    "cli": "the airflow-batch-service command: the demo and the emulator",
}


@dataclass(frozen=True)
class Import:
    """One import statement's edge to a package module."""

    source: str  # the importing module, dotted
    target: str  # the imported package module, dotted
    line: int
    in_function: bool
    reason: str | None  # the text after ``# lazy:`` on the import's first line, if any


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> path."""
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def layer(module: str) -> str:
    """The top-level part of the package a module belongs to: ``core``, ``hooks``,
    ``_shared``, ... or the module's own name for a module at the package root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(package)"


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package modules an import statement loads (``from pkg import mod`` loads both)."""
    known = modules()
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    else:
        base = _resolve(module, is_package, node)
        names = {base, *(f"{base}.{alias.name}" for alias in node.names)}
    found = set()
    for name in names:
        # ``import a.b.c`` loads a, a.b and a.b.c; the package roots are not edges worth naming
        # unless they are the target itself.
        if name in known and name != module:
            found.add(name)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


@cache
def imports_of(module: str) -> tuple[Import, ...]:
    path = modules()[module]
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, True)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                text = lines[child.lineno - 1]
                reason = text.split(LAZY_MARK, 1)[1].strip() if LAZY_MARK in text else None
                found.extend(
                    Import(module, target, child.lineno, in_function, reason)
                    for target in sorted(_targets(module, is_package, child))
                )
                if in_function and not _targets(module, is_package, child):
                    # A third-party import inside a function counts too: it has a cost to hide.
                    found.append(Import(module, "", child.lineno, True, reason))
                continue
            visit(child, in_function)

    visit(tree, False)
    return tuple(found)


def all_imports() -> list[Import]:
    return [imp for module in modules() for imp in imports_of(module)]


def in_function_statements() -> list[Import]:
    """One entry per import statement inside a function (however many modules it loads)."""
    seen: dict[tuple[str, int], Import] = {}
    for imp in all_imports():
        if imp.in_function:
            seen.setdefault((imp.source, imp.line), imp)
    return list(seen.values())


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in modules()}
    for imp in all_imports():
        if imp.target:
            graph[imp.source].add(imp.target)
    return graph


def cycles(graph: dict[str, set[str]] | None = None) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module (Tarjan)."""
    graph = edges() if graph is None else graph
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found
