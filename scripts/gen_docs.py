#!/usr/bin/env python
"""Write what the docs compute into the committed docs: generated blocks and diagrams.

Usage (from a clone, with the project's venv):
    .venv/bin/python scripts/gen_docs.py           # rewrite what is out of date, list it
    .venv/bin/python scripts/gen_docs.py --check   # write nothing; exit 1 if anything is stale

The blocks between ``<!-- generated:NAME -->`` / ``<!-- include:PATH:NAME -->`` and their end
markers in ``docs/**/*.md`` are computed by ``airflow_batch_service.core`` or copied from the
example DAGs (``docs/_tooling/blocks.py``), so the pages read complete on GitHub and cannot
drift from the code; ``docs/diagrams/*.svg`` are drawn from their ``.toml`` specs
(``docs/_tooling/diagrams.py``). ``scripts/docs.sh`` runs this before building the site, and
``tests/docs/test_docs_generated.py`` fails while a committed page differs from what it writes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
TOOLING = ROOT / "docs" / "_tooling"


def _load(name: str) -> ModuleType:
    """A docs tooling module by path, under the name the docs build gives it."""
    qualified = f"_abs_docs_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, TOOLING / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a page or SVG is stale"
    )
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the generators import airflow_batch_service
    blocks, diagrams = _load("blocks"), _load("diagrams")
    try:
        if args.check:
            out_of_date = [*blocks.stale(), *diagrams.stale()]
            for path in out_of_date:
                print(
                    f"out of date: {path.relative_to(ROOT)}: run {blocks.REGENERATE}",
                    file=sys.stderr,
                )
            return 1 if out_of_date else 0
        for path in [*blocks.write_all(), *diagrams.write_all()]:
            print(f"wrote {path.relative_to(ROOT)}")
    except ValueError as err:
        print(f"gen_docs: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
