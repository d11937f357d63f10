"""Deferred waits woken by the emulator's state-change events, in-process and over HTTP.

The emulator publishes AWS Batch's "Batch Service Job State Change" events into its
EventBridge, routed to an SQS queue, as its clock moves a job. The waits here poll only at a
reconciliation interval far longer than the tests: a wait that ends did so on an event, or on
the reconciliation poll a test sets short on purpose. Time is driven: the emulator's clock is
frozen and moved by the test, after the waits have subscribed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from typing import Any

import pytest

from airflow_batch_service._shared import coalesce, event_feed
from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

from .support import PAYLOAD, describe, output, rebuild, submit, unique

pytestmark = pytest.mark.usefixtures("fresh_shared_clients")

NEVER = 3600.0  # a reconciliation interval no test outlives: only events end these waits


@pytest.fixture(params=["in_process", "http"])
def emu(request, monkeypatch):
    from .support import connect_emulator

    monkeypatch.setattr(event_feed, "WAIT_SECONDS", 1)  # short long-polls: quick teardown
    emulator = connect_emulator(request, monkeypatch, request.param, 1.0)
    emulator.configure(freeze_clock=True)
    return emulator


def trigger(job_id: str, queue_url: str, **kwargs: Any) -> BatchServiceJobTrigger:
    kwargs.setdefault("poll_interval", 0.2)
    kwargs.setdefault("reconcile_interval", NEVER)
    return rebuild(
        BatchServiceJobTrigger(
            job_id=job_id,
            aws_conn_id="emu",
            stream_logs=False,
            event_queue=queue_url,
            **kwargs,
        )
    )


async def until(condition, what: str, timeout: float = 90.0) -> None:
    """Await ``condition()`` (bounded, generous), failing with what was awaited."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s awaiting {what}"
        await asyncio.sleep(0.02)


async def drive(emu, runs: list[asyncio.Task], step: float = 1.0, limit: int = 200) -> None:
    """Move the emulator's clock a step at a time until every wait has ended."""
    for _ in range(limit):
        if all(run.done() for run in runs):
            return
        await asyncio.to_thread(emu.advance, step)
        await until(lambda: taken(emu), "the waits to take every event delivered so far")
    await until(lambda: all(run.done() for run in runs), "every wait to end")


def taken(emu) -> bool:
    """Whether the running loop's feeds have read every event the emulator delivered and
    every wait has taken what woke it: the next clock step cannot overtake an event."""
    feeds = list(event_feed._feeds.get(asyncio.get_running_loop(), {}).values())
    delivered = (emu.stats().get("events") or {}).get("delivered", 0)
    if sum(feed.stats["received"] for feed in feeds) < delivered:
        return False
    waits = [cb.__self__ for feed in feeds for cbs in feed.subscribers.values() for cb in cbs]
    return all(getattr(wait, "_note", None) is None for wait in waits)


def subscribed(job_ids: list[str]) -> bool:
    """Whether every job has a wait subscribed to the running loop's feed."""
    feeds = event_feed._feeds.get(asyncio.get_running_loop(), {})
    waiting = {job for feed in feeds.values() for job in feed.subscribers}
    return set(job_ids) <= waiting


def run_waits(emu, triggers: list[BatchServiceJobTrigger], **drive_kwargs) -> list[dict]:
    async def main() -> list[dict]:
        runs = [asyncio.ensure_future(anext(t.run())) for t in triggers]
        await until(lambda: subscribed([t.job_id for t in triggers]), "every wait to subscribe")
        await until(
            lambda: emu.stats().get("DescribeServiceJob", 0) >= len(triggers),
            "every wait's first describe",
        )
        await drive(emu, runs, **drive_kwargs)
        return [(await run).payload for run in runs]

    return asyncio.run(main())


def test_a_wait_ends_on_its_event_with_one_describe_at_the_end(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    queue_url = emu.event_queue(unique("events"), job_queues=[emu.queue_name])
    job_id = submit(emu, unique("evented"))
    emu.reset_stats()
    [event] = run_waits(emu, [trigger(job_id, queue_url)])
    stats = emu.stats()
    assert event["status"] == "success", event
    # The first look and the one the SUCCEEDED event asked for; the states between came from
    # events (at 0.2 s polls over several seconds it would be dozens).
    assert stats["DescribeServiceJob"] == 2, stats
    assert stats.get("ListServiceJobs", 0) == 0
    assert describe(emu, job_id)["status"] == "SUCCEEDED"
    seen = [t["status"] for t in event["timeline"]]
    assert seen[-1] == "SUCCEEDED" and "RUNNING" in seen, seen
    log = output(capsys, caplog)
    assert "woken by its state-change events from" in log
    assert f"service job {job_id} is RUNNING (event" in log
    assert f"service job {job_id} is SUCCEEDED (event" in log and "describing it" in log


def test_event_waits_after_short_polling_waits_in_the_same_process_end_on_events(
    emu, capsys, caplog
):
    """A triggerer first runs waits polling every 0.2 s, then waits woken by events with an
    hourly reconciliation on the same queue: those end on their events, and the queue is
    not listed at the departed waits' 0.2 s (each a full listing round)."""
    from airflow_batch_service.core.sweep import MIN_WAITS

    caplog.set_level(logging.INFO)
    polled = [submit(emu, unique("polled")) for _ in range(MIN_WAITS)]

    async def main() -> tuple[list[dict], dict]:
        polling = [
            asyncio.ensure_future(
                anext(
                    rebuild(
                        BatchServiceJobTrigger(
                            job_id=j, aws_conn_id="emu", stream_logs=False, poll_interval=0.2
                        )
                    ).run()
                )
            )
            for j in polled
        ]
        await drive(emu, polling)
        queue_url = await asyncio.to_thread(
            emu.event_queue, unique("events"), job_queues=[emu.queue_name]
        )
        jobs = [await asyncio.to_thread(submit, emu, unique("evented")) for _ in range(MIN_WAITS)]
        await asyncio.to_thread(emu.reset_stats)
        runs = [asyncio.ensure_future(anext(trigger(j, queue_url).run())) for j in jobs]
        await until(lambda: subscribed(jobs), "every wait to subscribe")
        await until(
            lambda: emu.stats().get("DescribeServiceJob", 0) >= len(jobs),
            "every wait's first describe",
        )
        watches = coalesce._watches[asyncio.get_running_loop()]
        await until(
            lambda: sum(len(w.waits) for w in watches.values()) == MIN_WAITS,
            "every wait to join its queue's listing round",
        )
        [watch] = watches.values()
        assert watch.active
        # The next round is an hour away, not 0.2 s: a round every 0.2 s would also answer
        # the waits before their events do.
        assert watch.interval == NEVER and watch.due() - time.monotonic() > NEVER / 2
        await drive(emu, runs)
        payloads = [(await run).payload for run in runs]
        return payloads, await asyncio.to_thread(emu.stats)

    events, stats = asyncio.run(main())
    assert [e["status"] for e in events] == ["success"] * MIN_WAITS, events
    assert stats.get("ListServiceJobs", 0) == 0, stats
    log = output(capsys, caplog)
    for event in events:
        assert f"service job {event['job_id']} is SUCCEEDED (event" in log, event["job_id"]


def test_an_event_saying_a_job_ended_is_checked_and_never_ends_the_wait_by_itself(
    emu, capsys, caplog
):
    """A forged (or stale) SUCCEEDED event for a running job: the wait describes, sees the job
    still running, and goes on; it ends when the job really ends, with the real outcome."""
    caplog.set_level(logging.INFO)
    queue_url = emu.event_queue(unique("events"), job_queues=[emu.queue_name])
    job_id = submit(emu, unique("forged"))
    sqs = emu.client("sqs")
    forged = {
        "version": "0",
        "id": "forged-1",
        "detail-type": "Batch Service Job State Change",
        "source": "aws.batch",
        "account": "123456789012",
        "time": "2026-12-07T05:40:00Z",
        "region": emu.region,
        "resources": [],
        "detail": {"jobId": job_id, "status": "SUCCEEDED", "attempts": []},
    }

    async def main() -> dict:
        run = asyncio.ensure_future(anext(trigger(job_id, queue_url).run()))
        await until(lambda: subscribed([job_id]), "the wait to subscribe")
        await until(lambda: emu.stats().get("DescribeServiceJob", 0) >= 1, "the first describe")
        await asyncio.to_thread(
            sqs.send_message, QueueUrl=queue_url, MessageBody=json.dumps(forged)
        )
        await until(lambda: emu.stats()["DescribeServiceJob"] >= 2, "the describe it asks for")
        assert not run.done(), "a SUCCEEDED event ended a wait on a job that had not ended"
        batch = emu.client("batch")
        await asyncio.to_thread(batch.terminate_service_job, jobId=job_id, reason="test stops it")
        await drive(emu, [run])
        return (await run).payload

    event = asyncio.run(main())
    assert event["status"] == "failed" and "test stops it" in json.dumps(event), event
    assert "event forged-1" in output(capsys, caplog)


def test_dropped_duplicated_and_reordered_events_lose_no_wait(emu):
    """A fifth of the events dropped, a tenth twice, some late and out of order: every wait
    ends with its job's real outcome, the dropped endings caught by the reconciliation poll."""
    emu.configure(events={"drop": 0.2, "duplicate": 0.1, "reorder": 0.2, "seed": 7})
    queue_url = emu.event_queue(unique("events"), job_queues=[emu.queue_name])
    jobs = [submit(emu, unique("lossy")) for _ in range(8)]
    stopped = set(jobs[:2])
    batch = emu.client("batch")
    for job_id in stopped:
        batch.terminate_service_job(jobId=job_id, reason="stopped by the test")
    emu.reset_stats()
    # Reconciliation every 2 s: long next to the events, short enough for a test.
    events = run_waits(emu, [trigger(j, queue_url, reconcile_interval=2.0) for j in jobs])
    for job_id, event in zip(jobs, events, strict=True):
        expected = "failed" if job_id in stopped else "success"
        assert event["status"] == expected, (job_id, event)
        assert describe(emu, job_id)["status"] == ("FAILED" if job_id in stopped else "SUCCEEDED")
    published = emu.stats()["events"]
    assert published["dropped"] > 0 and published["duplicated"] > 0, published


def test_an_unreadable_queue_leaves_the_wait_polling(emu, capsys, caplog):
    caplog.set_level(logging.INFO)
    job_id = submit(emu, unique("noqueue"))
    emu.configure(freeze_clock=False)
    [event] = asyncio.run(_first(trigger(job_id, "no-such-queue", poll_interval=0.2)))
    assert event["status"] == "success"
    log = output(capsys, caplog)
    assert "Cannot read service-job events from SQS queue no-such-queue" in log


async def _first(*triggers: BatchServiceJobTrigger) -> list[dict]:
    return [(await anext(t.run())).payload for t in triggers]


def test_a_wait_without_events_stores_the_same_trigger_row_as_before():
    _, kwargs = BatchServiceJobTrigger(job_id="j").serialize()
    assert "event_queue" not in kwargs and "reconcile_interval" not in kwargs
    _, kwargs = BatchServiceJobTrigger(
        job_id="j", event_queue="q", reconcile_interval=60
    ).serialize()
    assert (kwargs["event_queue"], kwargs["reconcile_interval"]) == ("q", 60)
    assert BatchServiceJobTrigger(**kwargs).spec.wait_interval == 60


def test_an_event_woken_wait_retries_a_throttled_describe_on_its_poll_interval():
    from airflow_batch_service._shared.waiting import job_wait
    from airflow_batch_service.core.errors import ErrorKind

    spec = BatchServiceJobTrigger(
        job_id="j", event_queue="q", poll_interval=30, reconcile_interval=600
    ).spec
    wait = job_wait(spec, deferred=True)
    step = wait.loop.on_error(ErrorKind.TRANSIENT, "Rate exceeded", 0)
    assert 15 <= step.sleep <= 60, step.sleep  # not 300-600 s, the reconciliation's backoff


# -- the watcher of jobs submitted elsewhere ------------------------------------------------


def test_the_watcher_fires_for_matching_jobs_submitted_with_plain_boto3(emu):
    """Jobs submitted outside Airflow; the watcher fires for the final state of those its
    filter names (job-name prefix), once each, and not for the others."""
    from airflow_batch_service.triggers.service_job_events import BatchServiceJobEventTrigger

    queue_url = emu.event_queue(unique("watch"), job_queues=[emu.queue_name])
    batch = emu.client("batch")

    def boto3_submit(name: str) -> str:
        return batch.submit_service_job(
            jobName=name,
            jobQueue=emu.queue_name,
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload=json.dumps(PAYLOAD),
        )["jobId"]

    wanted = [boto3_submit(unique("nightly")) for _ in range(2)]
    other = boto3_submit(unique("adhoc"))
    watcher = BatchServiceJobEventTrigger(
        event_queue=queue_url,
        job_queues=[emu.queue_name],
        job_name_prefix="nightly",
        aws_conn_id="emu",
    )
    classpath, kwargs = watcher.serialize()
    watcher = BatchServiceJobEventTrigger(**json.loads(json.dumps(kwargs)))

    async def main() -> list[dict]:
        stream = watcher.run()
        fired: list[dict] = []
        first = asyncio.ensure_future(anext(stream))
        await until(lambda: _listening(), "the watcher to listen")
        runs = [first]
        for _ in range(200):
            if len(fired) == 2:
                break
            await asyncio.to_thread(emu.advance, 1.0)
            await asyncio.sleep(0.05)
            while runs[-1].done():
                fired.append(runs[-1].result().payload)
                runs.append(asyncio.ensure_future(anext(stream)))
        await until(lambda: len(fired) >= 2 or runs[-1].done(), "two events")
        runs[-1].cancel()
        return fired

    fired = asyncio.run(main())
    assert classpath.endswith("service_job_events.BatchServiceJobEventTrigger")
    assert sorted(e["job_id"] for e in fired) == sorted(wanted), fired
    assert all(e["status"] == "SUCCEEDED" and e["job_name"].startswith("nightly") for e in fired)
    assert other not in {e["job_id"] for e in fired}
    json.dumps(fired, allow_nan=False)


def _listening() -> bool:
    feeds = event_feed._feeds.get(asyncio.get_running_loop(), {})
    return any(feed.listeners for feed in feeds.values())


def test_the_watcher_refuses_a_bad_filter_naming_the_argument():
    from airflow_batch_service.triggers.service_job_events import BatchServiceJobEventTrigger

    with pytest.raises(ValueError, match="statuses"):
        BatchServiceJobEventTrigger(event_queue="q", statuses=["DONE"])
    with pytest.raises(ValueError, match="event_queue"):
        BatchServiceJobEventTrigger(event_queue="")


def test_on_airflow_3_3_watchers_share_one_stream_that_deletes_only_what_was_stored(emu):
    """The ack-mode producer: a message a watcher took and Airflow stored is deleted; one no
    watcher here took is given back for the other triggerers; one whose event Airflow could
    not store is given back to be delivered again."""
    shared_stream = pytest.importorskip("airflow.triggers.shared_stream")
    from airflow_batch_service._shared.event_stream import SqsEventProducer
    from airflow_batch_service.triggers.service_job_events import BatchServiceJobEventTrigger

    queue_url = emu.event_queue(unique("stream"), job_queues=[emu.queue_name])
    sqs = emu.client("sqs")
    for job in ("a", "b", "c"):
        body = {
            "source": "aws.batch",
            "detail-type": "Batch Service Job State Change",
            "id": f"ev-{job}",
            "detail": {"jobId": job, "jobName": f"nightly-{job}", "status": "SUCCEEDED"},
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    kwargs = {"event_queue": queue_url, "aws_conn_id": "emu"}
    watcher = BatchServiceJobEventTrigger(**kwargs)
    key = watcher.shared_stream_key()
    assert key == BatchServiceJobEventTrigger(**kwargs, job_name_prefix="x").shared_stream_key()
    producer = BatchServiceJobEventTrigger.create_shared_stream_producer(watcher.serialize()[1])
    assert isinstance(producer, SqsEventProducer)

    async def main() -> list:
        stream = producer.open_stream()
        raws = []
        while len(raws) < 3:
            raw, payload = await anext(stream)
            assert raw is payload
            raws.append(raw)
        await stream.aclose()
        return raws

    raws = sorted(asyncio.run(main()), key=lambda raw: raw.event.job_id)
    raws[0].taken = raws[2].taken = True
    outcome = shared_stream.AdvanceOutcome
    batch = [
        shared_stream.AdvanceItem(raws[0], outcome(acked=1, failed=0)),
        shared_stream.AdvanceItem(raws[1], outcome(acked=1, failed=0)),
        shared_stream.AdvanceItem(raws[2], outcome(acked=0, failed=1)),
    ]
    asyncio.run(producer.advance(batch))
    left = []
    deadline = time.monotonic() + 60
    while len(left) < 2 and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        left += [json.loads(m["Body"])["detail"]["jobId"] for m in got.get("Messages", [])]
    assert sorted(left) == ["b", "c"], left  # "a" was stored and deleted


# -- in a DAG run ----------------------------------------------------------------------------


def test_a_dag_run_waits_on_events_named_by_the_connection(
    airflow_home, batch_emulator_server, monkeypatch, capsys, caplog
):
    """The deferrable example DAG, unchanged, on a connection whose extra names the events
    queue: its deferred wait ends on the SUCCEEDED event (its reconciliation poll is 5
    minutes away), and its log says so."""
    from .support_dags import EXAMPLE_SCENARIOS, example_dag, point_example_dags_at, xcom

    caplog.set_level(logging.INFO)
    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.1, freeze_clock=False)
    emu.load_scenarios(EXAMPLE_SCENARIOS)
    point_example_dags_at(monkeypatch, emu, "emu_events")
    queue_url = emu.event_queue(unique("dag-events"), job_queues=[emu.queue_name])
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {
            "region_name": emu.region,
            "endpoint_url": emu.endpoint_url,
            "service_job_event_queue": queue_url,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_EMU_EVENTS", json.dumps(connection))
    # The job stays RUNNING until the wait in the (inline) trigger has seen it: otherwise a
    # quick job can end before the wait's first describe, and no event is needed.
    gate = unique("dag-events")
    emu.load_scenarios(
        {
            "jobs": [
                {
                    "jobName": "deferred-*",
                    "attempts": [{"result": "SUCCEEDED", "holdUntilReleased": {"RUNNING": gate}}],
                }
            ]
        }
    )
    opener = threading.Thread(target=_open_once_a_wait_saw_its_job, args=(emu, gate), daemon=True)
    opener.start()
    dag_run = example_dag(airflow_home, "example_batch_service_deferrable").test()
    opener.join(timeout=5)
    log = output(capsys, caplog)
    assert str(dag_run.state).endswith("success"), log[-3000:]
    ti = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "train_deferred")
    assert xcom(ti, task_ids="train_deferred", key="summary")["status"] == "SUCCEEDED"
    assert f"woken by its state-change events from {queue_url}" in log
    assert "is SUCCEEDED (event" in log and "describing it" in log


# -- where a task's events come from ----------------------------------------------------------


def test_tasks_name_their_events_queue_or_take_the_connections(emu, monkeypatch):
    from .support import deferred, make_context, sensor, submit_operator

    job_id = submit(emu, unique("named"))
    waited = deferred(
        sensor(emu, job_id, deferrable=True, event_queue="mine", reconcile_interval=60),
        make_context(),
    )
    assert (waited.spec.event_queue, waited.spec.wait_interval) == ("mine", 60)
    # The connection's extra names a queue: every deferred wait on it reads events ...
    connection = json.loads(os.environ["AIRFLOW_CONN_EMU"])
    connection["extra"]["service_job_event_queue"] = "from-the-connection"
    monkeypatch.setenv("AIRFLOW_CONN_EMU", json.dumps(connection))
    waited = deferred(sensor(emu, job_id, deferrable=True), make_context())
    assert waited.spec.event_queue == "from-the-connection"
    assert waited.spec.wait_interval == 300  # the default reconciliation interval
    # ... unless the task says False; and a wait that does not defer never reads them.
    waited = deferred(sensor(emu, job_id, deferrable=True, event_queue=False), make_context())
    assert waited.spec.event_queue is None and waited.spec.wait_interval == waited.poll_interval
    operator = submit_operator(emu, unique("op"), wait_for_completion=True, deferrable=True)
    assert deferred(operator, make_context()).spec.event_queue == "from-the-connection"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"event_queue": ""}, "event_queue"),
        ({"event_queue": 5}, "event_queue"),
        ({"reconcile_interval": 0}, "reconcile_interval"),
        ({"reconcile_interval": "60"}, "reconcile_interval"),
    ],
)
def test_bad_event_settings_are_refused_when_the_dag_is_parsed(arguments, field):
    from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
    from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

    with pytest.raises(ValueError, match=f"^{field}: must be"):
        BatchServiceJobSensor(task_id="s", job_id="j", **arguments)
    with pytest.raises(ValueError, match=f"^{field}: must be"):
        BatchSubmitServiceJobOperator(
            task_id="o", job_name="n", job_queue="q", service_request_payload={}, **arguments
        )


def _open_once_a_wait_saw_its_job(emu, gate: str, timeout: float = 120.0) -> None:
    """Open ``gate`` once a deferred wait of this process has subscribed to the events and
    described its job (the wait's own view of it is set); after ``timeout`` open it anyway,
    so the run ends and the test's assertions say what was missing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waits = [
                callback.__self__
                for feeds in list(event_feed._feeds.values())
                for feed in list(feeds.values())
                for callbacks in list(feed.subscribers.values())
                for callback in list(callbacks)
            ]
        except RuntimeError:  # changed while read from this thread: look again
            waits = []
        if any(getattr(wait, "last", None) is not None for wait in waits):
            break
        time.sleep(0.05)
    emu.open_gate(gate)
