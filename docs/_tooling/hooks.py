"""MkDocs hooks: draw the diagrams and render the generated blocks from the core at build time.

- ``on_pre_build``: regenerate ``docs/diagrams/*.svg`` from their ``.toml`` specs (written only
  when the drawing changed), after checking each spec against the core; a disagreement fails
  the build. Likewise rewrite the generated blocks committed in the pages (``blocks.py``) that
  are out of date. With ``DOCS_CHECK=1`` (or the older ``DOCS_DIAGRAMS=check``) in the
  environment (the tests and ``scripts/docs.sh`` set it) nothing is written and an out-of-date
  SVG or page fails the build instead, so CI catches a stale commit.
- ``on_config``: pages other people own that may not exist yet (``OPTIONAL_PAGES``) are added to
  the nav when their file exists, so a new ``docs/emulator.md`` is published without anyone
  editing ``mkdocs.yml``, and a missing one is no broken nav entry.
- ``on_page_markdown``: render every block afresh (``blocks.fill``) and drop its marker lines:
  ``<!-- generated:NAME -->`` is what ``examples.GENERATORS[NAME]`` computes by calling
  ``airflow_batch_service.core``; ``<!-- include:PATH:NAME -->`` is the code between
  ``# [START NAME]`` and ``# [END NAME]`` in ``PATH`` (an example DAG), as a fenced Python
  block: the how-to pages show the example DAGs' real code, never a copy. An unknown name, a
  missing file or marker, or a stray end marker fails the build.

Loaded by path from ``mkdocs.yml``, so the sibling modules are imported by path too.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.airflow_batch_service")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _load(name: str) -> ModuleType:
    qualified = f"_abs_docs_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


def checking() -> bool:
    """Check, never write: ``DOCS_CHECK=1`` (or the older ``DOCS_DIAGRAMS=check``)."""
    return (
        os.environ.get("DOCS_CHECK", "").lower() in ("1", "true", "yes")
        or os.environ.get("DOCS_DIAGRAMS") == "check"
    )


#: docs path -> (nav section, title). Added after the section's other pages when the file exists.
OPTIONAL_PAGES: dict[str, tuple[str, str]] = {
    "emulator.md": ("Getting started", "Local emulator"),
}


def _nav_paths(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_nav_paths(v) for v in nav.values())) if nav else set()
    if isinstance(nav, list):
        return set().union(*(_nav_paths(v) for v in nav)) if nav else set()
    return set()


def on_config(config: Any) -> Any:
    nav = config.get("nav")
    if not nav:
        return config
    docs_dir = Path(config["docs_dir"])
    listed = _nav_paths(nav)
    for path, (section, title) in OPTIONAL_PAGES.items():
        if path in listed or not (docs_dir / path).is_file():
            continue
        for entry in nav:
            if isinstance(entry, dict) and section in entry:
                entry[section].append({title: path})
                break
        else:
            nav.append({title: path})
    return config


def on_pre_build(config: Any) -> None:
    diagrams, blocks = _load("diagrams"), _load("blocks")
    try:
        if checking():
            stale = [path.name for path in diagrams.stale()]
            if stale:
                raise PluginError(
                    f"out-of-date diagram(s) {', '.join(stale)}: run {blocks.REGENERATE} "
                    "(scripts/docs.sh runs it) and commit the SVGs"
                )
            pages = [str(path.relative_to(blocks.DOCS)) for path in blocks.stale()]
            if pages:
                raise PluginError(
                    f"generated blocks out of date in {', '.join(pages)}: run "
                    f"{blocks.REGENERATE} (scripts/docs.sh runs it) and commit the pages"
                )
            return
        for path in diagrams.write_all():
            log.info("diagram regenerated: %s", path.name)
        for path in blocks.write_all():
            log.info("generated blocks rewritten: %s", path.relative_to(blocks.DOCS))
    except ValueError as err:
        raise PluginError(str(err)) from err


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    try:
        return _load("blocks").fill(markdown, page.file.src_path, markers=False)
    except ValueError as err:
        raise PluginError(str(err)) from err


def extract_example(path: Path, name: str) -> str:
    """The lines between ``# [START name]`` and ``# [END name]`` in ``path``, dedented."""
    return _load("blocks").extract_example(path, name)
