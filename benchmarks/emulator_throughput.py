"""DescribeServiceJob throughput of the emulator with 1,000 jobs in flight.

Prints requests per second in-process (under ``moto.mock_aws``) and over HTTP (the server in
a child process; one client thread and several), so we know the emulator is not the
bottleneck of the provider's own benchmarks. The scheduler is always on: in-process runs
twice, once on a queue with room for every job (all RUNNING) and once on a 10-instance queue
(10 RUNNING, 990 RUNNABLE held back); the server's ``--queue`` queues have 10 instances. It
also times the submits and a full drain (1,000 short jobs through 10 instances, the clock
frozen and moved). A script that prints figures, not a test:

    .venv/bin/python benchmarks/emulator_throughput.py [--jobs 1000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PAYLOAD = json.dumps(
    {
        "TrainingJobName": "bench",
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
    }
)
#: Jobs that run until terminated, so all of them stay in flight while we measure.
HANG = {"jobs": [{"jobName": "bench-*", "attempts": [{"result": "HANG"}]}]}


def submit_jobs(batch: Any, queue: str, count: int) -> list[str]:
    return [
        batch.submit_service_job(
            jobName=f"bench-{i}",
            jobQueue=queue,
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload=PAYLOAD,
        )["jobId"]
        for i in range(count)
    ]


def measure(batch: Any, ids: list[str], requests: int, threads: int = 1) -> float:
    """Requests per second of DescribeServiceJob on random in-flight jobs."""
    rng = random.Random(0)
    picks = [rng.choice(ids) for _ in range(requests)]
    started = time.perf_counter()
    if threads == 1:
        for job_id in picks:
            batch.describe_service_job(jobId=job_id)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda j: batch.describe_service_job(jobId=j), picks))
    return requests / (time.perf_counter() - started)


def in_process(jobs: int, requests: int, capacity: int) -> None:
    import moto

    from airflow_batch_service.emulator import Emulator

    with moto.mock_aws():
        emu = Emulator()
        emu.create_queue("bench", max_capacity=capacity)
        emu.configure(seconds_per_state=0.01)
        emu.load_scenarios(HANG)
        batch = emu.client()
        started = time.perf_counter()
        ids = submit_jobs(batch, "bench", jobs)
        submit_rate = jobs / (time.perf_counter() - started)
        time.sleep(0.1)  # every job that fits is RUNNING by now
        rate = measure(batch, ids, requests)
        running = len(batch.list_service_jobs(jobQueue="bench", maxResults=100)["jobSummaryList"])
        waiting = len(
            batch.list_service_jobs(jobQueue="bench", jobStatus="RUNNABLE", maxResults=100)[
                "jobSummaryList"
            ]
        )
    print(
        f"in-process : {rate:8.0f} DescribeServiceJob/s  ({jobs} jobs in flight on {capacity} instances, "
        f"{requests} calls; first page of RUNNING: {running}, of RUNNABLE: {waiting}; "
        f"{submit_rate:.0f} SubmitServiceJob/s)"
    )


def drain(jobs: int, capacity: int) -> None:
    """Scheduler cost: ``jobs`` one-state jobs through ``capacity`` instances, frozen clock."""
    import moto

    from airflow_batch_service.emulator import Emulator

    with moto.mock_aws():
        emu = Emulator()
        emu.create_queue("drain", max_capacity=capacity)
        emu.configure(seconds_per_state=1, freeze_clock=True)
        batch = emu.client()
        ids = submit_jobs(batch, "drain", jobs)
        emu.advance(jobs // capacity * 4 + 10)
        started = time.perf_counter()
        status = batch.describe_service_job(jobId=ids[-1])["status"]  # replays the whole drain
        elapsed = time.perf_counter() - started
    print(
        f"drain      : {jobs} jobs through {capacity} instances replayed in {elapsed:.2f} s (last job {status})"
    )


def over_http(jobs: int, requests: int, threads: int) -> None:
    from botocore.config import Config

    from airflow_batch_service.emulator import EmulatorServer

    with EmulatorServer(queues=["bench"], seconds_per_state=0.01, scenarios=HANG) as server:
        assert server.emulator is not None
        batch = server.emulator.client(config=Config(max_pool_connections=max(10, threads)))
        ids = submit_jobs(batch, "bench", jobs)
        time.sleep(0.1)
        single = measure(batch, ids, requests)
        multi = measure(batch, ids, requests, threads)
    print(
        f"over HTTP  : {single:8.0f} DescribeServiceJob/s  (1 client thread; {jobs} jobs in flight on 10 instances)"
    )
    print(f"over HTTP  : {multi:8.0f} DescribeServiceJob/s  ({threads} client threads)")


def sqs_backlog(queued: int) -> None:
    """An event queue with a backlog (a thousand jobs' state changes): SendMessageBatch and a
    drain (ReceiveMessage of 10, DeleteMessageBatch) on moto's queue counts and on the
    emulator's (``emulator.sqs_speed``), in-process, the same run."""
    from moto import mock_aws
    from moto.sqs.models import Queue

    from airflow_batch_service.emulator import Emulator
    from airflow_batch_service.emulator.sqs_speed import FAST, MOTO

    rates = {}
    for side, counts in (("moto", MOTO), ("emulator", FAST)):
        with mock_aws():
            sqs = Emulator().client("sqs")
            url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
            entries = [{"Id": str(k), "MessageBody": "e" * 700} for k in range(10)]
            for _ in range(queued // 10):  # filled fast on both sides: moto's would take minutes
                sqs.send_message_batch(QueueUrl=url, Entries=entries)
            for name, counted in counts.items():
                setattr(Queue, name, counted)
            start = time.perf_counter()
            for _ in range(10):
                sqs.send_message_batch(QueueUrl=url, Entries=entries)
            send = 10 / (time.perf_counter() - start)
            start, drained = time.perf_counter(), 0
            while drained < 200:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
                receipts = [
                    {"Id": str(k), "ReceiptHandle": m["ReceiptHandle"]} for k, m in enumerate(got)
                ]
                sqs.delete_message_batch(QueueUrl=url, Entries=receipts)
                drained += len(got)
            rates[side] = (send, drained / (time.perf_counter() - start))
    for name, counted in FAST.items():  # as installed
        setattr(Queue, name, counted)
    for side, (send, drain_rate) in rates.items():
        print(
            f"SQS, {queued:,} queued, {side:8s} counts: {send:7.1f} SendMessageBatch/s, "
            f"{drain_rate:7.0f} messages/s received and deleted"
        )
    fast, slow = rates["emulator"], rates["moto"]
    print(
        f"SQS backlog: emulator/moto {fast[0] / slow[0]:.0f}x sends, {fast[1] / slow[1]:.0f}x drain"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--queued", type=int, default=5000, help="SQS messages queued (about 1,000 jobs' events)"
    )
    args = parser.parse_args()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    in_process(args.jobs, args.requests, capacity=args.jobs)
    in_process(args.jobs, args.requests, capacity=10)
    drain(args.jobs, capacity=10)
    over_http(args.jobs, args.requests, args.threads)
    sqs_backlog(args.queued)


if __name__ == "__main__":
    main()
