"""AWS's service-job events on a real scheduler and triggerer.

A deferred operator whose wait reads the events (its reconciliation poll an hour away) ends
when its job's SUCCEEDED event reaches the triggerer, and its log says which event woke it.
The emulator publishes "Batch Service Job State Change" events into its EventBridge, routed to
an SQS queue, as its clock moves a job. A DAG scheduled on an asset whose ``AssetWatcher``
runs ``BatchServiceJobEventTrigger`` starts when a job submitted with plain boto3, outside
Airflow, ends: on Airflow 3.3 through the triggerer's shared streams (ack mode), before that
through the process's event feed.
"""

from __future__ import annotations

import json
from typing import Any

from .stack import AirflowStack
from .support import EMULATOR_CONN_ID, dag_source, hold_jobs, job_name, until

WATCHER_DAG = """
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_batch_service.triggers.service_job_events import BatchServiceJobEventTrigger

finished = Asset(
    "batch-service://%(queue)s/it-watch-finished",
    watchers=[
        AssetWatcher(
            name="it_watch_jobs_ended",
            trigger=BatchServiceJobEventTrigger(
                event_queue=%(event_queue)r,
                job_queues=[%(queue)r],
                job_name_prefix="it-watch-",
                aws_conn_id=%(conn)r,
            ),
        )
    ],
)

with DAG(dag_id=%(dag_id)r, schedule=[finished], catchup=False) as dag:

    @task
    def seen(triggering_asset_events=None):
        return [
            event.extra.get("payload") or event.extra
            for events in triggering_asset_events.values()
            for event in events
        ]

    seen()
"""


def test_a_watcher_starts_a_dag_when_a_job_submitted_with_boto3_ends(
    stack: AirflowStack, emulator: Any
) -> None:
    run_watcher(stack, emulator, "it_watch_jobs", "it-watch-events")


def run_watcher(stack: AirflowStack, emulator: Any, dag_id: str, queue_name: str) -> None:
    """Deploy the watcher's DAG, submit a job with boto3, and check the run it started."""
    emulator.configure(seconds_per_state=0.5)
    event_queue = emulator.event_queue(queue_name, job_queues=[emulator.queue_name])
    dag_file = stack.add_dag_file(
        WATCHER_DAG
        % {
            "dag_id": dag_id,
            "queue": emulator.queue_name,
            "event_queue": event_queue,
            "conn": EMULATOR_CONN_ID,
        },
        f"{dag_id}.py",
    )
    try:
        _watch(stack, emulator, dag_id)
    finally:
        # Without its DAG the watcher's trigger goes: later tests reset the emulator, and a
        # watcher left on a queue that no longer exists fails and restarts in the
        # triggerers for the rest of the session.
        dag_file.unlink(missing_ok=True)


def _watch(stack: AirflowStack, emulator: Any, dag_id: str) -> None:
    stack.wait_for_dag(dag_id)
    stack.unpause(dag_id)
    # No need to wait for the watcher to start: the job's events wait in its own SQS queue.
    batch = emulator.client()
    payload = {
        "TrainingJobName": "it-watch",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
        "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out/"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    job_id = batch.submit_service_job(
        jobName="it-watch-nightly",
        jobQueue=emulator.queue_name,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload=json.dumps(payload),
    )["jobId"]

    def started_run() -> str | None:
        runs = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
        return runs[0]["dag_run_id"] if runs else None

    run_id = until("the watcher starting a run", started_run, 240, stack, dag_id, "-")
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=240)
    seen = stack.xcom(dag_id, run_id, "seen")
    assert isinstance(seen, list) and seen, seen
    assert seen[0]["job_id"] == job_id and seen[0]["status"] == "SUCCEEDED", seen
    assert seen[0]["job_name"] == "it-watch-nightly"


def test_a_deferred_wait_on_the_real_triggerer_ends_on_its_event(
    stack: AirflowStack, emulator: Any
) -> None:
    dag_id = "it_event_woken_wait"
    name = job_name(dag_id)
    gate = "event-woken-trained"
    hold_jobs(emulator, name, RUNNING=gate)
    queue_url = emulator.event_queue("it-wait-events", job_queues=[emulator.queue_name])
    stack.add_dag_file(
        dag_source(
            dag_id,
            f"""
BatchSubmitServiceJobOperator(
    task_id="train", aws_conn_id=CONN, job_queue=QUEUE, job_name={name!r},
    service_request_payload=PAYLOAD, wait_for_completion=True, deferrable=True,
    poll_interval=2, event_queue={queue_url!r}, reconcile_interval=3600,
)
""",
        ),
        f"{dag_id}.py",
    )
    stack.wait_for_dag(dag_id)
    run_id = stack.trigger(dag_id)
    until(
        "the wait deferred and reading events",
        lambda: "woken by its state-change events" in stack.trigger_log(dag_id, run_id, "train"),
        240,
        stack,
        dag_id,
        run_id,
    )
    emulator.wait_at_gate(gate)
    until(
        "the wait's first look at its RUNNING job",
        lambda: " is RUNNING" in stack.trigger_log(dag_id, run_id, "train"),
        240,
        stack,
        dag_id,
        run_id,
    )
    emulator.open_gate(gate)
    stack.wait_for_run(dag_id, run_id, states={"success"}, timeout=240)
    log = stack.trigger_log(dag_id, run_id, "train")
    assert "Woken by a state-change event" in log and "is SUCCEEDED (event" in log, log[-3000:]
