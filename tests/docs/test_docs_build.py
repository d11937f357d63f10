"""The documentation builds in strict mode: any MkDocs warning (a broken link, a missing nav
page, a docstring griffe cannot parse, a stale diagram) fails CI here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from docs_tooling import ROOT

pytest.importorskip(
    "mkdocs", reason="mkdocs is not installed (the docs tools belong in the dev dependencies)"
)


def test_docs_build_strict_without_warnings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DOCS_DIAGRAMS": "check"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "WARNING" not in output, output
    for page in ("index", "quickstart", "connections", "iam", "lifecycle", "retry-semantics",
                 "troubleshooting", "compatibility", "changelog", "reference/core/retry"):
        assert (site / f"{page}.html").is_file(), page
    # Diagrams are shipped, and the generated blocks were filled in.
    assert (site / "diagrams" / "lifecycle.svg").is_file()
    assert (site / "diagrams" / "retry-decision.svg").is_file()
    retry_page = (site / "retry-semantics.html").read_text(encoding="utf-8")
    assert "generated:" not in retry_page
    assert "no_rule_matched" in retry_page


def test_built_site_loads_nothing_from_the_network(tmp_path: Path) -> None:
    """Every script and stylesheet is local: the site renders offline."""
    import re

    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DOCS_DIAGRAMS": "check"}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(site)],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=240,
    )
    remote = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]+"')
    offenders = {
        str(html.relative_to(site)): remote.findall(html.read_text(encoding="utf-8"))
        for html in site.rglob("*.html")
    }
    assert not {k: v for k, v in offenders.items() if v}
