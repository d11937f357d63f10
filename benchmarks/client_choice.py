"""Which async client should ``BatchServiceJobTrigger`` share: aiobotocore, or boto3 offloaded to
a thread? A script that prints figures, not a test:

    .venv/bin/python benchmarks/client_choice.py [--waits 1000] [--polls 5]

Against the emulator server (jobs that HANG), each mode runs in a fresh subprocess: ONE shared
client, ``--waits`` concurrent coroutines each polling DescribeServiceJob ``--polls`` times one
second apart (jittered). Printed: resident memory after creating the client and after the run
(minus the process's baseline), CPU seconds per describe, and the median / p95 latency of a
describe as seen by the coroutine (event-loop queueing included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.emulator_throughput import HANG, submit_jobs


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def child(mode: str, endpoint: str, ids: list[str], polls: int) -> dict[str, float]:
    import aiobotocore.session
    import boto3

    base = rss_kib()
    kwargs = dict(
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    if mode == "aiobotocore":
        from aiobotocore.config import AioConfig

        session = aiobotocore.session.get_session()
        cm = session.create_client("batch", config=AioConfig(max_pool_connections=10), **kwargs)
        client = await cm.__aenter__()

        async def describe(job_id: str) -> None:
            await client.describe_service_job(jobId=job_id)
    else:
        import boto3

        client = boto3.session.Session().client("batch", **kwargs)

        async def describe(job_id: str) -> None:
            await asyncio.to_thread(client.describe_service_job, jobId=job_id)

    await describe(ids[0])  # warm: first call loads the service model
    after_client = rss_kib()
    latencies: list[float] = []
    rng = random.Random(0)

    async def wait(job_id: str) -> None:
        await asyncio.sleep(rng.uniform(0, 1))
        for _ in range(polls):
            t = time.perf_counter()
            await describe(job_id)
            latencies.append(time.perf_counter() - t)
            await asyncio.sleep(rng.uniform(0.9, 1.1))

    c0 = cpu()
    await asyncio.gather(*(wait(j) for j in ids))
    c1 = cpu()
    peak = rss_kib()
    if mode == "aiobotocore":
        await cm.__aexit__(None, None, None)
    latencies.sort()
    return {
        "client_kib": after_client - base,
        "run_kib": peak - base,
        "cpu_s": c1 - c0,
        "cpu_ms_per_describe": 1000 * (c1 - c0) / len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * len(latencies))],
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--waits", type=int, default=1000)
    p.add_argument("--polls", type=int, default=5)
    p.add_argument("--child", nargs=3, metavar=("MODE", "ENDPOINT", "IDS_FILE"))
    a = p.parse_args()
    if a.child:
        mode, endpoint, ids_file = a.child
        with open(ids_file) as f:
            ids = json.load(f)
        print(json.dumps(asyncio.run(child(mode, endpoint, ids, a.polls))))
        return
    import tempfile

    from airflow_batch_service.emulator import EmulatorServer

    with EmulatorServer(queues=["q"], seconds_per_state=0.05, scenarios=HANG) as server:
        batch = server.emulator.client("batch")
        ids = submit_jobs(batch, "q", a.waits)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(ids, f)
        print(
            f"{a.waits} concurrent waits x {a.polls} polls, one shared client, emulator {server.endpoint_url}"
        )
        for mode in ("aiobotocore", "thread"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--polls",
                    str(a.polls),
                    "--child",
                    mode,
                    server.endpoint_url,
                    f.name,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{mode:12s} client {r['client_kib']:7.0f} KiB  run {r['run_kib']:7.0f} KiB  "
                f"CPU {r['cpu_s']:6.2f} s = {r['cpu_ms_per_describe']:.2f} ms/describe  "
                f"latency p50 {r['p50_ms']:.1f} ms p95 {r['p95_ms']:.1f} ms"
            )
        os.unlink(f.name)


if __name__ == "__main__":
    main()
