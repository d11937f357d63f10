"""Names a package offers without importing them: PEP 562's module ``__getattr__``, written
once for the shell packages (``hooks``, ``operators``, ``sensors``, ``triggers``), whose
``__init__`` must stay cheap because a DAG file importing one class loads its package first."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``where`` is imported from the
    module ``where[name]`` (relative to ``package``) when first asked for."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return __getattr__
