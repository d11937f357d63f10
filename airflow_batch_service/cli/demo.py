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
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_batch_service.core.status import ServiceJobStatus
from airflow_batch_service.core.verdict import interpret
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
}


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


@dataclass
class Event:
    at: int  # epoch ms
    text: str


def timeline(describe: Mapping[str, Any]) -> list[Event]:
    """A job's history as far as DescribeServiceJob tells it, explained by ``core.verdict``."""
    verdict = interpret(describe)
    events = [Event(int(describe["createdAt"]), "SUBMITTED")]
    if describe.get("scheduledAt") and not verdict.attempts:
        events.append(Event(int(describe["scheduledAt"]), "SCHEDULED: handed to SageMaker"))
    elif describe.get("scheduledAt") and len(verdict.attempts) == 1:
        scheduled = int(describe["scheduledAt"])
        waited = (scheduled - int(describe["createdAt"])) / 1000
        events.append(Event(scheduled, f"SCHEDULED: got capacity after {waited:.1f}s in the queue"))
    for report in verdict.attempts:
        if report.started_at is not None:
            events.append(
                Event(
                    report.started_at,
                    f"attempt {report.number} started: training job {report.training_job_name}",
                )
            )
        if report.stopped_at is not None or report.succeeded:
            text = report.describe()
            events.append(Event(report.stopped_at or report.started_at or events[-1].at, text))
    if verdict.preempted_count:
        events.append(
            Event(events[-1].at, f"preempted {verdict.preempted_count} time(s) along the way")
        )
    if verdict.done:
        stopped = int(describe.get("stoppedAt") or events[-1].at)
        events.append(
            Event(stopped, f"{verdict.status}: {verdict.status_reason or ''}".rstrip(": "))
        )
    else:
        events.append(Event(events[-1].at, f"still {verdict.status}"))
    return sorted(events, key=lambda e: e.at)


#: Task-log lines worth repeating: what DescribeServiceJob keeps no record of.
_LOG_NOTES = ("without using an attempt", "was preempted")
#: ``[info     ] <message> [<logger>] loc=...``: the logger is the sensor's (``airflow.task...``)
#: or, for a deferred wait, the trigger's (``airflow_batch_service.triggers...``).
_LOG_LINE = re.compile(r"\] (?P<message>.*?) \[[A-Za-z_][\w.]*\](?: |$)")


def notes_from_log(log_text: str, job_name: str) -> list[str]:
    """The provider's task-log lines about ``job_name`` that DescribeServiceJob can't show
    (a capacity bounce, a preemption), each once."""
    notes: list[str] = []
    for line in log_text.splitlines():
        match = _LOG_LINE.search(line)
        if match and job_name in line and any(word in line for word in _LOG_NOTES):
            message = match.group("message")
            if message not in notes:
                notes.append(message)
    return notes


def print_timeline(describe: Mapping[str, Any], log_text: str = "", out: Any = sys.stdout) -> None:
    verdict = interpret(describe)
    print(f"  job {verdict.job_name} ({verdict.job_id})", file=out)
    start = int(describe["createdAt"])
    for event in timeline(describe):
        print(f"    +{(event.at - start) / 1000:6.1f}s  {event.text}", file=out)
    for note in notes_from_log(log_text, verdict.job_name or verdict.job_id):
        print(f"    task log: {note}", file=out)
    print(f"    => {verdict.headline()}", file=out)


def capacity_chart(
    describes: list[Mapping[str, Any]], capacity: int, out: Any = sys.stdout, width: int = 60
) -> None:
    """One line per job: ``.`` waiting (submitted, RUNNABLE), ``#`` holding capacity (from
    its latest scheduledAt to stoppedAt), then the most jobs that held capacity at once."""
    if not describes:
        return
    start = min(int(d["createdAt"]) for d in describes)
    end = max(int(d.get("stoppedAt") or d.get("scheduledAt") or d["createdAt"]) for d in describes)
    scale = max(end - start, 1) / width
    edges: list[tuple[int, int]] = []
    print(f"  capacity: {capacity} instance(s); '.' waiting for capacity, '#' holding it", file=out)
    for d in sorted(describes, key=lambda d: (d.get("scheduledAt") or end, d["createdAt"])):
        created, scheduled = int(d["createdAt"]), int(d.get("scheduledAt") or end)
        stopped = int(d.get("stoppedAt") or end)
        cells = []
        for i in range(width):
            at = start + (i + 0.5) * scale
            cells.append(
                "#" if scheduled <= at < stopped else "." if created <= at < scheduled else " "
            )
        name = str(d.get("jobName", ""))[:28]
        print(
            f"    {name:<28} |{''.join(cells)}| waited {(scheduled - created) / 1000:5.1f}s",
            file=out,
        )
        edges += [(scheduled, 1), (stopped, -1)]
    peak = current = 0
    for _, delta in sorted(edges):
        current += delta
        peak = max(peak, current)
    print(f"    at most {peak} job(s) held capacity at once (limit {capacity} instances)", file=out)


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
