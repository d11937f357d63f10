"""``@task.batch_service`` on a real scheduler, worker and triggerer, against the emulator's
server, which runs each decorated function for real.

1. A mapped sweep, deferred to the triggerer, returns each function's value in XCom and a
   downstream task picks the best from them.
2. A worker SIGKILLed while it waits: the next try reattaches to the running job, uploads
   nothing and submits nothing, and returns the function's value. The job waits at a named
   gate in RUNNING (``support.hold_jobs``) until the test has crashed and retried the task.
"""

from __future__ import annotations

from typing import Any

from .stack import AirflowStack
from .support import (
    crash_and_retry,
    dag_source,
    hold_jobs,
    job_name,
    status_of,
    submitted_job,
    trigger_started,
)

BUCKET = "it-decorator"
DECORATOR_HEAD = f"""
from airflow.sdk import task

OUTPUT = "s3://{BUCKET}/out"
COMMON = dict(
    aws_conn_id=CONN, job_queue=QUEUE, image_uri="python:3.11", output_s3_uri=OUTPUT,
    role_arn="arn:aws:iam::123456789012:role/SageMakerTrainingRole", poll_interval=1,
)
"""


def _bucket(emulator: Any) -> None:
    s3 = emulator.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=BUCKET)


def test_a_deferred_mapped_sweep_returns_each_functions_value(
    stack: AirflowStack, emulator: Any
) -> None:
    _bucket(emulator)
    dag_id = "it_decorator_sweep"
    # Each job waits in RUNNING (its function already run) until every wait is in the
    # triggerer and the scheduler has seen each deferring process end (``trigger_started``).
    hold_jobs(emulator, "square", RUNNING="decorator-sweep")
    stack.add_dag_file(
        dag_source(
            dag_id,
            DECORATOR_HEAD
            + """
@task.batch_service(**COMMON, deferrable=True, retries=0)
def square(x: int) -> dict:
    print(f"squaring {x}")
    return {"x": x, "square": x * x}

@task
def biggest(results):
    return max(r["square"] for r in results)

biggest(square.expand(x=[2, 3, 4]))
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    trigger_started(stack, dag_id, run_id, "square", map_indexes=(0, 1, 2))
    assert len(emulator.wait_at_gate("decorator-sweep", count=3)) == 3
    emulator.open_gate("decorator-sweep")
    stack.wait_for_run(dag_id, run_id, timeout=300)
    assert stack.xcom(dag_id, run_id, "biggest") == 16
    for index, x in enumerate([2, 3, 4]):
        value = stack.xcom(dag_id, run_id, "square", map_index=index)
        assert value == {"x": x, "square": x * x}, value
    log = stack.task_log(dag_id, run_id, "square")
    for x in (2, 3, 4):
        assert f"squaring {x}" in log, log[-3000:]  # streamed from each training job's log
    assert log.count("Deferring the wait on service job") == 3
    assert emulator.stats().get("SubmitServiceJob") == 3


def test_a_worker_crash_reattaches_without_uploading_or_submitting_again(
    stack: AirflowStack, emulator: Any
) -> None:
    _bucket(emulator)
    dag_id = "it_decorator_crash"
    name = job_name(dag_id)
    hold_jobs(emulator, name, RUNNING="decorator-crash")
    stack.add_dag_file(
        dag_source(
            dag_id,
            DECORATOR_HEAD
            + f"""
@task.batch_service(
    **COMMON, job_name={name!r}, retries=1, retry_delay=timedelta(seconds=1),
)
def train(lr: float) -> float:
    print("training")
    return lr * 10

train(0.5)
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    stack.wait_for_task(dag_id, run_id, "train", {"running"}, fail_on={"failed", "success"})
    job_id = submitted_job(stack, emulator, dag_id, run_id, "train")
    assert emulator.wait_at_gate("decorator-crash") == [job_id]

    crash_and_retry(stack, dag_id, run_id, "train", job_id)
    second = stack.task_log(dag_id, run_id, "train", try_number=2)
    assert "already at" in second and "not uploading them again" in second, second[-3000:]
    assert status_of(emulator, job_id) == "RUNNING"
    emulator.open_gate("decorator-crash")
    stack.wait_for_run(dag_id, run_id, timeout=300)
    ti = stack.task_instance(dag_id, run_id, "train")
    assert (ti["try_number"], ti["state"]) == (2, "success"), ti
    assert stack.xcom(dag_id, run_id, "train") == 5.0
    stats = emulator.stats()
    assert stats.get("SubmitServiceJob") == 1, stats
    assert "Uploaded train()" in stack.task_log(dag_id, run_id, "train", try_number=1)
    assert "Uploaded train()" not in second
