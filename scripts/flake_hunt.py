"""Run chosen tests N times, optionally beside a CPU hog, and print how each test fared.

A flaky test is one whose outcome depends on timing. One green run proves little; this runs
the same selection N times in a row (each run a fresh pytest process, as CI would run it) and
reads every run's JUnit XML, so a test that failed once in N shows up by name. The runs use the
workers ``scripts/test.sh`` uses (``ABS_TEST_WORKERS``, default 2; ``-n`` in the arguments wins). ``--hog`` starts
a busy loop on one core for the whole hunt (Debian's ``stress-ng --cpu 1`` when installed, else
a Python busy loop), the way a loaded CI machine starves the tests of CPU.

    scripts/flake_hunt.sh [--hog] [--top K] [--all] [--keep DIR] N [pytest args...]

Prints one table: test, runs, failures, slowest duration, the tests that failed at least once
first, then the K slowest (``--all``: every test). Exits 1 when any run of any test failed.
A run that dies before writing its report (a crash, a collection error) counts as a failure of
the pseudo-test ``<run>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The busy loop ends by itself after this long, should the hunt be killed without cleanup.
HOG_MAX_SECONDS = 4 * 3600


@dataclass
class Record:
    """One test across the runs."""

    runs: int = 0
    failures: int = 0
    slowest: float = 0.0
    messages: list[str] = field(default_factory=list)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/flake_hunt.sh", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--hog", action="store_true", help="keep one core busy during the hunt")
    parser.add_argument("--top", type=int, default=20, help="how many of the slowest to print")
    parser.add_argument("--all", action="store_true", help="print every test")
    parser.add_argument("--keep", type=Path, help="keep each run's JUnit XML and log here")
    parser.add_argument("runs", type=int, help="how many times to run the selection")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("N must be at least 1")
    return args


@contextmanager
def cpu_hog(enabled: bool) -> Iterator[str]:
    """A bounded busy loop on one core for as long as the block runs; yields what it is."""
    if not enabled:
        yield "none"
        return
    stress = shutil.which("stress-ng")
    if stress:
        argv = [stress, "--cpu", "1", "--timeout", f"{HOG_MAX_SECONDS}s", "--quiet"]
        what = "stress-ng --cpu 1"
    else:
        loop = f"import time\nend = time.monotonic() + {HOG_MAX_SECONDS}\nwhile time.monotonic() < end: pass"
        argv = [sys.executable, "-c", loop]
        what = "python busy loop on one core"
    hog = subprocess.Popen(argv, start_new_session=True)
    try:
        yield f"{what} (pid {hog.pid})"
    finally:
        os.killpg(hog.pid, signal.SIGTERM)
        try:
            hog.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()


def read_report(path: Path) -> Iterator[tuple[str, bool, float, str]]:
    """(test id, failed, seconds, first line of the failure) for each test case of a run."""
    for case in ET.parse(path).getroot().iter("testcase"):
        module = (case.get("classname") or "").replace(".", "/")
        name = f"{module}.py::{case.get('name')}" if module else str(case.get("name"))
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        message = "" if bad is None else (bad.get("message") or "").splitlines()[:1]
        yield name, bad is not None, float(case.get("time") or 0.0), "".join(message)


def parallel(pytest_args: list[str]) -> list[str]:
    """The workers ``scripts/test.sh`` runs with (``ABS_TEST_WORKERS``, default 2), unless the
    arguments choose their own (``-n``) or the variable is 0: a hunt meets the suite as CI
    runs it."""
    workers = os.environ.get("ABS_TEST_WORKERS", "2")
    if workers == "0" or any(
        a == "-n" or a.startswith(("-n=", "--numprocesses")) for a in pytest_args
    ):
        return []
    return ["-n", workers, "--dist", "loadgroup"]


def hunt(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Record], list[float]]:
    records: dict[str, Record] = {}
    walls: list[float] = []
    env = {**os.environ, "AIRFLOW__CORE__UNIT_TEST_MODE": "True"}
    python = os.environ.get("FLAKE_HUNT_PYTHON", str(ROOT / ".venv" / "bin" / "python"))
    for run in range(1, args.runs + 1):
        report, log = workdir / f"run-{run}.xml", workdir / f"run-{run}.log"
        argv = [python, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}"]
        argv += parallel(args.pytest_args)
        started = time.monotonic()
        with log.open("w") as out:
            rc = subprocess.run(
                [*argv, *args.pytest_args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            ).returncode
        walls.append(time.monotonic() - started)
        failed_here = 0
        if report.exists():
            for name, failed, seconds, message in read_report(report):
                record = records.setdefault(name, Record())
                record.runs += 1
                record.slowest = max(record.slowest, seconds)
                if failed:
                    record.failures += 1
                    failed_here += 1
                    record.messages.append(f"run {run}: {message}")
        if rc not in (0, 1) or not report.exists():  # 1 = some tests failed: counted above
            record = records.setdefault("<run>", Record())
            record.runs += 1
            record.failures += 1
            record.messages.append(f"run {run}: pytest exited {rc}; see {log}")
        print(
            f"run {run}/{args.runs}: pytest exited {rc}, {failed_here} failed, {walls[-1]:.0f} s",
            flush=True,
        )
    return records, walls


def table(records: dict[str, Record], top: int, everything: bool) -> list[str]:
    failing = sorted(
        (n for n, r in records.items() if r.failures), key=lambda n: -records[n].failures
    )
    rest = sorted((n for n in records if n not in failing), key=lambda n: -records[n].slowest)
    chosen = failing + (rest if everything else rest[:top])
    width = max([len("test"), *(len(n) for n in chosen)])
    lines = [
        f"{'test':{width}s} {'runs':>5s} {'failures':>8s} {'slowest s':>10s}",
        f"{'-' * width} {'-' * 5} {'-' * 8} {'-' * 10}",
    ]
    for name in chosen:
        r = records[name]
        lines.append(f"{name:{width}s} {r.runs:5d} {r.failures:8d} {r.slowest:10.2f}")
        lines.extend(f"    {m}" for m in r.messages[:3])
    return lines


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="flake-hunt-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with cpu_hog(args.hog) as hog:
            print(
                f"flake hunt: {args.runs} run(s) of pytest {' '.join(args.pytest_args)}; "
                f"CPU hog: {hog}; {os.cpu_count()} CPUs",
                flush=True,
            )
            records, walls = hunt(args, workdir)
        print()
        print("\n".join(table(records, args.top, args.all)))
        failures = sum(r.failures for r in records.values())
        tests = sum(1 for name in records if name != "<run>")
        print(
            f"\n{tests} tests, {args.runs} run(s), {failures} failure(s); run wall times: "
            + ", ".join(f"{w:.0f} s" for w in walls)
            + (f"; reports in {workdir}" if args.keep else "")
        )
        return 1 if failures else 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
