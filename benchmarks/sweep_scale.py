"""A sweep at scale against AWS's API quotas: N deferred waits on one queue, and a submit burst.

A script that prints figures, not a test:

    .venv/bin/python benchmarks/sweep_scale.py [--waits 1000] [--polls 4] [--interval 30]
        [--submits 200] [--workers 32] [--parts waits submits]

One emulator SERVER (child process) with the API quotas ON (``api_quotas="aws"``:
SubmitServiceJob 5/s, every other Batch call 50/s from one shared bucket, HTTP 429 beyond).
The quotas are switched off only while the script itself sets up (submitting the N jobs the
waits watch) and reads results (listing the burst's jobs); switching them back on refills the
buckets, so every measured side starts with full buckets. The counts are the emulator's
(``/_emulator/stats``: every Batch request by operation, each of botocore's retries included,
plus the 429s under ``throttled``).

**(a) N deferred waits on one queue.** N jobs on queue ``sweep`` whose capacity is
``--capacity`` instances (8): every job HANGs, so ``--capacity`` stay RUNNING and the rest stay
RUNNABLE for the whole run, as in a real sweep. Each side runs in its own fresh subprocess (so
resident memory is comparable), on the same jobs:

- **coalesced** (ours): N ``BatchServiceJobTrigger`` objects, serialized and rebuilt as the
  triggerer does, their ``run()`` generators driven concurrently in one event loop
  (``stream_logs=False``: CloudWatch Logs calls are not Batch calls). The trigger passes
  ``share_polls=poll_interval`` to ``waiting.arun``, so the waits share one ListServiceJobs
  round per interval (``coalesce.QueueWatch``).
- **describe per wait** (the baseline, today's one describe per wait per interval): the very
  same triggers, built and run the same way, except that in this side's process
  ``airflow_batch_service._shared.waiting.arun`` is replaced by a wrapper that calls the original with
  ``share_polls`` left out (``None``), which is the only thing that turns coalescing off. Every
  other line is shared: the flow, the shared boto3 client and its thread pool, botocore's
  retries, the jittered interval, the error backoff, and the RUNNABLE jobs' queue-snapshot
  reads (one GetJobQueueSnapshot per queue per 20 s per process, which the pre-sweep code did
  not make: the baseline pays them too, so the difference is the describes alone).

Each side runs ``--warmup`` + ``--polls`` poll intervals from the moment the triggers start,
then the waits are cancelled. At the end of every interval the child reads the emulator's
counters, its own CPU time (user + system) and the time. Steady state is the last ``--polls``
intervals (the first, when every wait makes its first describe at once, is discarded). Printed
per side:

- Batch API calls per job per poll interval in steady state: every Batch call of the window
  (DescribeServiceJob + ListServiceJobs + GetJobQueueSnapshot + DescribeJobQueues + ...,
  throttled ones included: a 429 is still a request against the account's quota) / N /
  intervals; the same per interval (warm-up first) to show it is steady; the window's calls by
  operation; the 429s in the window and in the whole run;
- resident memory per wait: peak resident set above the child's baseline (every import done,
  no trigger built, no client) / N;
- CPU per job per interval: the child's CPU seconds in the window / N / intervals.

**(b) A burst of submits.** ``--submits`` tasks run by ``--workers`` worker slots, each
task executing ``BatchSubmitServiceJobOperator(...).execute(context)`` (a fresh operator, hook
and boto3 client per task, as a mapped task on a worker has; a unique job name and task id
each; ``submit_patience`` left at its default; no wait) through an ``aws`` connection to the
server. ``--worker-model processes`` (the default): the slots are processes forked from a
child that has imported everything, released together at a barrier, each running one task at
a time with the hook's queue cache cleared before each, as Airflow runs every task in a
process of its own. ``--worker-model threads``: the slots are threads of one process, whose
client builds (~130 ms of CPU each) then queue behind one GIL: it measures this machine's
interpreter more than the quota. Printed: task failures, duplicate jobs (the queue listed by
the burst's job-name prefix, every status, jobs counted per name), SubmitServiceJob requests
and 429s, the durable submitter's backoff steps (counted by wrapping ``core.backoff.Backoff``
in the workers; the delays are unchanged), the elapsed time (first task start to last task
end) and the achieved rate as a share of the quota: successful submits / elapsed seconds / 5.

Targets (reported, not asserted): waits <= 1/20 call per job per interval at
N = 1,000; memory per wait no worse than ~27-31 KiB; submits 0 failures, 0 duplicates and at
least 80% of the quota.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONN_ID = "bench"
WAIT_QUEUE = "sweep"
SUBMIT_QUEUE = "burst"
SIDES = ("coalesced", "describe-per-wait")
SUBMIT_QUOTA = 5.0  # SubmitServiceJob per second per account (AWS, fixed)
ACTIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING")
#: The waits' jobs run until terminated; the burst's jobs run their course.
SCENARIOS = {"jobs": [{"jobName": "sweep-*", "attempts": [{"result": "HANG"}]}]}
PAYLOAD: dict[str, Any] = {
    "TrainingJobName": "sweep",
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
    "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
    "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_kib() -> int:
    """The peak resident set: the kernel's high-water mark (VmHWM; ru_maxrss is the same
    figure but may lag it)."""
    with open("/proc/self/status") as f:
        hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    return max(hwm, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def calls(stats: dict[str, Any]) -> dict[str, int]:
    """Batch requests by operation (throttled ones included), without the ``throttled`` key."""
    return {op: int(n) for op, n in stats.items() if op != "throttled"}


def throttled(stats: dict[str, Any]) -> int:
    return sum(int(n) for n in (stats.get("throttled") or {}).values())


def minus(b: dict[str, int], a: dict[str, int]) -> dict[str, int]:
    return {
        op: b.get(op, 0) - a.get(op, 0)
        for op in sorted(set(a) | set(b))
        if b.get(op, 0) - a.get(op, 0)
    }


# -- child (a): one side of the waits ----------------------------------------------------------


async def _run_waits(
    side: str, ids: list[str], interval: float, marks: int, remote: Any
) -> dict[str, Any]:
    from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

    if side == "describe-per-wait":
        import airflow_batch_service._shared.waiting as waiting

        original = waiting.arun

        async def arun_alone(
            flow: Any, hook: Any, log: Any, *, on_seen: Any = None, share_polls: Any = None
        ) -> Any:
            return await original(
                flow, hook, log, on_seen=on_seen
            )  # share_polls dropped: no coalescing

        waiting.arun = arun_alone  # the trigger imports arun from the module when it runs

    async def one(job_id: str) -> Any:
        trigger = BatchServiceJobTrigger(
            job_id=job_id, aws_conn_id=CONN_ID, poll_interval=interval, stream_logs=False
        )
        _classpath, kwargs = trigger.serialize()
        rebuilt = BatchServiceJobTrigger(**json.loads(json.dumps(kwargs)))
        return await anext(rebuilt.run())

    started = time.monotonic()
    series = [
        {
            "t": 0.0,
            "cpu": cpu_seconds(),
            "rss": rss_kib(),
            "stats": await asyncio.to_thread(remote.stats),
        }
    ]
    tasks = [asyncio.ensure_future(one(job_id)) for job_id in ids]
    for k in range(1, marks + 1):
        await asyncio.sleep(max(0.0, started + k * interval - time.monotonic()))
        cpu = cpu_seconds()  # before the stats call, whose own cost is not the waits'
        stats = await asyncio.to_thread(remote.stats)
        series.append(
            {"t": time.monotonic() - started, "cpu": cpu, "rss": rss_kib(), "stats": stats}
        )
    ended = [t for t in tasks if t.done()]
    errors = [repr(t.exception())[:200] for t in ended if not t.cancelled() and t.exception()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    rounds = None
    if side == "coalesced":
        from airflow_batch_service._shared import coalesce

        rounds = sum(w.rounds for watches in coalesce._watches.values() for w in watches.values())
    return {"series": series, "ended": len(ended), "errors": errors[:3], "rounds": rounds}


def child_waits(side: str, endpoint: str, ids_file: str, interval: float, marks: int) -> None:
    # Every import both sides need, before the baseline: only the waits themselves count.
    import boto3  # noqa: F401

    # What a wait loads on its first run (the drivers, the shared clients and the hook behind
    # them) is imported here too: a module is paid for once per process, not per wait.
    import airflow_batch_service._shared.clients
    import airflow_batch_service._shared.waiting  # noqa: F401
    from airflow_batch_service.emulator.server import RemoteEmulator
    from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger  # noqa: F401

    with open(ids_file) as f:
        ids = json.load(f)
    remote = RemoteEmulator(endpoint)
    base_rss = rss_kib()
    result = asyncio.run(_run_waits(side, ids, interval, marks, remote))
    result.update(base_rss=base_rss, peak_rss=peak_kib())
    print(json.dumps(result))


# -- child (b): the submit burst ---------------------------------------------------------------


def child_submits(
    prefix: str, count: int, workers: int, backoff_cap: float | None, model: str
) -> None:
    import dataclasses

    import airflow_batch_service._shared.durable as durable
    from airflow_batch_service.core.backoff import Backoff
    from airflow_batch_service.hooks import batch_service as hook_module
    from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

    steps: list[float] = []
    requests: list[float] = []
    lock = threading.Lock()
    submit = hook_module.BatchServiceJobHook.submit_service_job

    def timed_submit(self: Any, *a: Any, **kw: Any) -> Any:  # when each request leaves
        with lock:
            requests.append(time.monotonic())
        return submit(self, *a, **kw)

    hook_module.BatchServiceJobHook.submit_service_job = timed_submit  # type: ignore[method-assign]

    @dataclasses.dataclass(frozen=True)
    class CountingBackoff(Backoff):  # the same delays (unless --backoff-cap); only counted
        cap: float = backoff_cap if backoff_cap is not None else Backoff.cap

        def next_delay(self, failures: int, elapsed: float, rng: Any) -> float | None:
            delay = super().next_delay(failures, elapsed, rng)
            if delay is not None:
                with lock:
                    steps.append(delay)
            return delay

    durable.Backoff = CountingBackoff  # type: ignore[misc]

    class FakeTI:  # tests/provider/support.py's, without pytest
        def __init__(self) -> None:
            self.xcom: dict[str, Any] = {}
            self.try_number = 1
            self.first_reschedule_date = None

        def xcom_push(self, key: str, value: Any) -> None:
            self.xcom[key] = value

    def task(i: int) -> dict[str, Any]:
        begun = time.monotonic()
        operator = BatchSubmitServiceJobOperator(
            task_id=f"submit_{i}",
            aws_conn_id=CONN_ID,
            job_name=f"{prefix}{i}",
            job_queue=SUBMIT_QUEUE,
            service_request_payload=PAYLOAD,
        )
        try:
            job_id = operator.execute({"ti": FakeTI(), "run_id": "manual__sweep_scale"})
            return {"ok": True, "job_id": job_id, "begun": begun, "ended": time.monotonic()}
        except Exception as exc:
            return {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}"[:300],
                "begun": begun,
                "ended": time.monotonic(),
            }

    if model == "threads":
        cpu0 = cpu_seconds()
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(task, range(count)))
        cpu = cpu_seconds() - cpu0
    else:
        results, cpu = _in_processes(task, count, workers, steps, requests, hook_module)
    origin = min(r["begun"] for r in results)
    elapsed = max(r["ended"] for r in results) - origin
    done_at = sorted(r["ended"] - origin for r in results if r["ok"])
    first_request = min(requests, default=origin) - origin
    latencies = sorted(r["ended"] - r["begun"] for r in results)
    print(
        json.dumps(
            {
                "ok": sum(r["ok"] for r in results),
                "failures": [r["error"] for r in results if not r["ok"]],
                "job_ids": [r["job_id"] for r in results if r["ok"]],
                "elapsed": elapsed,
                "done_at": done_at,
                "first_request": first_request,
                "cpu": cpu,
                "latency_p50": latencies[len(latencies) // 2],
                "latency_max": latencies[-1],
                "backoff_steps": len(steps),
                "backoff_max": max(steps, default=0.0),
                "backoff_sum": sum(steps),
            }
        )
    )


def _in_processes(
    task: Any,
    count: int,
    workers: int,
    steps: list[float],
    requests: list[float],
    hook_module: Any,
) -> tuple[list[dict[str, Any]], float]:
    """Run the ``count`` tasks on ``workers`` forked worker processes, as Airflow runs them:
    every task in a process of its own (here: a worker slot's process, its caches cleared
    before each task, so each task builds its client and describes the queue itself).

    The processes are forked with every import done and start together at a barrier, so the
    clock measures the burst, not Python starting up. CPU is the workers' (user + system)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    next_task = ctx.Value("i", 0)
    barrier = ctx.Barrier(workers + 1)
    out = ctx.Queue()

    def slot() -> None:
        done: list[dict[str, Any]] = []
        barrier.wait()
        while True:
            with next_task.get_lock():
                i = next_task.value
                next_task.value += 1
            if i >= count:
                break
            hook_module.clear_cache()  # a task's process starts with nothing cached
            done.append(task(i))
        out.put({"results": done, "steps": steps, "requests": requests})

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [ctx.Process(target=slot, daemon=True) for _ in range(workers)]
    for proc in procs:
        proc.start()
    barrier.wait()
    results: list[dict[str, Any]] = []
    for _ in procs:
        part = out.get(timeout=count * 10 + 600)
        results += part["results"]
        steps += part["steps"]
        requests += part["requests"]
    for proc in procs:
        proc.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return results, cpu


# -- parent ------------------------------------------------------------------------------------


def run_child(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def settle(batch: Any, capacity: int, total: int, deadline: float = 60.0) -> dict[str, int]:
    """Wait until the queue's capacity is taken (the rest RUNNABLE): the jobs' counts by status."""
    stop = time.monotonic() + deadline
    while True:
        counts = {}
        for status in ACTIVE:
            pages = batch.get_paginator("list_service_jobs").paginate(
                jobQueue=WAIT_QUEUE, jobStatus=status
            )
            counts[status] = sum(len(p.get("jobSummaryList") or []) for p in pages)
        settled = counts["RUNNING"] + counts["RUNNABLE"] == total and counts["RUNNING"] >= min(
            capacity, total
        )
        if settled or time.monotonic() > stop:
            return {s: n for s, n in counts.items() if n}
        time.sleep(0.5)


def part_waits(args: argparse.Namespace, server: Any, env: dict[str, str]) -> None:
    remote, batch = server.emulator, server.emulator.client("batch")
    remote.configure(api_quotas="off")
    started = time.perf_counter()
    ids = [
        batch.submit_service_job(
            jobName=f"sweep-{i}",
            jobQueue=WAIT_QUEUE,
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload=json.dumps(PAYLOAD),
        )["jobId"]
        for i in range(args.waits)
    ]
    counts = settle(batch, args.capacity, args.waits)
    print(
        f"\n(a) {args.waits} deferred waits on queue {WAIT_QUEUE!r} ({args.capacity} instances; jobs by status: "
        f"RUNNING {counts.get('RUNNING', 0)}, RUNNABLE {counts.get('RUNNABLE', 0)}; set up in {time.perf_counter() - started:.0f}s, "
        f"quotas off); API quotas {args.quotas} while measuring; poll interval {args.interval:g}s; {args.warmup} warm-up interval(s) discarded, "
        f"{args.polls} measured",
        flush=True,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ids, f)
    marks = args.warmup + args.polls
    header = (
        f"{'side':18s} {'N':>5s} {'calls/job/int':>13s} {'KiB/wait':>9s} {'ms CPU/job/int':>14s} "
        f"{'429s (window)':>13s} {'429s (run)':>10s}"
    )
    rows, details = [header], []
    try:
        for side in SIDES:
            remote.configure(api_quotas=args.quotas)  # off -> on: full buckets
            remote.reset_stats()
            r = run_child(
                [
                    "--interval",
                    str(args.interval),
                    "--child-waits",
                    side,
                    server.endpoint_url,
                    f.name,
                    str(marks),
                ],
                env,
                timeout=marks * args.interval + 600,
            )
            remote.configure(api_quotas="off")
            series = r["series"]
            per_interval = [
                sum(minus(calls(b["stats"]), calls(a["stats"])).values()) / args.waits
                for a, b in itertools.pairwise(series)
            ]
            first, last = series[args.warmup], series[-1]
            window = minus(calls(last["stats"]), calls(first["stats"]))
            intervals = (last["t"] - first["t"]) / args.interval
            per_job = sum(window.values()) / args.waits / intervals
            cpu = 1000 * (last["cpu"] - first["cpu"]) / args.waits / intervals
            memory = (r["peak_rss"] - r["base_rss"]) / args.waits
            rows.append(
                f"{side:18s} {args.waits:5d} {per_job:13.4f} {memory:9.1f} {cpu:14.3f} "
                f"{throttled(last['stats']) - throttled(first['stats']):13d} {throttled(last['stats']):10d}"
            )
            rss = " ".join(f"{(m['rss'] - r['base_rss']) / args.waits:.1f}" for m in series[1:])
            details.append(
                f"{side}: calls per job by interval {' '.join(f'{x:.3f}' for x in per_interval)}; "
                f"resident KiB per wait at the end of each interval {rss} (peak {memory:.1f}); "
                f"window calls {json.dumps(window)}; 429s in the run {json.dumps(last['stats'].get('throttled') or {})}"
                + (f"; listing rounds {r['rounds']}" if r["rounds"] is not None else "")
                + (f"; waits ended early {r['ended']} {r['errors']}" if r["ended"] else "")
            )
            print(f"  {side} done", flush=True)
    finally:
        os.unlink(f.name)
        remote.configure(api_quotas="off")
        for start in range(0, len(ids), 50):
            batch.terminate_service_jobs(jobs=ids[start : start + 50], reason="benchmark done")
    print("\n".join(rows + details), flush=True)


def part_submits(args: argparse.Namespace, server: Any, env: dict[str, str]) -> None:
    remote, batch = server.emulator, server.emulator.client("batch")
    prefix = f"burst-{int(time.time())}-"
    print(
        f"\n(b) {args.submits} submits (BatchSubmitServiceJobOperator.execute) from {args.workers} "
        f"{'worker processes' if args.worker_model == 'processes' else 'threads of one process'} "
        f"against the {SUBMIT_QUOTA:g}/s SubmitServiceJob quota"
        + (
            f" (WHAT-IF: Backoff cap={args.backoff_cap:g}s)" if args.backoff_cap is not None else ""
        ),
        flush=True,
    )
    remote.configure(api_quotas="aws")  # off -> on: full buckets
    remote.reset_stats()
    what_if = ["--backoff-cap", str(args.backoff_cap)] if args.backoff_cap is not None else []
    r = run_child(
        [
            *what_if,
            "--child-submits",
            prefix,
            str(args.submits),
            str(args.workers),
            args.worker_model,
        ],
        env,
        timeout=args.submits * 10 + 900,
    )
    stats = remote.stats()
    remote.configure(api_quotas="off")
    names: dict[str, int] = {}
    pages = batch.get_paginator("list_service_jobs").paginate(
        jobQueue=SUBMIT_QUEUE, filters=[{"name": "JOB_NAME", "values": [prefix + "*"]}]
    )
    for page in pages:
        for job in page.get("jobSummaryList") or []:
            names[job["jobName"]] = names.get(job["jobName"], 0) + 1
    duplicates = sum(n - 1 for n in names.values() if n > 1)
    submit_calls = int(stats.get("SubmitServiceJob", 0))
    submit_429 = int((stats.get("throttled") or {}).get("SubmitServiceJob", 0))
    rate = r["ok"] / r["elapsed"]
    print(
        f"tasks {args.submits}: {r['ok']} succeeded, {len(r['failures'])} failed; jobs listed {sum(names.values())} "
        f"for {len(names)} names: {duplicates} duplicates\n"
        f"SubmitServiceJob requests {submit_calls} ({submit_429} throttled, {submit_calls - submit_429} accepted); "
        f"other Batch calls {json.dumps({k: v for k, v in calls(stats).items() if k != 'SubmitServiceJob'})}, "
        f"throttled {json.dumps({k: v for k, v in (stats.get('throttled') or {}).items() if k != 'SubmitServiceJob'})}\n"
        f"durable backoff steps {r['backoff_steps']} (longest {r['backoff_max']:.1f}s, {r['backoff_sum']:.0f}s slept "
        f"in all); task latency p50 {r['latency_p50']:.1f}s, max {r['latency_max']:.1f}s; CPU {r['cpu']:.1f}s\n"
        f"elapsed {r['elapsed']:.1f}s: {rate:.2f} submits/s = {100 * rate / SUBMIT_QUOTA:.0f}% of the quota",
        flush=True,
    )
    done = r["done_at"]
    if len(done) >= 10:
        marks = {share: done[max(0, int(share * len(done)) - 1)] for share in (0.1, 0.5, 0.9, 1.0)}
        bulk = (int(0.9 * len(done)) - int(0.1 * len(done))) / max(1e-9, marks[0.9] - marks[0.1])
        print(
            f"first SubmitServiceJob request at {r['first_request']:.1f}s; tasks done by: "
            + ", ".join(f"{int(100 * s)}% {t:.1f}s" for s, t in marks.items())
            + f"; between 10% and 90%: {bulk:.2f} submits/s = {100 * bulk / SUBMIT_QUOTA:.0f}% of the quota; "
            f"the last 10% took {marks[1.0] - marks[0.9]:.1f}s",
            flush=True,
        )
    for failure in r["failures"][:5]:
        print(f"  failure: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--waits", type=int, default=1000, help="deferred waits (jobs) on one queue"
    )
    parser.add_argument(
        "--polls", type=int, default=4, help="poll intervals measured (steady state)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="first poll intervals discarded")
    parser.add_argument(
        "--interval",
        type=float,
        default=30.0,
        help="poll interval, seconds (the trigger's default)",
    )
    parser.add_argument("--capacity", type=int, default=8, help="instances of the waits' queue")
    parser.add_argument("--submits", type=int, default=200, help="submits in the burst")
    parser.add_argument(
        "--workers", type=int, default=32, help="concurrent submitting workers (worker slots)"
    )
    parser.add_argument(
        "--worker-model",
        choices=("processes", "threads"),
        default="processes",
        help="(b)'s workers: forked processes, one task at a time each, as Airflow workers run "
        "tasks (default), or threads of one process (every client built under one GIL)",
    )
    parser.add_argument(
        "--quotas",
        choices=("aws", "off"),
        default="aws",
        help="API quotas during (a) (off: to compare)",
    )
    parser.add_argument(
        "--backoff-cap",
        type=float,
        help="what-if for (b): submit with core.backoff.Backoff(cap=X) instead of its default",
    )
    parser.add_argument(
        "--parts", nargs="+", choices=("waits", "submits"), default=["waits", "submits"]
    )
    parser.add_argument("--child-waits", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--child-submits", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_waits:
        side, endpoint, ids_file, marks = args.child_waits
        child_waits(side, endpoint, ids_file, args.interval, int(marks))
        return
    if args.child_submits:
        prefix, count, workers, model = args.child_submits
        child_submits(prefix, int(count), int(workers), args.backoff_cap, model)
        return

    from airflow_batch_service.emulator import EmulatorServer, aws_connection_json

    home = tempfile.mkdtemp(prefix="abs-sweep-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # leave nothing behind
    with EmulatorServer(seconds_per_state=0.05, scenarios=SCENARIOS, api_quotas="aws") as server:
        server.emulator.configure(api_quotas="off")
        server.emulator.create_queue(WAIT_QUEUE, max_capacity=args.capacity)
        server.emulator.create_queue(SUBMIT_QUEUE, max_capacity=10)
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
            f"emulator {server.endpoint_url}, API quotas on (SubmitServiceJob {SUBMIT_QUOTA:g}/s, other Batch "
            f"calls 50/s); {os.cpu_count()} CPUs; python {sys.version.split()[0]}",
            flush=True,
        )
        if "waits" in args.parts:
            part_waits(args, server, env)
        if "submits" in args.parts:
            part_submits(args, server, env)


if __name__ == "__main__":
    main()
