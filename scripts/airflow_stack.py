#!/usr/bin/env python3
"""Start the integration tests' real Airflow stack by hand, optionally with the emulator.

    .venv/bin/python scripts/airflow_stack.py --emulator --dag example_dags/example_batch_service_basic.py
    .venv-af30/bin/python scripts/airflow_stack.py --trigger example_batch_service_basic
    .venv/bin/python scripts/airflow_stack.py --distributed --trigger example_batch_service_deferrable

Runs api-server, scheduler, dag-processor and triggerer of the interpreter's own venv from a
temp AIRFLOW_HOME on 127.0.0.1 (see tests/integration/stack.py), prints the URL, and keeps
them up until Ctrl-C; every process it started is stopped by pid on the way out.
With --distributed it runs the production topology instead (tests/distributed/cluster.py):
PostgreSQL and Redis from Debian's packages, CeleryExecutor with a worker, two schedulers, two
triggerers, the dag-processor and the api-server; the venv needs the ``distributed`` extra
(``EXTRAS=dev,async,openlineage,distributed scripts/bootstrap.sh``, or run
``scripts/test_distributed.sh`` once).
With --emulator it also starts the emulator server and gives the stack the ``batch_emulator``
aws connection and the settings the example DAGs read. With --trigger DAG_ID it triggers that DAG
once it is parsed, waits for the run and prints the task logs, then stops (a one-shot check).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from integration.stack import AirflowStack  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="default: a new temp dir (kept afterwards)")
    parser.add_argument("--dag", type=Path, action="append", default=[], help="DAG file to copy in")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every process")
    parser.add_argument("--emulator", action="store_true", help="start the emulator server too")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="PostgreSQL, Redis, Celery, two schedulers and two triggerers",
    )
    parser.add_argument("--seconds-per-state", type=float, default=1.0)
    parser.add_argument("--trigger", metavar="DAG_ID", help="trigger, wait, print logs, stop")
    parser.add_argument("--timeout", type=float, default=300, help="run deadline for --trigger")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="airflow-stack-"))
    extra = dict(kv.split("=", 1) for kv in args.env)
    server = None
    if args.emulator or args.trigger:
        from airflow_batch_service.emulator.connection import aws_connection_json
        from airflow_batch_service.emulator.server import EmulatorServer

        server = EmulatorServer(queues=["ml-training"], seconds_per_state=args.seconds_per_state)
        server.start()
        assert server.endpoint_url
        extra = {
            "AIRFLOW_CONN_BATCH_EMULATOR": aws_connection_json(server.endpoint_url, server.region),
            "BATCH_SERVICE_CONN_ID": "batch_emulator",
            "BATCH_SERVICE_QUEUE": "ml-training",
            "BATCH_SERVICE_POKE_INTERVAL": "2",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **extra,
        }
        print(f"emulator at {server.endpoint_url}", flush=True)
    dags = list(args.dag)
    if args.trigger and not dags:
        candidate = ROOT / "example_dags" / f"{args.trigger}.py"
        if candidate.exists():
            dags.append(candidate)
    if args.distributed:
        from distributed.cluster import DistributedStack  # lazy: only with --distributed

        stack: AirflowStack = DistributedStack(workdir=workdir, extra_env=extra)
    else:
        stack = AirflowStack(workdir=workdir, extra_env=extra)
    rc = 0
    try:
        stack.start()
        for dag in dags:
            stack.add_dag_file(dag)
        print(
            f"Airflow {stack.version()} up in {stack.timings['startup']:.1f}s at {stack.base_url}\n"
            f"AIRFLOW_HOME={stack.home}\ndags={stack.dags_folder}\nprocess logs={stack.proc_logs}"
            + (f"\ncomponents: {', '.join(stack.procs)}" if args.distributed else ""),
            flush=True,
        )
        if args.trigger:
            stack.wait_for_dag(args.trigger)
            started = time.monotonic()
            run_id = stack.trigger(args.trigger)
            try:
                stack.wait_for_run(args.trigger, run_id, timeout=args.timeout)
                print(f"run {run_id}: success in {time.monotonic() - started:.1f}s")
            except AssertionError as e:
                print(e)
                rc = 1
            for ti in stack.task_instances(args.trigger, run_id):
                print(stack.task_log(args.trigger, run_id, ti["task_id"]))
            if server is not None and server.emulator is not None:
                print("emulator stats:", server.emulator.stats())
        else:
            print("Ctrl-C stops every process.", flush=True)
            while True:
                time.sleep(1)
                stack._check_alive()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        if server is not None:
            server.stop()
        print(f"stopped; stray processes swept: {stack.leftovers or 'none'}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
