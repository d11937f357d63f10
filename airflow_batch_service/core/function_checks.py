"""What ``@task.batch_service`` refuses, before any AWS call: functions that cannot travel.

The container gets the function's *source* (as ``@task.docker`` sends it), not the worker's
memory. So a function works there only if its source alone defines it:

- a lambda has no source of its own to send (it is an expression inside another line);
- a function that reads a variable of an enclosing function (a closure) would find it
  undefined in the container;
- a function that reads a module-level name of the DAG file (an import at the top of the DAG
  file, a constant) would raise ``NameError`` there, hours later, after a GPU was found. Those
  are found here, from the compiled code, and named: import inside the function instead, or
  pass the value as an argument;
- a parameter named after an Airflow context key (``ti``, ``ds``...) would get the context in
  a ``@task``, but the context cannot travel: pass the values needed as arguments.

And the job's ``Environment`` is readable by anyone allowed ``DescribeTrainingJob``, so keys
that look like secrets are refused, with where to put them instead.

Pure: standard library only.
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import re
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airflow_batch_service.core.validation import Problem

_BUILTINS = frozenset(dir(builtins))
_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
#: Environment keys that look like they carry a secret.
_SECRET = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_KEY)", re.IGNORECASE
)
SECRETS_HELP = (
    "the job's Environment is readable by anyone allowed sagemaker:DescribeTrainingJob: "
    "read secrets inside the function instead (AWS Secrets Manager or SSM Parameter Store, "
    "with the job's role_arn), never pass them as environment variables"
)


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def global_names(function: Callable[..., Any]) -> list[str]:
    """Names the function (and functions, classes and comprehensions inside it) read from its
    module's globals, except Python's builtins and the function's own name (recursion works:
    the runner defines it under that name)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return []
    own = getattr(function, "__name__", "")
    names: list[str] = []
    for each in _code_objects(code):
        for instruction in dis.get_instructions(each):
            if instruction.opname not in _GLOBAL_LOADS:
                continue
            name = str(instruction.argval)
            if name in _BUILTINS or name == own or name in names:
                continue
            names.append(name)
    return names


def function_problems(
    function: Callable[..., Any], *, context_keys: Iterable[str] = ()
) -> list[Problem]:
    """Why ``function`` cannot run from its source alone in a container (empty: it can)."""
    name = getattr(function, "__name__", repr(function))
    if not isinstance(function, types.FunctionType):
        return [
            Problem(
                "python_callable",
                f"{name!r} is not a plain Python function: decorate a function defined with 'def'",
            )
        ]
    if name == "<lambda>":
        return [
            Problem(
                "python_callable",
                "a lambda cannot be sent to the container (it has no source of its own): "
                "define the function with 'def'",
            )
        ]
    problems: list[Problem] = []
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        problems.append(
            Problem("python_callable", f"{name}() is async: the runner calls plain functions")
        )
    if function.__code__.co_freevars:
        names = ", ".join(function.__code__.co_freevars)
        problems.append(
            Problem(
                "python_callable",
                f"{name}() uses variables of an enclosing function ({names}), which do not "
                "exist in the container: define the function at module level and pass them as "
                "arguments",
            )
        )
    missing = global_names(function)
    if missing:
        problems.append(
            Problem(
                "python_callable",
                f"{name}() reads module-level names of the DAG file ({', '.join(missing)}), "
                "which do not exist in the container: only the function's own source travels. "
                "Import modules inside the function and pass values as arguments",
            )
        )
    context = sorted(set(function.__code__.co_varnames[: _arg_count(function)]) & set(context_keys))
    if context:
        problems.append(
            Problem(
                "python_callable",
                f"{name}() takes Airflow context keys ({', '.join(context)}) as parameters; the "
                "context cannot travel to the container: pass the values needed as arguments "
                "(for example run_id='{{ run_id }}')",
            )
        )
    return problems


def _arg_count(function: types.FunctionType) -> int:
    code = function.__code__
    count = code.co_argcount + code.co_kwonlyargcount
    return count + bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)


def environment_problems(environment: Mapping[str, Any] | None, field: str) -> list[Problem]:
    """Environment keys that look like secrets, and values that are not strings."""
    problems: list[Problem] = []
    for key, value in (environment or {}).items():
        if _SECRET.search(str(key)):
            problems.append(Problem(f"{field}.{key}", f"looks like a secret: {SECRETS_HELP}"))
        elif not isinstance(value, str):
            problems.append(
                Problem(f"{field}.{key}", f"must be a string, got {type(value).__name__}")
            )
    return problems


def function_source(function: Callable[..., Any]) -> str:
    """The function's source as the container gets it: dedented, without the decorator that
    made it a task (``@task.batch_service(...)``, however spelled, over as many lines as it
    takes). Raises ``OSError`` when Python has no source for it."""
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise OSError(f"no function definition in the source of {function!r}")
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    for decorator in node.decorator_list:
        text = ast.get_source_segment(source, decorator) or ""
        if "batch_service" in text:
            end = decorator.end_lineno or decorator.lineno
            drop.update(range(decorator.lineno - 1, end))
    return "".join(line for index, line in enumerate(lines) if index not in drop)
