"""The layout's rules, checked on the source so the next contributor hears at once when a
change breaks one (``docs/architecture.md`` draws the same table):

- each part of the package imports only the parts below it (``graph.MAY_IMPORT``);
- no import cycle between modules, imports inside functions counted;
- an import inside a function says why it is not at the top (``# lazy: <reason>``), and there
  are few of them (:data:`MAX_IN_FUNCTION_IMPORTS`);
- modules stay short: over :data:`MAX_LINES` lines only with a reason in the docstring, and
  at most :data:`MAX_LONG_MODULES` of them.

The core's purity and the AWS boundary are checked in ``tests/core/test_architecture.py``.
"""

from __future__ import annotations

import ast
import re

from tests.architecture import graph
from tests.architecture.graph import Import

MAX_IN_FUNCTION_IMPORTS = 60
MAX_LINES = 400
MAX_LONG_MODULES = 2
#: What a long module's docstring says to explain its length.
LONG_MARK = "Longer than 400 lines because"


def violations(imports: list[Import]) -> list[str]:
    """Every import that goes where its layer may not."""
    found = []
    for imp in imports:
        if not imp.target:
            continue
        source, target = graph.layer(imp.source), graph.layer(imp.target)
        if source == target:
            continue
        if target not in graph.MAY_IMPORT.get(source, frozenset()):
            found.append(f"{imp.source}:{imp.line} imports {imp.target} ({source} -> {target})")
    return found


def test_every_part_of_the_package_has_a_rule() -> None:
    assert {graph.layer(module) for module in graph.modules()} <= set(graph.MAY_IMPORT)


def test_each_part_imports_only_the_parts_below_it() -> None:
    found = violations(graph.all_imports())
    assert not found, (
        "an import crosses the layers (tests/architecture/graph.py MAY_IMPORT, drawn in "
        "docs/architecture.md):\n" + "\n".join(found)
    )


def test_the_layer_check_flags_a_violation() -> None:
    """The rule bites: a core module importing a hook, a hook importing a shell."""
    bad = [
        Import("airflow_batch_service.core.wait", "airflow_batch_service.hooks.x", 3, False, None),
        Import("airflow_batch_service.hooks.x", "airflow_batch_service.operators.y", 5, True, "r"),
        Import("airflow_batch_service.operators.y", "airflow_batch_service.core.z", 7, False, None),
    ]
    assert violations(bad) == [
        "airflow_batch_service.core.wait:3 imports airflow_batch_service.hooks.x (core -> hooks)",
        "airflow_batch_service.hooks.x:5 imports airflow_batch_service.operators.y "
        "(hooks -> operators)",
    ]


def test_no_import_cycles() -> None:
    found = graph.cycles()
    assert not found, "import cycles (in-function imports counted):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in found
    )


def test_the_cycle_check_sees_a_cycle_through_a_function_level_import() -> None:
    assert graph.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert graph.cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_say_why_and_are_few() -> None:
    statements = graph.in_function_statements()
    silent = [f"{imp.source}:{imp.line}" for imp in statements if not imp.reason]
    assert not silent, (
        f"an import inside a function needs `{graph.LAZY_MARK} <why not at the top>` on its "
        "line (import cost at DAG parse, an optional dependency...), or belongs at the top:\n"
        + "\n".join(silent)
    )
    assert len(statements) <= MAX_IN_FUNCTION_IMPORTS, (
        f"{len(statements)} imports inside functions, more than {MAX_IN_FUNCTION_IMPORTS}"
    )


def test_modules_are_short_or_say_why() -> None:
    long = {}
    for module, path in graph.modules().items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MAX_LINES:
            long[module] = ast.get_docstring(ast.parse(source)) or ""
    unexplained = [module for module, doc in long.items() if LONG_MARK not in doc]
    assert not unexplained, (
        f"modules over {MAX_LINES} lines: split them by job, or say "
        f"'{LONG_MARK} ...' in the docstring: {unexplained}"
    )
    assert len(long) <= MAX_LONG_MODULES, f"too many long modules: {sorted(long)}"


#: Where tracker numbers must not appear: what a reader of the code and the docs sees.
SCANNED = ("airflow_batch_service", "tests", "docs", "scripts", "benchmarks", "example_dags")
_TRACKER = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)


def test_no_tracker_numbers() -> None:
    """Code and docs speak to a reader who has no tracker: no tracker numbers anywhere."""
    found = []
    for folder in SCANNED:
        for path in sorted((graph.ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".md", ".sh", ".toml") or "__pycache__" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _TRACKER.search(line):
                    found.append(f"{path.relative_to(graph.ROOT)}:{number}: {line.strip()}")
    assert not found, "tracker numbers mean nothing to a reader:\n" + "\n".join(found)
