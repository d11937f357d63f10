"""What the README's Install and Testing sections promise: an install that works from a clone
(the package is not on an index), constraints files that exist, the browser packages the UI
tests need, and the line the suite prints when those tests were skipped."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from docs_tooling import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
ROOT_CONFTEST = ROOT / "tests" / "conftest.py"


def browser_skip_line() -> str:
    """``BROWSER_SKIP_LINE`` of the root conftest, loaded by path under a name of its own."""
    spec = importlib.util.spec_from_file_location("_abs_root_conftest", ROOT_CONFTEST)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BROWSER_SKIP_LINE


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def commands(text: str) -> list[str]:
    """The shell lines of the section's bash blocks, without comments."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]


def test_install_is_from_a_clone_or_a_built_wheel_with_constraints_that_exist() -> None:
    install = section("Install")
    lines = commands(install)
    # Not on an index yet: no `pip install airflow-batch-service[...]` by name.
    assert not [
        line for line in lines if re.search(r"pip install [\"']?airflow-batch-service", line)
    ]
    assert "pip install -c constraints/airflow-3.3.txt ." in lines
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wheel = f"dist/{project['name'].replace('-', '_')}-{project['version']}-py3-none-any.whl"
    assert any(wheel in line for line in lines), f"the README's wheel is not {wheel}"
    assert any(line.startswith("pip wheel") or "python -m build" in line for line in lines)
    named = set(re.findall(r"constraints/[\w.-]+\.txt", install))
    assert named and all((ROOT / path).is_file() for path in named), named
    assert {p.name for p in (ROOT / "constraints").glob("*.txt")} <= {
        *(Path(p).name for p in named),
        *re.findall(r"`(airflow-[\d.]+\.txt)`", install),
    }


def test_testing_names_the_time_the_browser_packages_and_the_skip_line() -> None:
    testing = " ".join(section("Testing").split())
    assert "sudo apt-get install chromium chromium-driver" in testing
    assert "minutes" in testing and "tests/integration/test_ui.py" in testing
    assert browser_skip_line() in testing


def test_the_run_says_when_browser_tests_were_skipped(tmp_path: Path) -> None:
    """The root conftest's summary line, in a pytest run of its own: shown for a skip worded as
    ``tests/integration/test_ui.py`` words it, not for other skips."""
    ui = (ROOT / "tests" / "integration" / "test_ui.py").read_text(encoding="utf-8")
    assert 'pytest.skip(f"{missing} is not installed")' in ui
    assert 'missing = "chromium" if not chromium else "chromedriver"' in ui
    (tmp_path / "conftest.py").write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('abs_root', {str(ROOT_CONFTEST)!r})\n"
        "root = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(root)\n"
        "pytest_terminal_summary = root.pytest_terminal_summary\n",
        encoding="utf-8",
    )
    (tmp_path / "test_browser.py").write_text(
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def browser():\n"
        "    missing = 'chromedriver'\n"
        "    pytest.skip(f'{missing} is not installed')\n\n"
        "def test_ui(browser):\n"
        "    pass\n\n"
        "def test_other():\n"
        "    pytest.skip('external views need Airflow >= 3.1')\n",
        encoding="utf-8",
    )

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    line = browser_skip_line()
    shown = run()
    assert f"{line} (1 skipped)" in shown, shown
    assert line not in run("-k", "test_other")
