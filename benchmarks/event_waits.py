"""Deferred waits woken by state-change events versus polling: Batch calls, and how late a wait
ends after its job. A script that prints figures, not a test:

    .venv/bin/python benchmarks/event_waits.py [--waits 1000] [--interval 30] [--reconcile 300]
        [--lossy-reconcile 60] [--window SECONDS] [--gates 100] [--gate-every 0.5]
        [--sides polling events lossy]

One emulator SERVER (child process) with the API quotas ON (``api_quotas="aws"``: every Batch
call but SubmitServiceJob from one 50/s bucket), publishing its state-change events to an SQS
queue (``event_queue``). Each side gets N fresh jobs on a queue with room for all of them:
every job runs and stays RUNNING at a named gate (``holdUntilReleased``), half scripted to
succeed and half to fail once their gate opens. Each side runs in a subprocess of its own: N
``BatchServiceJobTrigger`` objects, serialized and rebuilt as the triggerer does, driven
together in one event loop (``stream_logs=False``), as one triggerer process would:

- **polling**: today's waits, ``poll_interval=--interval``; the process shares one
  ListServiceJobs round per interval (``coalesce``).
- **events**: the same waits with ``event_queue`` set and ``reconcile_interval=--reconcile``.
- **lossy**: as **events**, with the emulator dropping 20% of the events and delivering 10%
  twice (``configure(events={"drop": 0.2, "duplicate": 0.1})``), and a shorter
  reconciliation (``--lossy-reconcile``, 60 s) so the run ends sooner; no steady-state window.

Per side, three phases:

1. **Steady state.** Once every wait has made its first describe, the emulator's counters are
   read (after one more of the waits' own intervals, so that the first listing round is
   behind them: each wait's first sleep races it), and again after ``--window`` seconds
   (default one reconciliation interval, so that the events side pays its reconciliation
   round): Batch calls per job per poll interval
   (``--interval``) = the window's calls / N / (window / interval). GetJobQueueSnapshot is not
   made (no job is RUNNABLE).
2. **Endings.** The gates open one after another (``--gates``, one every ``--gate-every``
   seconds: by default 10 jobs each half second, 20 endings per second, below the 50/s that
   the account's describes may use), so the jobs end at known times; each wait's end is
   stamped in the child. Every ending costs a describe on both sides (the events side
   confirms each ending with one), so endings faster than the quota queue up behind it.
3. **Figures.** Per wait: the delay from the job's end (its ``stoppedAt``) to the wait's end;
   median, p90, p99 and max. Lost waits (none may be left when the child's deadline passes)
   and wrong outcomes (the wait's outcome against the job's final status) are counted. For
   **lossy**, waits that ended more than 5 s after their job are the ones whose final event
   was dropped and the reconciliation round caught. The events sides also print their feeds'
   counters (received, delivered, duplicates, handed back, deleted) about once a minute from
   the first gate's opening: the queue starts with the jobs' earlier state changes, and a
   feed still reading that backlog when the gates open delays every ending behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONN_ID = "bench"
QUEUE = "events-bench"
PAYLOAD: dict[str, Any] = {
    "TrainingJobName": "events",
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
    "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
    "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def batch_calls(stats: dict[str, Any]) -> int:
    return sum(int(n) for op, n in stats.items() if isinstance(n, int) and op[:1].isupper())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


# -- child: one side's waits -------------------------------------------------------------


async def _waits(ids: list[str], interval: float, reconcile: float, queue_url: str) -> dict:
    from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

    ends: dict[str, list[Any]] = {}

    async def one(job_id: str) -> None:
        extra = {"event_queue": queue_url, "reconcile_interval": reconcile} if queue_url else {}
        trigger = BatchServiceJobTrigger(
            job_id=job_id, aws_conn_id=CONN_ID, poll_interval=interval, stream_logs=False, **extra
        )
        _, kwargs = trigger.serialize()
        event = await anext(BatchServiceJobTrigger(**json.loads(json.dumps(kwargs))).run())
        ends[job_id] = [time.time(), event.payload["status"]]

    feed_timeline: list[list[Any]] = []

    async def sample_feeds() -> None:
        """The feeds' counters every 10 s: when the backlog drained, what was handed back."""
        from airflow_batch_service._shared import event_feed

        while True:
            feeds = event_feed._feeds.get(asyncio.get_running_loop(), {}).values()
            totals: dict[str, int] = {}
            for feed in feeds:
                for key, n in feed.stats.items():
                    totals[key] = totals.get(key, 0) + n
            feed_timeline.append([time.time(), totals])
            await asyncio.sleep(10)

    sampler = asyncio.ensure_future(sample_feeds())
    tasks = [asyncio.ensure_future(one(job_id)) for job_id in ids]
    done, pending = await asyncio.wait(tasks, timeout=float(os.environ["BENCH_DEADLINE"]))
    sampler.cancel()
    for task in pending:
        task.cancel()
    errors = [repr(t.exception())[:200] for t in done if t.exception()]
    return {"ends": ends, "errors": errors[:3], "lost": len(pending), "feeds": feed_timeline}


def child(ids_file: str, interval: float, reconcile: float, queue_url: str) -> None:
    """The waits of one side; the result goes to ``<ids_file>.out`` (stdout carries the
    waits' log lines, which nobody reads while they run)."""
    if os.environ.get("BENCH_LOG"):  # the waits' log lines on stderr, to see why they called
        import logging

        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    with open(ids_file) as f:
        ids = json.load(f)
    result = asyncio.run(_waits(ids, interval, reconcile, queue_url))
    with open(ids_file + ".out", "w") as f:
        json.dump(result, f)


# -- parent ------------------------------------------------------------------------------


def scenarios(side: str, gates: int) -> dict[str, Any]:
    jobs = []
    for g in range(gates):
        hold = {"holdUntilReleased": {"RUNNING": f"{side}-g{g}"}}
        jobs.append({"jobName": f"{side}-ok-g{g}-*", "attempts": [{"result": "SUCCEEDED", **hold}]})
        jobs.append({"jobName": f"{side}-ko-g{g}-*", "attempts": [{"result": "FAILED", **hold}]})
    return {"jobs": jobs}


def run_side(side: str, args: argparse.Namespace, server: Any, env: dict[str, str]) -> dict:
    remote = server.emulator
    reconcile = args.lossy_reconcile if side == "lossy" else args.reconcile
    window = 0.0 if side == "lossy" else args.window  # lossy: endings only
    batch = remote.client("batch")
    lossy = (
        {"drop": 0.2, "duplicate": 0.1, "seed": 11}
        if side == "lossy"
        else {"drop": 0.0, "duplicate": 0.0}
    )
    remote.configure(api_quotas="off", events=lossy)
    remote.load_scenarios(scenarios(side, args.gates))
    queue_url = "" if side == "polling" else remote.event_queue(f"{side}-events", [QUEUE])
    ids = []
    for k in range(args.waits):
        name = f"{side}-{'ok' if k % 2 == 0 else 'ko'}-g{k % args.gates}-{k}"
        ids.append(
            batch.submit_service_job(
                jobName=name,
                jobQueue=QUEUE,
                serviceJobType="SAGEMAKER_TRAINING",
                serviceRequestPayload=json.dumps(PAYLOAD),
            )["jobId"]
        )
    for g in range(args.gates):  # every job RUNNING at its gate before the waits start
        remote.wait_at_gate(f"{side}-g{g}", count=len(ids[g :: args.gates]), timeout=300)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ids, f)
    remote.configure(api_quotas="aws")  # off -> on: full buckets
    remote.reset_stats()
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            f.name,
            str(args.interval),
            str(reconcile),
            queue_url,
        ],
        env={**env, "BENCH_DEADLINE": str(window + 4 * reconcile + 600)},
        stdout=subprocess.DEVNULL,  # the waits' log lines: nobody reads them as they come
    )
    deadline = time.monotonic() + 600
    while remote.stats().get("DescribeServiceJob", 0) < args.waits:
        assert time.monotonic() < deadline and proc.poll() is None, "the waits never all started"
        time.sleep(0.5)
    # Settle for one of the waits' own intervals: each wait's first sleep races the first
    # listing round, and those whose timer wins describe once (as at any sweep's start); the
    # start's burst of first describes (throttled at N = 1,000) and the queue's backlog of
    # the jobs' earlier state changes are then behind the endings. (At least 300 s.)
    settle = args.settle if args.settle is not None else max(reconcile, 300.0)
    time.sleep((settle if queue_url else args.interval) + 1)
    before = remote.stats()
    time.sleep(window)
    after = remote.stats()
    opened = time.time()
    for g in range(args.gates):
        remote.open_gate(f"{side}-g{g}")
        time.sleep(args.gate_every)
    proc.wait(timeout=window + 4 * reconcile + 900)
    with open(f.name + ".out") as out:
        result = json.load(out)
    os.unlink(f.name)
    os.unlink(f.name + ".out")
    remote.configure(api_quotas="off")
    window_calls = batch_calls(after) - batch_calls(before)
    delays, wrong = [], 0
    for job_id, (ended, status) in result["ends"].items():
        job = batch.describe_service_job(jobId=job_id)
        delays.append(ended - job["stoppedAt"] / 1000)
        expected = "success" if job["status"] == "SUCCEEDED" else "failed"
        wrong += status != expected
    per_interval = window_calls / args.waits / (window / args.interval) if window else float("nan")
    ops = {op: after.get(op, 0) - before.get(op, 0) for op in after if op[:1].isupper()}
    return {
        "side": side,
        "calls_per_job_per_interval": per_interval,
        "window_calls": {op: n for op, n in ops.items() if n},
        "ended": len(result["ends"]),
        "lost": result["lost"],
        "wrong": wrong,
        "errors": result["errors"],
        "median": statistics.median(delays) if delays else None,
        "p90": pct(delays, 0.9),
        "p99": pct(delays, 0.99),
        "max": max(delays) if delays else None,
        "late": sum(d > 5 for d in delays),
        "events": remote.stats().get("events"),
        "feeds": _feed_line(result.get("feeds") or [], opened),
    }


def _feed_line(timeline: list[list[Any]], opened: float) -> str:
    """The feeds' counters about once a minute, timed from the first gate's opening."""
    keys = ("received", "delivered", "duplicates", "released", "deleted")
    shown, last = [], None
    for at, totals in timeline:
        if last is not None and at - last < 55:
            continue
        last = at
        counts = "/".join(str(totals.get(k, 0)) for k in keys)
        shown.append(f"{at - opened:+.0f}s {counts}")
    return f"({'/'.join(keys)}) " + ", ".join(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--reconcile", type=float, default=300.0)
    parser.add_argument("--lossy-reconcile", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=None)
    parser.add_argument(
        "--settle", type=float, default=None, help="seconds before the window (events sides)"
    )
    parser.add_argument("--gates", type=int, default=100)
    parser.add_argument("--gate-every", type=float, default=0.5)
    parser.add_argument("--sides", nargs="+", default=["polling", "events", "lossy"])
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ids_file, interval, reconcile, queue_url = args.child
        child(ids_file, float(interval), float(reconcile), queue_url)
        return
    args.window = args.window or args.reconcile

    from airflow_batch_service.emulator import EmulatorServer, aws_connection_json

    home = tempfile.mkdtemp(prefix="abs-events-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # leave nothing behind
    with EmulatorServer(seconds_per_state=0.05, api_quotas="aws") as server:
        server.emulator.configure(api_quotas="off")
        server.emulator.create_queue(QUEUE, max_capacity=args.waits + 10)
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
        print(
            f"{args.waits} deferred waits per side, poll interval {args.interval:g}s, "
            f"reconciliation {args.reconcile:g}s (lossy: {args.lossy_reconcile:g}s), "
            f"window {args.window:g}s, API quotas on; "
            f"{os.cpu_count()} CPUs",
            flush=True,
        )
        for side in args.sides:
            r = run_side(side, args, server, env)
            print(
                f"{side}: {r['calls_per_job_per_interval']:.4f} Batch calls/job/interval "
                f"(window {r['window_calls']}); ended {r['ended']}, lost {r['lost']}, "
                f"wrong {r['wrong']}; delay after the job ended: median {r['median']:.2f}s, "
                f"p90 {r['p90']:.2f}s, p99 {r['p99']:.2f}s, max {r['max']:.2f}s; "
                f"{r['late']} ended >5s late; events {r['events']}; errors {r['errors']}",
                flush=True,
            )
            if r["feeds"] and side != "polling":
                print(f"  {side} feeds, from the first gate: {r['feeds']}", flush=True)


if __name__ == "__main__":
    main()
