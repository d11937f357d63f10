"""The layout's two promises, checked on the source (AST, no import of the modules):

- the core (``airflow_batch_service/core/``) imports nothing but the standard library and
  itself, at module level and inside functions alike;
- no module outside the hook (``hooks/``) calls a boto3 client method: AWS is reached only
  through ``BatchServiceJobHook``. The emulator is the server side and is left out (its own
  test checks it never imports Airflow).

A boto3 client method is a botocore operation's Python name (``xform_name``) of the services
the provider talks to (``batch``, ``logs``, ``sagemaker``), or ``get_paginator`` /
``get_waiter``. A call ``<expr>.<name>(...)`` is allowed when the receiver is a hook (its
expression ends in ``hook``: ``self.hook.x(...)``, ``hook.x(...)``, ``self._hook().x(...)``),
a module bound by an import or a compiled pattern (``re.search(...)`` is not SageMaker's
``Search``).
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_batch_service"
CORE = PACKAGE / "core"
SERVICES = ("batch", "logs", "sagemaker")
#: Where boto3 clients may be called: the AWS boundary, and the server side.
ALLOWED_DIRS = ("hooks", "emulator")


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def _modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# ------------------------------------------------------------------------------ the core


def _imported(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """Every (line, module name) ``tree`` imports, anywhere in it; relative imports resolved
    against ``module`` (the dotted name of the file)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _core_allows(name: str) -> bool:
    top = name.split(".")[0]
    return (
        name == "airflow_batch_service.core"
        or name.startswith("airflow_batch_service.core.")
        or top in sys.stdlib_module_names
        or top == "__future__"
    )


@pytest.mark.parametrize("path", _modules(CORE), ids=_relative)
def test_the_core_imports_only_the_standard_library_and_itself(path: Path) -> None:
    module = _relative(path).removesuffix(".py").replace("/", ".")
    outside = [
        f"{_relative(path)}:{line}: import {name}"
        for line, name in _imported(_tree(path), module)
        if not _core_allows(name)
    ]
    assert not outside, "the core must stay pure:\n" + "\n".join(outside)


def test_the_core_scan_sees_function_level_and_relative_imports() -> None:
    tree = ast.parse(
        "def f():\n    import boto3\n    from airflow.sdk import DAG\n"
        "from . import verdict\nfrom .. import waiting\n"
    )
    found = sorted(name for _, name in _imported(tree, "airflow_batch_service.core.x"))
    assert found == ["airflow.sdk", "airflow_batch_service", "airflow_batch_service.core", "boto3"]
    assert [name for name in found if not _core_allows(name)] == [
        "airflow.sdk",
        "airflow_batch_service",
        "boto3",
    ]


# ------------------------------------------------------------------------------ the AWS boundary


#: Client methods that are no operation but reach AWS all the same.
CLIENT_HELPERS = frozenset({"get_paginator", "get_waiter"})


@cache
def client_methods() -> frozenset[str]:
    """The Python name of every operation of the services the provider calls, and the
    client's paginator and waiter factories."""
    import botocore
    import botocore.session

    session = botocore.session.get_session()
    operations = {
        botocore.xform_name(operation)
        for service in SERVICES
        for operation in session.get_service_model(service).operation_names
    }
    return frozenset(operations | CLIENT_HELPERS)


def _dotted(node: ast.expr) -> str:
    """A receiver as text, enough to tell a hook: ``self.hook``, ``hook``, ``self._hook()``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_dotted(node.func)}()"
    if isinstance(node, ast.Await):
        return _dotted(node.value)
    return type(node).__name__


def _is_hook(receiver: str) -> bool:
    return receiver.removesuffix("()").lower().endswith("hook")


def _not_clients(tree: ast.Module) -> set[str]:
    """Names that are certainly no client: imported modules (``import re``) and compiled
    patterns (``_LINE = re.compile(...)``, whose ``search`` is not SageMaker's)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _dotted(node.value.func) == "re.compile"
        ):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def client_calls(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, ``receiver.method``) of every call of a boto3 client method off a hook."""
    methods = client_methods()
    not_clients = _not_clients(tree)
    calls = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in methods:
            continue
        receiver = _dotted(node.func.value)
        if _is_hook(receiver) or receiver in not_clients:
            continue
        calls.append((node.lineno, f"{receiver}.{node.func.attr}"))
    return sorted(calls)


def _outside_the_hook() -> list[Path]:
    return [
        path for path in _modules(PACKAGE) if path.relative_to(PACKAGE).parts[0] not in ALLOWED_DIRS
    ]


@pytest.mark.parametrize("path", _outside_the_hook(), ids=_relative)
def test_no_module_outside_the_hook_calls_a_boto3_client(path: Path) -> None:
    calls = [f"{_relative(path)}:{line}: {call}(...)" for line, call in client_calls(_tree(path))]
    assert not calls, (
        "AWS is reached only through BatchServiceJobHook (hooks/batch_service.py); "
        "these call a boto3 client directly:\n" + "\n".join(calls)
    )


def test_the_client_call_scan_tells_clients_from_hooks_and_modules() -> None:
    assert {"describe_service_job", "get_log_events", "describe_training_job"} <= client_methods()
    tree = ast.parse(
        "import re\n"
        "_LINE = re.compile('x')\n"
        "def f(self, hook, client):\n"
        "    self.hook.describe_service_job(job_id='j')\n"
        "    hook.list_service_jobs()\n"
        "    self._hook().terminate_service_job(job_id='j', reason='r')\n"
        "    re.search('a', 'b')\n"
        "    _LINE.search('b')\n"
        "    client.describe_service_job(jobId='j')\n"
        "    self.hook.conn.describe_service_job(jobId='j')\n"
        "    boto3.client('logs').get_log_events(logGroupName='g')\n"
        "    client.get_paginator('list_service_jobs')\n"
    )
    assert client_calls(tree) == [
        (9, "client.describe_service_job"),
        (10, "self.hook.conn.describe_service_job"),
        (11, "boto3.client().get_log_events"),
        (12, "client.get_paginator"),
    ]
