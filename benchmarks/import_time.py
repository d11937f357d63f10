"""Import cost of this provider's operator + sensor vs the amazon provider's Batch ones.

A DAG file imports operators at every parse, on every scheduler loop and worker start, so
``import airflow_batch_service.operators.batch_service`` must cost no more than the amazon
provider's ``operators.batch``. Each measurement runs in a fresh interpreter (nothing cached in
``sys.modules``); both sides first import ``airflow.sdk`` and the amazon base classes that
both build on, so the figures compare what each side adds. Runs alternate A/B to share any
drift in machine load; the median of many runs is reported.

Usage: ``.venv/bin/python benchmarks/import_time.py [--runs 30]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

OURS = (
    "airflow_batch_service.operators.batch_service",
    "airflow_batch_service.sensors.batch_service",
)
AMAZON = (
    "airflow.providers.amazon.aws.operators.batch",
    "airflow.providers.amazon.aws.sensors.batch",
)
#: Imported before the clock starts on both sides: the common ground (Airflow, the task SDK,
#: AwsBaseHook/AwsBaseOperator/AwsBaseSensor and boto3 they pull in).
BASELINE = (
    "airflow.sdk",
    "airflow.providers.amazon.aws.operators.base_aws",
    "airflow.providers.amazon.aws.sensors.base_aws",
)

_PROBE = """
import importlib, sys, time
for name in {baseline!r}:
    importlib.import_module(name)
start = time.perf_counter()
for name in {modules!r}:
    importlib.import_module(name)
print(time.perf_counter() - start)
"""


#: Both sides import from cached bytecode, as an installed package does: with
#: ``PYTHONDONTWRITEBYTECODE`` set (some shells set it) our sources, installed editable, would
#: be compiled on every run while the amazon provider's pip-installed ``.pyc`` files are used,
#: and the figure would measure the compiler, not the import.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(modules: tuple[str, ...], baseline: tuple[str, ...] = BASELINE) -> float:
    code = _PROBE.format(modules=modules, baseline=baseline)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=_ENV
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--cold",
        action="store_true",
        help="measure from a bare interpreter (Airflow itself included on both sides)",
    )
    args = parser.parse_args()
    baseline: tuple[str, ...] = () if args.cold else BASELINE
    ours: list[float] = []
    amazon: list[float] = []
    measure(OURS, baseline), measure(AMAZON, baseline)  # warm-up: writes the bytecode caches
    for _ in range(args.runs):
        ours.append(measure(OURS, baseline))
        amazon.append(measure(AMAZON, baseline))
    m_ours, m_amazon = statistics.median(ours), statistics.median(amazon)
    mode = (
        "cold (from a bare interpreter)"
        if args.cold
        else "incremental (over airflow.sdk + amazon bases)"
    )
    print(f"import time, median of {args.runs} fresh subprocesses each, {mode}:")
    print(f"  airflow_batch_service operators+sensors : {m_ours * 1000:8.1f} ms")
    print(f"  amazon provider operators.batch+sensors.batch: {m_amazon * 1000:8.1f} ms")
    print(f"  ratio ours/amazon: {m_ours / m_amazon:.3f}")


if __name__ == "__main__":
    main()
