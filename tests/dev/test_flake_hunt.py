"""``scripts/flake_hunt.py`` finds a test that fails one run in three, by name, with its count.

The flaky test here fails on every second run of the hunt (a counter file decides, not time),
so the expected table is exact: 3 runs, 1 failure for it, 0 for its steady neighbour.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FLAKY = """
from pathlib import Path

COUNTER = Path(__file__).with_name("count")


def test_steady():
    assert True


def test_flaky():
    n = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(n))
    assert n != 2, "the second run fails"
"""


def _hunt(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(FLAKY)
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "flake_hunt.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"FLAKE_HUNT_PYTHON": sys.executable, "PATH": "/usr/bin:/bin", "ABS_TEST_WORKERS": "0"},
    )


def _row(output: str, test: str) -> list[str]:
    rows = [
        line.split()
        for line in output.splitlines()
        if line.split()[:1] and line.split()[0].endswith(test)
    ]
    assert len(rows) == 1, f"one row for {test} expected in:\n{output}"
    return rows[0]


def test_a_test_failing_one_run_in_three_is_named_with_its_count(tmp_path: Path) -> None:
    done = _hunt(tmp_path, "3", "-q", "-p", "no:randomly", str(tmp_path / "test_sample.py"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert _row(done.stdout, "test_flaky")[1:3] == ["3", "1"], done.stdout
    assert _row(done.stdout, "test_steady")[1:3] == ["3", "0"], done.stdout
    assert "run 2: " in done.stdout and "the second run fails" in done.stdout
    assert "2 tests, 3 run(s), 1 failure(s)" in done.stdout


def test_with_a_cpu_hog_the_hog_is_named_and_stopped(tmp_path: Path) -> None:
    keep = tmp_path / "reports"
    done = _hunt(
        tmp_path, "--hog", "--keep", str(keep), "1", "-q", str(tmp_path / "test_sample.py")
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CPU hog: " in done.stdout and "CPU hog: none" not in done.stdout
    assert (keep / "run-1.xml").exists() and (keep / "run-1.log").exists()
    # The hog this hunt started (by its pid: a hunt running this very test has its own hog).
    named = re.search(r"CPU hog: .*\(pid (\d+)\)", done.stdout)
    assert named, done.stdout
    pid = int(named.group(1))
    assert not Path(f"/proc/{pid}").exists(), f"the hog {pid} outlived the hunt"


def test_the_hunt_runs_in_the_workers_the_test_command_uses() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import flake_hunt
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ABS_TEST_WORKERS", "2")
        assert flake_hunt.parallel(["-q"]) == ["-n", "2", "--dist", "loadgroup"]
        assert flake_hunt.parallel(["-n", "4", "-q"]) == []
        env.setenv("ABS_TEST_WORKERS", "0")
        assert flake_hunt.parallel(["-q"]) == []


def test_a_run_that_writes_no_report_counts_as_a_failure(tmp_path: Path) -> None:
    done = _hunt(tmp_path, "1", "-q", str(tmp_path / "no_such_test.py"))
    assert done.returncode == 1
    assert _row(done.stdout, "<run>")[1:3] == ["1", "1"], done.stdout
