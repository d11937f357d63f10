"""Load the docs build's helper modules (docs/_tooling/*.py) by path, as mkdocs does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
TOOLING = ROOT / "docs" / "_tooling"


def load(name: str) -> ModuleType:
    qualified = f"_abs_docs_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, TOOLING / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module
