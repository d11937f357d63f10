"""The emulator decides as AWS would with its own code, never the provider's.

The emulator stands in for AWS in every provider test. Were it to take a decision (a retry
rule, a glob match, a status reason, a bound) from ``airflow_batch_service.core``, a mistake
there would be made by both sides and every test would pass while AWS behaves otherwise. So
it may import from the core only data shapes and constants, named here one by one; anything
else fails this test. (``tests/contract`` then checks the two readings against AWS's docs.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_batch_service.emulator as emulator_package

EMULATOR = Path(emulator_package.__file__).parent
CORE = "airflow_batch_service.core"

#: What the emulator may import from the core: (module, name) -> why it is not a decision.
ALLOWED: dict[tuple[str, str], str] = {
    (f"{CORE}.status", "ServiceJobStatus"): "botocore's status enum (a data shape)",
    (f"{CORE}.status", "TERMINAL_STATUSES"): "SUCCEEDED and FAILED (constants)",
    (f"{CORE}.training_job", "LOG_GROUP"): "SageMaker's documented log group (a constant)",
    (f"{CORE}.training_job", "BATCH_NAME_PREFIX"): "documented training-job name prefix",
    (f"{CORE}.training_job", "BATCH_NAME_SUFFIX_HEX"): "documented training-job name suffix",
    (f"{CORE}.training_job", "PAYLOAD_NAME_MAX"): "what of the payload's name fits (arithmetic)",
    (f"{CORE}.validation", "Problem"): "a (field, rule) record (a data shape)",
}

#: Packages of the project the emulator must not import at all (it runs without Airflow).
FORBIDDEN_PACKAGES = ("operators", "sensors", "triggers", "hooks", "links", "plugins", "_shared")


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """Every import in the module, at any depth: (line, module, name or None)."""
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.extend((node.lineno, node.module, alias.name) for alias in node.names)
    return out


def _modules() -> list[Path]:
    return sorted(EMULATOR.glob("*.py"))


def test_the_emulator_takes_no_decision_from_the_core() -> None:
    found = []
    for path in _modules():
        for line, module, name in _imports(path):
            if module != CORE and not module.startswith(CORE + "."):
                continue
            if name is None or (module, name) not in ALLOWED:
                found.append(f"{path.name}:{line} imports {module}.{name or '*'}")
    assert not found, (
        "the emulator must decide with its own code (emulator/aws_retry.py, status_reasons.py, "
        "field_rules.py); from the core it may import only the data shapes and constants in "
        "ALLOWED:\n" + "\n".join(found)
    )


def test_every_allowed_name_is_still_used() -> None:
    used = {
        (module, name)
        for path in _modules()
        for _, module, name in _imports(path)
        if name is not None
    }
    assert set(ALLOWED) <= used, f"no longer imported: {sorted(set(ALLOWED) - used)}"


def test_the_emulator_imports_no_airflow_facing_package() -> None:
    found = [
        f"{path.name}:{line} imports {module}"
        for path in _modules()
        for line, module, _ in _imports(path)
        if module.split(".")[0] == "airflow"
        or any(module.startswith(f"airflow_batch_service.{p}") for p in FORBIDDEN_PACKAGES)
    ]
    assert not found, "\n".join(found)


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text(
        "def f():\n"
        "    from airflow_batch_service.core.retry import decide\n"
        "from airflow_batch_service.core import reasons\n"
    )
    found = {(m, n) for _, m, n in _imports(module)}
    assert found == {(f"{CORE}.retry", "decide"), (CORE, "reasons")}  # nested ones too
    assert not found & set(ALLOWED)
