"""N concurrent deferred waits in one triggerer-like event loop: ours vs a client per trigger.

A script that prints figures, not a test:

    .venv/bin/python benchmarks/trigger_waits.py [--waits 100 1000] [--polls 3] [--interval 5]

Against the emulator SERVER (child process) with N jobs that HANG (they stay RUNNING until
terminated), two sides are measured, each in its own fresh subprocess so resident memory is
comparable, on the same jobs and the same N:

- **ours**: N ``BatchServiceJobTrigger`` objects, serialized and rebuilt as the triggerer does,
  their ``run()`` generators driven concurrently in one event loop (``stream_logs=False``: the
  other side streams no logs either). They share one boto3 client (``shared_clients``).
- **client per trigger**: the amazon provider's ``BatchJobTrigger`` / ``AwsBaseWaiterTrigger``
  pattern: each wait builds ``AwsBaseHook(...).get_async_conn()`` (an aiobotocore client from
  a fresh session) and holds it for the whole wait, describing every ``interval`` seconds
  (botocore ships no service-job waiter, so the waiter's describe + sleep is written out).

Each side runs for ``polls`` poll intervals from the moment its waits start (plus half an
interval, so the last round lands), then the waits are cancelled. Counting describes until
``N x polls`` of them would never end for ours: its waits share one ListServiceJobs round per
queue per interval instead of describing each job, so the run is bounded by intervals and every
Batch call is counted. Printed per side: peak resident memory above the process's baseline
(all imports done, no client built) divided by N; CPU seconds (user + system) of the whole
run, client creation included; CPU per wait per interval; Batch calls per job (every operation
the emulator's ``stats()`` counted); and the calls per job after the first (immediate) one
divided by the intervals elapsed: at most 1.0 means no more than one call per job per interval.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONN_ID = "bench"
SIDES = ("ours", "client-per-trigger")


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- child: one side ---------------------------------------------------------------------------


async def _run_side(side: str, ids: list[str], interval: float, polls: int) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

    def ours(job_id: str) -> Any:
        trigger = BatchServiceJobTrigger(
            job_id=job_id, aws_conn_id=CONN_ID, poll_interval=interval, stream_logs=False
        )
        _classpath, kwargs = trigger.serialize()
        rebuilt = BatchServiceJobTrigger(**json.loads(json.dumps(kwargs)))
        return anext(rebuilt.run())

    async def client_per_trigger(job_id: str) -> None:
        hook = AwsBaseHook(aws_conn_id=CONN_ID, client_type="batch")
        async with await hook.get_async_conn() as client:
            while True:
                response = await client.describe_service_job(jobId=job_id)
                if response["status"] in ("SUCCEEDED", "FAILED"):
                    return
                await asyncio.sleep(interval)

    make = ours if side == "ours" else client_per_trigger
    started = time.perf_counter()
    cpu0 = cpu_seconds()
    tasks = [asyncio.ensure_future(make(job_id)) for job_id in ids]
    until = started + (polls + 0.5) * interval
    while time.perf_counter() < until:
        await asyncio.sleep(min(0.5, max(0.0, until - time.perf_counter())))
        if all(t.done() for t in tasks):
            raise RuntimeError([t.exception() for t in tasks if t.exception()][:3])
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu0
    rss_at_stop = rss_kib()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"wall": wall, "cpu": cpu, "rss_at_stop": rss_at_stop}


def child(side: str, endpoint: str, ids_file: str, interval: float, polls: int) -> None:
    # Every import both sides need, before the baseline: only the waits themselves count.
    import aiobotocore.session  # noqa: F401
    import boto3  # noqa: F401
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook  # noqa: F401

    import airflow_batch_service._shared.clients
    import airflow_batch_service._shared.waiting  # noqa: F401
    from airflow_batch_service.emulator.server import RemoteEmulator
    from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger  # noqa: F401

    with open(ids_file) as f:
        ids = json.load(f)
    remote = RemoteEmulator(endpoint)
    remote.reset_stats()
    base_rss = rss_kib()
    result = asyncio.run(_run_side(side, ids, interval, polls))
    result.update(base_rss=base_rss, peak_rss=peak_kib(), stats=remote.stats())
    print(json.dumps(result))


# -- parent ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--polls", type=int, default=3, help="describes per wait to measure")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval, seconds")
    parser.add_argument(
        "--child", nargs=3, metavar=("SIDE", "ENDPOINT", "IDS_FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        side, endpoint, ids_file = args.child
        child(side, endpoint, ids_file, args.interval, args.polls)
        return

    from airflow_batch_service.emulator import EmulatorServer, aws_connection_json
    from benchmarks.emulator_throughput import HANG, submit_jobs

    home = tempfile.mkdtemp(prefix="abs-bench-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # leave nothing behind
    with EmulatorServer(queues=["q"], seconds_per_state=0.05, scenarios=HANG) as server:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            f"AIRFLOW_CONN_{CONN_ID.upper()}": aws_connection_json(server.endpoint_url),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        batch = server.emulator.client("batch")
        print(
            f"emulator {server.endpoint_url}; poll interval {args.interval:g}s; each side runs "
            f"{args.polls} poll intervals; {os.cpu_count()} CPUs; "
            f"python {sys.version.split()[0]}"
        )
        header = (
            f"{'side':20s} {'N':>5s} {'KiB/wait':>9s} {'CPU s':>7s} {'ms CPU/w/int':>12s} "
            f"{'calls/job':>10s} {'after 1st/int':>13s} {'wall s':>7s}  calls by operation"
        )
        print(header)
        results: dict[tuple[str, int], dict[str, Any]] = {}
        for n in args.waits:
            ids = submit_jobs(batch, "q", n)
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(ids, f)
            for side in SIDES:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--interval",
                        str(args.interval),
                        "--polls",
                        str(args.polls),
                        "--child",
                        side,
                        server.endpoint_url,
                        f.name,
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                ).stdout
                r = json.loads(out.strip().splitlines()[-1])
                results[(side, n)] = r
                by_op = {op: int(c) for op, c in r["stats"].items() if op != "throttled"}
                total = sum(by_op.values())
                per_wait = (r["peak_rss"] - r["base_rss"]) / n
                intervals = max(1.0, r["wall"] / args.interval)
                print(
                    f"{side:20s} {n:5d} {per_wait:9.1f} {r['cpu']:7.2f} "
                    f"{1000 * r['cpu'] / n / intervals:12.3f} {total / n:10.3f} "
                    f"{max(0.0, total / n - 1) / intervals:13.3f} {r['wall']:7.1f}  {by_op}",
                    flush=True,
                )
            os.unlink(f.name)
            batch_ids = list(ids)
            for start in range(0, len(batch_ids), 50):
                batch.terminate_service_jobs(
                    jobs=batch_ids[start : start + 50], reason="benchmark done"
                )
        if len(args.waits) >= 2:
            low, high = min(args.waits), max(args.waits)
            for side in SIDES:
                a, b = results[(side, low)], results[(side, high)]
                marginal = ((b["peak_rss"] - b["base_rss"]) - (a["peak_rss"] - a["base_rss"])) / (
                    high - low
                )
                print(
                    f"{side:20s} marginal resident memory per extra wait ({low}->{high}): {marginal:.1f} KiB"
                )


if __name__ == "__main__":
    main()
