"""``airflow-batch-service demo``: the example DAGs, end to end, on the local emulator.

It starts the emulator server on loopback, makes a throwaway Airflow home (sqlite), runs each
example DAG with ``airflow dags test`` through an ``aws`` connection whose ``endpoint_url``
points at the emulator, then prints a timeline of every service job the DAGs submitted: its
states, each attempt with its training job, the evaluateOnExit rule that decided it and what
Batch did next. Everything it starts is stopped before it returns; the Airflow home is removed
unless ``--keep`` is given.

The timeline is built from DescribeServiceJob and ``core.verdict`` only (what real AWS returns
too), so it shows what a user of the provider would see against a real account.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_batch_service.cli.demo_report import (
    capacity_chart,
    print_timeline,
    result_lines,
)
from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.emulator.connection import aws_connection_json
from airflow_batch_service.emulator.server import EmulatorServer

if TYPE_CHECKING:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

CONN_ID = "batch_service_emulator"
QUEUE = "demo-training"
FAIR_SHARE_QUEUE = "demo-training-fair-share"
#: The sweep gets more jobs than its queue has instances, so some wait for capacity.
SWEEP_SIZE = 6
SWEEP_CAPACITY = 2

#: The level of the demo's own Airflow logging (the hook that reads the jobs back): INFO would
#: put the amazon provider's timestamped "AWS Connection ... credentials retrieved" line among
#: the timelines; warnings and errors still show. The DAG runs keep INFO: their task logs are
#: where the timelines' notes (a capacity bounce, a preemption) come from.
READER_LOG_LEVEL = "WARNING"

#: Where the example DAGs (and their emulator scenarios, ``scenarios/emulator.json``) are, in
#: order: inside the installed package (the wheel ships the clone's ``example_dags/`` as
#: ``airflow_batch_service.example_dags``), then at the top of a source checkout (what an
#: editable install runs from).
_PACKAGE = Path(__file__).resolve().parents[1]
DAGS_FOLDERS = (_PACKAGE / "example_dags", _PACKAGE.parent / "example_dags")

#: dag_id -> what a reader should expect, printed before its timeline.
DAGS: dict[str, str] = {
    "example_batch_service_basic": "submit + paired sensor; the jobId travels through XCom",
    "example_batch_service_retry_strategies": (
        "RETRY on InternalServerError recovers; EXIT on ValidationException fails for good "
        "(that task fails on purpose, without Airflow retries)"
    ),
    "example_batch_service_deferrable": (
        "one task submits and waits in the triggerer (deferrable), streaming training logs"
    ),
    "example_batch_service_sweep": (
        f"dynamic task mapping over {SWEEP_SIZE} configs on a fair-share queue with only "
        f"{SWEEP_CAPACITY} instances: jobs wait in RUNNABLE and start as others finish; one job "
        "meets a capacity shortage first; then the model artifacts are collected"
    ),
    "example_batch_service_function_sweep": (
        "@task.batch_service: a Python function mapped over 4 learning rates; the emulator "
        "runs each call for real, and the best run is picked from the return values"
    ),
}

#: The S3 bucket of ``BATCH_SERVICE_OUTPUT`` (models, results, decorated functions' files).
OUTPUT_BUCKET = "demo-bucket"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dags-folder",
        type=Path,
        help="folder holding the example DAGs (default: those installed with the package)",
    )
    parser.add_argument(
        "--dag",
        action="append",
        default=[],
        metavar="DAG_ID",
        help="run only this DAG (repeatable)",
    )
    parser.add_argument(
        "--seconds-per-state",
        type=float,
        default=0.5,
        metavar="S",
        help="seconds an emulated job spends in each state (default 0.5)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the Airflow home (logs, sqlite DB) afterwards"
    )


def find_dags_folder(given: Path | None) -> Path:
    candidates = [given] if given else list(DAGS_FOLDERS)
    for folder in candidates:
        if (folder / "example_batch_service_basic.py").is_file():
            return folder
    raise SystemExit(
        "airflow-batch-service demo: the example DAGs were not found "
        f"(looked in {', '.join(str(c) for c in candidates)}). They ship with the package: "
        "reinstall it (pip install, or scripts/demo.sh in a clone), or pass --dags-folder."
    )


def airflow_env(
    home: Path, endpoint_url: str, region: str, seconds_per_poll: float
) -> dict[str, str]:
    """The environment of every Airflow command the demo runs: a throwaway home, sqlite, no
    example DAGs of Airflow's own, and an ``aws`` connection pointing at the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            f"AIRFLOW_CONN_{CONN_ID.upper()}": aws_connection_json(endpoint_url, region),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": region,
            "BATCH_SERVICE_CONN_ID": CONN_ID,
            "BATCH_SERVICE_QUEUE": QUEUE,
            "BATCH_SERVICE_FAIR_SHARE_QUEUE": FAIR_SHARE_QUEUE,
            "BATCH_SERVICE_ROLE_ARN": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
            "BATCH_SERVICE_OUTPUT": "s3://demo-bucket/models/",
            "BATCH_SERVICE_POKE_INTERVAL": str(seconds_per_poll),
            "BATCH_SERVICE_SWEEP_SIZE": str(SWEEP_SIZE),
        }
    )
    env.pop("AWS_PROFILE", None)
    return env


def airflow(
    env: Mapping[str, str], *args: str, log: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    result = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=900)
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    return result


def run_state(env: Mapping[str, str], dag_id: str) -> str:
    result = airflow(env, "dags", "list-runs", dag_id, "-o", "json")
    # Airflow prints warnings on stdout too; the JSON is the line that parses as a list.
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("["):
            try:
                runs = json.loads(line)
            except ValueError:
                continue
            return str(runs[0].get("state", "unknown")) if runs else "no run"
    return "unknown"


def all_jobs(hook: BatchServiceJobHook, queues: Iterable[str]) -> list[dict[str, Any]]:
    """Every job in the queues, all statuses (ListServiceJobs lists one status at a time)."""
    seen: dict[str, dict[str, Any]] = {}
    for queue in queues:
        for status in ServiceJobStatus:
            for summary in hook.list_service_jobs(job_queue=queue, job_status=status.value):
                seen[summary["jobId"]] = summary
    return sorted(seen.values(), key=lambda s: s["createdAt"])


@contextlib.contextmanager
def reading_hook(env: Mapping[str, str]) -> Any:
    """The provider's hook on the demo's ``aws`` connection, to read the jobs back as a user
    would: this process sees the demo's Airflow home and connection meanwhile, and logs at
    :data:`READER_LOG_LEVEL` (Airflow takes its logging level when it is first imported,
    which is here)."""
    own = {k: v for k, v in env.items() if k.startswith("AIRFLOW")}
    own["AIRFLOW__LOGGING__LOGGING_LEVEL"] = READER_LOG_LEVEL
    saved = {k: os.environ.get(k) for k in own}
    os.environ.update(own)
    try:
        from airflow_batch_service.hooks.batch_service import BatchServiceJobHook  # lazy: Airflow

        yield BatchServiceJobHook(aws_conn_id=CONN_ID)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(args: argparse.Namespace) -> int:
    folder = find_dags_folder(args.dags_folder)
    wanted = args.dag or list(DAGS)
    unknown = [d for d in wanted if d not in DAGS]
    if unknown:
        print(
            f"airflow-batch-service demo: unknown DAG(s) {unknown}; choose from {list(DAGS)}",
            file=sys.stderr,
        )
        return 2
    home = Path(tempfile.mkdtemp(prefix="airflow-batch-service-demo-"))
    (home / "dags").mkdir()
    for path in folder.glob("example_batch_service_*.py"):
        shutil.copy(path, home / "dags")
    scenarios = folder / "scenarios" / "emulator.json"
    failures = 0
    began = time.monotonic()
    try:
        with EmulatorServer(
            queues=[QUEUE],
            seconds_per_state=args.seconds_per_state,
            scenarios=scenarios if scenarios.is_file() else None,
        ) as server:
            assert server.endpoint_url and server.emulator
            server.emulator.create_queue(
                FAIR_SHARE_QUEUE, fair_share=True, max_capacity=SWEEP_CAPACITY
            )
            server.emulator.client("s3").create_bucket(Bucket=OUTPUT_BUCKET)
            env = airflow_env(home, server.endpoint_url, server.region, args.seconds_per_state)
            print(
                f"emulator: {server.endpoint_url} (queues {QUEUE}, "
                f"{FAIR_SHARE_QUEUE} with {SWEEP_CAPACITY} instances)"
            )
            print(f"airflow home: {home} (sqlite); preparing the metadata DB...")
            migrated = airflow(env, "db", "migrate", log=home / "db-migrate.log")
            if migrated.returncode != 0:
                print(
                    f"`airflow db migrate` failed; see {home / 'db-migrate.log'}", file=sys.stderr
                )
                args.keep = True
                return 1
            reported: set[str] = set()
            for dag_id in wanted:
                print(f"\n== {dag_id}: {DAGS[dag_id]}")
                started = time.monotonic()
                log = home / f"{dag_id}.log"
                airflow(env, "dags", "test", dag_id, log=log)
                state = run_state(env, dag_id)
                print(
                    f"   DAG run {state} in {time.monotonic() - started:.0f}s (Airflow output: {log})"
                )
                if state != "success":
                    failures += 1
                described = []
                with reading_hook(env) as hook:
                    for summary in all_jobs(hook, [QUEUE, FAIR_SHARE_QUEUE]):
                        if summary["jobId"] in reported:
                            continue
                        reported.add(summary["jobId"])
                        describe = hook.describe_service_job(summary["jobId"])
                        described.append(describe)
                        print_timeline(describe, log.read_text())
                sweep = [d for d in described if d["jobQueue"].endswith("/" + FAIR_SHARE_QUEUE)]
                if sweep:
                    capacity_chart(sweep, SWEEP_CAPACITY)
                for line in result_lines(log.read_text()):
                    print(f"  result: {line}")
            stats = server.emulator.stats()
            print(
                f"\nAPI calls the DAGs made: {stats.get('SubmitServiceJob', 0)} SubmitServiceJob, "
                f"{stats.get('DescribeServiceJob', 0)} DescribeServiceJob "
                f"({sum(stats.values())} in all)"
            )
    finally:
        kept = args.keep or failures
        if not kept:
            shutil.rmtree(home, ignore_errors=True)
    print(f"\nDone in {time.monotonic() - began:.0f}s; the emulator is stopped.")
    print("Where to look next:")
    if kept:
        print(f"  - Airflow output and task logs: {home} (kept)")
    print(f"  - the example DAGs: {folder} (copy one; set BATCH_SERVICE_* and an aws connection)")
    print("  - run the emulator yourself: airflow-batch-service emulator --queue my-queue")
    print(
        "  - docs: retry semantics, troubleshooting, the emulator guide (scripts/docs.sh builds them)"
    )
    return 1 if failures else 0
