"""MkDocs hooks: draw the diagrams and fill generated blocks from the core at build time.

- ``on_pre_build``: regenerate ``docs/diagrams/*.svg`` from their ``.toml`` specs (written only
  when the drawing changed), after checking each spec against the core; a disagreement fails
  the build. With ``DOCS_DIAGRAMS=check`` in the environment (the tests set it) nothing is
  written and an out-of-date SVG fails the build instead, so CI catches a stale commit.
- ``on_config``: pages other people own that may not exist yet (``OPTIONAL_PAGES``) are added to
  the nav when their file exists, so a new ``docs/emulator.md`` is published without anyone
  editing ``mkdocs.yml``, and a missing one is no broken nav entry.
- ``on_page_markdown``: replace each ``<!-- generated:NAME -->`` line with the Markdown that
  ``examples.GENERATORS[NAME]`` computes by calling ``airflow_batch_service.core``. An unknown
  name fails the build. Replace each ``<!-- include:PATH:NAME -->`` line with the code between
  ``# [START NAME]`` and ``# [END NAME]`` in ``PATH`` (relative to the repository root, e.g. an
  example DAG), dedented, as a fenced Python block: the how-to pages show the example DAGs'
  real code, never a copy. A missing file or marker fails the build.

Loaded by path from ``mkdocs.yml``, so the sibling modules are imported by path too.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.airflow_batch_service")
HERE = Path(__file__).resolve().parent
MARKER = re.compile(r"^<!-- generated:([a-z0-9-]+) -->$", re.MULTILINE)
INCLUDE = re.compile(r"^<!-- include:([A-Za-z0-9_./-]+\.py):([A-Za-z0-9_]+) -->$", re.MULTILINE)
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
    diagrams = _load("diagrams")
    try:
        if os.environ.get("DOCS_DIAGRAMS") == "check":
            stale = [path.name for path in diagrams.stale()]
            if stale:
                raise PluginError(
                    f"out-of-date diagram(s) {', '.join(stale)}: run scripts/docs.sh "
                    "(or python docs/_tooling/diagrams.py) and commit the SVGs"
                )
            return
        for path in diagrams.write_all():
            log.info("diagram regenerated: %s", path.name)
    except ValueError as err:
        raise PluginError(str(err)) from err


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    generators = _load("examples").GENERATORS

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in generators:
            raise PluginError(
                f"{page.file.src_path}: unknown generated block {name!r}; "
                f"known: {', '.join(sorted(generators))}"
            )
        return generators[name]().rstrip("\n")

    def include(match: re.Match[str]) -> str:
        path, name = match.group(1), match.group(2)
        try:
            code = extract_example(ROOT / path, name)
        except (OSError, ValueError) as err:
            raise PluginError(f"{page.file.src_path}: {err}") from err
        return f'```python title="{path}"\n{code}\n```'

    return INCLUDE.sub(include, MARKER.sub(replace, markdown))


def extract_example(path: Path, name: str) -> str:
    """The lines between ``# [START name]`` and ``# [END name]`` in ``path``, dedented."""
    import textwrap

    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f"# [START {name}]"]
    ends = [i for i, line in enumerate(lines) if line.strip() == f"# [END {name}]"]
    if len(starts) != 1 or len(ends) != 1 or ends[0] <= starts[0]:
        raise ValueError(f"{path.name}: expected one '# [START {name}]' ... '# [END {name}]' pair")
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]])).strip("\n")
