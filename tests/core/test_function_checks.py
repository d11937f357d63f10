"""What ``@task.batch_service`` refuses before any AWS call, and the source that travels."""

from __future__ import annotations

import math

from airflow_batch_service.core.function_checks import (
    environment_problems,
    function_problems,
    function_source,
    global_names,
)

CONSTANT = 3


def self_contained(x: float, *, scale: int = 2) -> float:
    import math

    def helper(v: float) -> float:
        return math.sqrt(v) * scale

    return max(helper(x), len([i for i in range(3)]))


def reads_globals(x: float) -> float:
    return math.sqrt(x) * CONSTANT


def recursive(n: int) -> int:
    return 1 if n <= 1 else n * recursive(n - 1)


def takes_context(x: int, ti=None, run_id=None) -> int:
    return x


async def asynchronous(x: int) -> int:
    return x


def _rules(function, **kwargs) -> list[str]:
    return [p.rule for p in function_problems(function, **kwargs)]


def test_a_self_contained_function_passes() -> None:
    assert function_problems(self_contained) == []
    assert function_problems(recursive) == []
    assert global_names(recursive) == []


def test_module_level_names_are_named() -> None:
    assert global_names(reads_globals) == ["math", "CONSTANT"]
    (rule,) = _rules(reads_globals)
    assert "reads module-level names of the DAG file (math, CONSTANT)" in rule
    assert "Import modules inside the function" in rule


def test_lambdas_and_closures_are_refused() -> None:
    (rule,) = _rules(lambda x: x)
    assert "a lambda cannot be sent" in rule

    y = 3

    def closure(x: int) -> int:
        return x + y

    (rule,) = _rules(closure)
    assert "variables of an enclosing function (y)" in rule


def test_context_keys_and_async_and_non_functions_are_refused() -> None:
    (rule,) = _rules(takes_context, context_keys={"ti", "run_id", "ds"})
    assert "Airflow context keys (run_id, ti)" in rule
    (rule,) = _rules(asynchronous)
    assert "is async" in rule
    (rule,) = _rules(len)
    assert "not a plain Python function" in rule


def test_secret_looking_environment_keys_are_refused() -> None:
    problems = environment_problems(
        {"MODE": "fast", "DB_PASSWORD": "x", "HF_TOKEN": "y", "EPOCHS": 3}, "environment"
    )
    fields = {p.field: p.rule for p in problems}
    assert set(fields) == {"environment.DB_PASSWORD", "environment.HF_TOKEN", "environment.EPOCHS"}
    assert "Secrets Manager" in fields["environment.HF_TOKEN"]
    assert "must be a string" in fields["environment.EPOCHS"]


def test_the_source_loses_the_task_decorator_however_spelled(tmp_path) -> None:
    namespace: dict = {}
    source = """
import types
task = types.SimpleNamespace(batch_service=lambda **kw: (lambda f: f))
def other(f):
    return f

@other
@task.batch_service(
    job_queue="q",
    image_uri="img",
)
def train(lr):
    # a comment stays
    return lr * 2
"""
    path = tmp_path / "dag_file.py"
    path.write_text(source)
    exec(compile(source, str(path), "exec"), namespace)
    text = function_source(namespace["train"])
    assert "batch_service" not in text and "job_queue" not in text
    assert text.startswith("@other\ndef train(lr):")
    assert "# a comment stays" in text
