"""Shared test setup. The emulator's fixtures come from its pytest plugin, as users get them."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest_plugins = ["airflow_batch_service.emulator.pytest_plugin"]

#: How ``tests/integration/test_ui.py`` words its skip when the browser or its driver is missing.
BROWSER_SKIP = re.compile(r"\b(chromium|chromedriver)\b[^\n]*\bnot installed", re.IGNORECASE)
#: The line the summary prints then: a skipped browser test is easy to miss among the "s".
BROWSER_SKIP_LINE = (
    "browser tests skipped: install Debian's chromium and chromium-driver "
    "(apt-get install chromium chromium-driver); ABS_REQUIRE_BROWSER=1 makes this a failure"
)


def _skip_reason(report: Any) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say plainly, at the end of the run, that the UI's browser tests did not run and what to
    install: without chromium the suite otherwise passes with a single easy-to-miss skip."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if BROWSER_SKIP.search(_skip_reason(report))
    ]
    if skipped:
        terminalreporter.write_sep(
            "=", f"{BROWSER_SKIP_LINE} ({len(skipped)} skipped)", yellow=True, bold=True
        )
