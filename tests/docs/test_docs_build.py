"""The documentation builds in strict mode: any MkDocs warning (a broken link, a missing nav
page, an unknown generated block, a stale or inconsistent diagram, a page whose committed
generated blocks are out of date) fails CI here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docs_tooling import ROOT

pytest.importorskip(
    "mkdocs", reason="mkdocs is not installed (the docs tools belong in the dev dependencies)"
)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One strict build for the module: (site directory, mkdocs output)."""
    site = tmp_path_factory.mktemp("docs") / "site"
    # DOCS_CHECK=1: fail on a stale committed SVG or page instead of rewriting it.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DOCS_CHECK": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    return site, output


def test_docs_build_strict_without_warnings(build: tuple[Path, str]) -> None:
    site, output = build
    assert "WARNING" not in output, output
    for page in (
        "index",
        "quickstart",
        "connections",
        "iam",
        "lifecycle",
        "retry-semantics",
        "troubleshooting",
        "compatibility",
        "changelog",
        "reference/index",
        "reference/core/retry",
    ):
        assert (site / f"{page}.html").is_file(), page


def test_diagrams_and_generated_blocks_are_in_the_site(build: tuple[Path, str]) -> None:
    site, _ = build
    assert (site / "diagrams" / "lifecycle.svg").is_file()
    assert (site / "diagrams" / "retry-decision.svg").is_file()
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "generated:" not in html and "include:" not in html, page
    retry_page = (site / "retry-semantics.html").read_text(encoding="utf-8")
    assert "no_rule_matched" in retry_page and "Batch queued attempt 2" in retry_page
    assert "Pure semantics core" in (site / "changelog.html").read_text(encoding="utf-8")
    durable = (site / "durable-submission.html").read_text(encoding="utf-8")
    assert "previous job X failed for good because an EXIT rule matched" in durable
    assert "<details" in retry_page and "???" not in retry_page


def test_built_site_loads_nothing_from_the_network(build: tuple[Path, str]) -> None:
    """Every script, stylesheet and image is local: the site renders offline."""
    site, _ = build
    remote = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]+"')
    offenders = {
        str(html.relative_to(site)): remote.findall(html.read_text(encoding="utf-8"))
        for html in site.rglob("*.html")
    }
    assert not {page: found for page, found in offenders.items() if found}
