"""AWS Batch's "Batch Service Job State Change" events, published into moto's EventBridge.

Every status change of a submitted job reaches the SQS queue of a matching rule as the clock
moves, with nobody describing or listing the job; the envelope is AWS's; the knobs drop,
duplicate, delay and reorder the events as configured. Lifecycle tests run in-process and
over HTTP (the ``emu`` fixture: frozen clock, 1 s per state); the server test lets the wall
clock run and waits, bounded, for the events.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from airflow_batch_service.emulator import EmulatorServer

from .event_support import (
    HAPPY_PATH,
    advance_until_quiet,
    drain,
    held_back,
    iso,
    of_job,
    statuses,
    wait_for_events,
    wait_until,
)
from .helpers import ISE, describe, failed, hang, preempted, scenario, submit_args, succeeded
from .wire_support import BIN, CLI_ENV

ISO_SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def sqs(emu):
    return emu.client("sqs")


def test_the_clock_alone_publishes_every_state_change_with_aws_envelope(emu, batch, sqs):
    url = emu.event_queue()
    job = batch.submit_service_job(**submit_args(emu.queue_name, "evt", tags={"team": "ml"}))
    assert drain(sqs, url) == []  # none for the submission itself
    emu.reset_stats()
    advance_until_quiet(emu)
    events = drain(sqs, url)
    assert statuses(events) == HAPPY_PATH
    assert set(emu.stats()) == {"events"}  # no Batch call moved the job
    assert emu.stats()["events"]["published"] == 5

    final = describe(batch, job["jobId"])
    assert len({event["id"] for event in events}) == 5
    for event in events:
        assert event["version"] == "0"
        assert event["detail-type"] == "Batch Service Job State Change"
        assert event["source"] == "aws.batch"
        assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
        assert event["resources"] == [job["jobArn"]]
        assert ISO_SECOND.match(event["time"]), event["time"]
        assert "tags" not in event["detail"] and "serviceRequestPayload" not in event["detail"]
        assert event["detail"]["jobQueue"] == emu.queue_arn
        assert event["detail"]["jobArn"] == job["jobArn"]
    by_status = {event["detail"]["status"]: event for event in events}
    assert by_status["SCHEDULED"]["time"] == iso(final["scheduledAt"])
    assert by_status["RUNNING"]["time"] == iso(final["startedAt"])
    assert by_status["SUCCEEDED"]["time"] == iso(final["stoppedAt"])
    assert "startedAt" not in by_status["STARTING"]["detail"]  # a view of its own instant
    expected = {k: v for k, v in final.items() if k not in ("tags", "serviceRequestPayload")}
    assert by_status["SUCCEEDED"]["detail"] == expected


def test_the_queue_helper_sets_up_rule_target_and_policy_idempotently(emu, sqs):
    url = emu.event_queue()
    assert url == emu.event_queue()  # a second call changes nothing
    assert url == sqs.get_queue_url(QueueName="batch-service-events")["QueueUrl"]
    events = emu.client("events")
    rule = events.describe_rule(Name="batch-service-events")
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.batch"],
        "detail-type": ["Batch Service Job State Change"],
    }
    (target,) = events.list_targets_by_rule(Rule="batch-service-events")["Targets"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    assert target["Arn"] == queue_arn["QueueArn"]
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]
    (statement,) = json.loads(policy["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rule["Arn"]

    emu.event_queue(job_queues=[emu.queue_name])  # names become the ARNs events carry
    pattern = json.loads(events.describe_rule(Name="batch-service-events")["EventPattern"])
    assert pattern["detail"] == {"jobQueue": [emu.queue_arn]}
    emu.event_queue(job_queues=emu.queue_arn)  # one queue needs no list
    assert json.loads(events.describe_rule(Name="batch-service-events")["EventPattern"]) == pattern
    with pytest.raises(ValueError, match="name"):
        emu.event_queue("no spaces allowed")


def test_retries_and_terminate_publish_their_changes(emu, batch, sqs):
    url = emu.event_queue()
    emu.load_scenarios(scenario("flaky", failed(ISE), succeeded()))
    flaky = batch.submit_service_job(
        **submit_args(emu.queue_name, "flaky", retryStrategy={"attempts": 2})
    )
    advance_until_quiet(emu, seconds=20)
    events = drain(sqs, url)
    assert statuses(events) == [*HAPPY_PATH[:4], "RUNNABLE", *HAPPY_PATH[1:]]
    retry = events[4]["detail"]
    assert retry["statusReason"] == ISE and len(retry["attempts"]) == 1
    assert len(events[-1]["detail"]["attempts"]) == 2
    assert {event["resources"][0] for event in events} == {flaky["jobArn"]}

    emu.load_scenarios(scenario("stuck", hang()))
    stuck = batch.submit_service_job(**submit_args(emu.queue_name, "stuck"))
    advance_until_quiet(emu, seconds=6)
    assert statuses(drain(sqs, url)) == HAPPY_PATH[:4]
    batch.terminate_service_job(jobId=stuck["jobId"], reason="operator says stop")
    (terminated,) = drain(sqs, url)
    assert terminated["detail"]["status"] == "FAILED"
    assert terminated["detail"]["isTerminated"] is True
    assert terminated["detail"]["statusReason"] == "operator says stop"


def test_a_preemption_is_framed_by_its_own_events(emu, batch, sqs):
    url = emu.event_queue()
    emu.client("events").put_rule(  # every aws.batch event, not only state changes
        Name="batch-service-events", EventPattern=json.dumps({"source": ["aws.batch"]})
    )
    emu.load_scenarios(scenario("bumped", preempted(), succeeded()))
    job = batch.submit_service_job(**submit_args(emu.queue_name, "bumped"))
    advance_until_quiet(emu, seconds=20)
    events = drain(sqs, url)
    assert statuses(events) == [
        *HAPPY_PATH[:4],
        "Batch Service Job Preemption Started",
        "RUNNABLE",
        "Batch Service Job Preemption Completed",
        *HAPPY_PATH[1:],
    ]
    started, completed = events[4]["detail"], events[6]["detail"]
    assert started["preemptedJobArn"] == job["jobArn"] and started["status"] == "RUNNING"
    assert started["statusReason"].startswith("PREEMPTION_IN_PROGRESS")
    assert completed["preemptionSummary"]["preemptedAttemptCount"] == 1


def test_a_job_queue_filter_keeps_other_queues_out(emu, batch, sqs):
    other_arn = emu.create_queue("other-queue")
    everything = emu.event_queue("all-events")
    by_name = emu.event_queue("test-queue-events", job_queues=[emu.queue_name])
    by_arn = emu.event_queue("other-queue-events", job_queues=[other_arn])
    mine = batch.submit_service_job(**submit_args(emu.queue_name, "mine"))
    theirs = batch.submit_service_job(**submit_args("other-queue", "theirs"))
    advance_until_quiet(emu)
    jobs_in = {
        url: {e["detail"]["jobId"] for e in drain(sqs, url)}
        for url in (everything, by_name, by_arn)
    }
    assert jobs_in == {
        everything: {mine["jobId"], theirs["jobId"]},
        by_name: {mine["jobId"]},
        by_arn: {theirs["jobId"]},
    }


def test_disabled_events_publish_nothing(emu, batch, sqs):
    url = emu.event_queue()
    emu.configure(events={"enabled": False})
    batch.submit_service_job(**submit_args(emu.queue_name, "quiet"))
    advance_until_quiet(emu)
    assert drain(sqs, url) == []
    assert "events" not in emu.stats()
    emu.configure(events={"enabled": True})
    batch.submit_service_job(**submit_args(emu.queue_name, "loud"))
    advance_until_quiet(emu)
    assert statuses(drain(sqs, url)) == HAPPY_PATH


def _run_jobs(emu, batch, count: int, prefix: str) -> list[str]:
    ids = [
        batch.submit_service_job(**submit_args(emu.queue_name, f"{prefix}-{i}"))["jobId"]
        for i in range(count)
    ]
    advance_until_quiet(emu)
    return ids


def test_dropped_events_never_arrive(emu, batch, sqs):
    url = emu.event_queue()
    emu.configure(events={"drop": 0.5, "seed": 7})
    _run_jobs(emu, batch, 4, "drop")
    arrived = drain(sqs, url)
    counts = emu.stats()["events"]
    assert counts["published"] == 20
    assert 0 < counts["dropped"] < 20
    assert len(arrived) == counts["delivered"] == 20 - counts["dropped"]


def test_duplicated_events_arrive_twice_with_one_id(emu, batch, sqs):
    url = emu.event_queue()
    emu.configure(events={"duplicate": 0.5, "seed": 7})
    _run_jobs(emu, batch, 4, "dup")
    arrived = drain(sqs, url)
    counts = emu.stats()["events"]
    assert 0 < counts["duplicated"] < 20
    assert len(arrived) == counts["delivered"] == 20 + counts["duplicated"]
    ids = [event["id"] for event in arrived]
    assert sum(1 for i in set(ids) if ids.count(i) == 2) == counts["duplicated"]


def test_delayed_events_wait_for_the_clock(emu, batch, sqs):
    url = emu.event_queue()
    emu.configure(events={"delay_seconds": 30})
    batch.submit_service_job(**submit_args(emu.queue_name, "late"))
    advance_until_quiet(emu, seconds=29)  # every change happened, none is due yet
    assert drain(sqs, url) == []
    assert emu.stats()["events"]["pending"] == 5
    emu.advance(2)  # 31 s after the submit: RUNNABLE (at 1 s) is due
    assert statuses(drain(sqs, url)) == ["RUNNABLE"]
    emu.advance(10)
    assert statuses(drain(sqs, url)) == HAPPY_PATH[1:]
    counts = emu.stats()["events"]
    assert (counts["delayed"], counts["delivered"], counts["pending"]) == (5, 5, 0)


def test_held_back_events_arrive_after_the_next_one(emu, batch, sqs):
    url = emu.event_queue()
    emu.configure(events={"reorder": 1})  # every event but the last waits for the next
    batch.submit_service_job(**submit_args(emu.queue_name, "every"))
    advance_until_quiet(emu)
    assert statuses(drain(sqs, url)) == ["SUCCEEDED", *HAPPY_PATH[:4]]

    emu.reset_stats()
    emu.configure(events={"reorder": 0.3, "seed": 11})
    ids = _run_jobs(emu, batch, 4, "some")
    arrived = drain(sqs, url)
    counts = emu.stats()["events"]
    assert len(arrived) == counts["delivered"] == 20
    late = sum(held_back(of_job(arrived, job_id), HAPPY_PATH) for job_id in ids)
    assert late == counts["reordered"] > 0
    for job_id in ids:
        assert sorted(statuses(of_job(arrived, job_id))) == sorted(HAPPY_PATH)


def test_a_seed_repeats_the_same_faults(emu, batch, sqs):
    url = emu.event_queue()
    runs = []
    for run in range(2):
        emu.configure(events={"drop": 0.4, "duplicate": 0.3, "reorder": 0.3, "seed": 5})
        ids = _run_jobs(emu, batch, 3, f"seeded-{run}")
        arrived = drain(sqs, url)
        runs.append([statuses(of_job(arrived, job_id)) for job_id in ids])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("knobs", "words"),
    [
        ({"drop": 2}, "events.drop: must be between 0 and 1"),
        ({"duplicate": -0.1}, "events.duplicate: must be between 0 and 1"),
        ({"reorder": "often"}, "events.reorder: must be a number"),
        ({"delay_seconds": -1}, "events.delay_seconds: must be a non-negative"),
        ({"seed": 1.5}, "events.seed: must be an integer"),
        ({"enabled": "yes"}, "events.enabled: must be true or false"),
        ({"dorp": 0.1}, "events.dorp: unknown knob"),
    ],
)
def test_bad_knob_values_are_refused_naming_the_knob(emu, knobs, words):
    before = emu.settings()["events"]
    with pytest.raises(ValueError) as err:
        emu.configure(events={"drop": 0.1, **knobs})
    assert words in str(err.value)
    assert emu.settings()["events"] == before  # nothing half-applied


def test_a_scenario_file_sets_the_knobs(emu):
    emu.load_scenarios({"jobs": [], "events": {"drop": 0.25, "delaySeconds": 3, "seed": 1}})
    knobs = emu.settings()["events"]
    assert (knobs["drop"], knobs["delay_seconds"], knobs["seed"]) == (0.25, 3, 1)
    with pytest.raises(ValueError, match=r"events\.reorder"):
        emu.load_scenarios({"jobs": [], "events": {"reorder": 7}})


def test_in_process_sqs_reads_catch_up_with_a_running_clock(batch_emulator):
    emu = batch_emulator  # the real clock, 0.05 s per state, nobody calls advance
    sqs = emu.client("sqs")
    url = emu.event_queue()
    emu.client().submit_service_job(**submit_args(emu.queue_name, "live"))
    events = wait_for_events(
        sqs, url, lambda seen: "SUCCEEDED" in statuses(seen), "the job's SUCCEEDED event"
    )
    assert statuses(events) == HAPPY_PATH


def test_the_server_publishes_while_nobody_calls_batch(batch_emulator_server):
    emu = batch_emulator_server  # the wall clock runs; the server's ticker moves the jobs
    sqs = emu.client("sqs")
    url = emu.event_queue(job_queues=[emu.queue_arn])
    emu.client().submit_service_job(**submit_args(emu.queue_name, "served"))
    emu.reset_stats()
    events = wait_for_events(
        sqs, url, lambda seen: "SUCCEEDED" in statuses(seen), "the job's SUCCEEDED event"
    )
    assert statuses(events) == HAPPY_PATH
    assert set(emu.stats()) == {"events"}  # no Batch call made it happen


def test_the_console_script_takes_event_flags_and_queues():
    with EmulatorServer(
        queues=["boot-q"],
        seconds_per_state=0.05,
        events={"enabled": False, "drop": 0.5, "seed": 3},
        event_queues=["boot-events"],
    ) as server:
        emu = server.emulator
        assert emu is not None
        assert emu.settings()["events"] == {
            "enabled": False,
            "drop": 0.5,
            "duplicate": 0.0,
            "delay_seconds": 0.0,
            "reorder": 0.0,
            "seed": 3,
        }
        url = emu.event_queue("boot-events")  # created at startup; this only looks it up
        printed = f"airflow-batch-service emulator event queue {url}"
        wait_until(
            lambda: printed in [line.strip() for line in server.output_tail], "the queue URL line"
        )
        emu.reset()  # the queue comes back with the startup state
        sqs = emu.client("sqs")
        assert sqs.get_queue_url(QueueName="boot-events")["QueueUrl"] == url
        emu.configure(events={"enabled": True, "drop": 0})
        emu.client().submit_service_job(**submit_args("boot-q", "after-reset"))
        events = wait_for_events(
            sqs, url, lambda seen: "SUCCEEDED" in statuses(seen), "the job's SUCCEEDED event"
        )
        assert statuses(events) == HAPPY_PATH


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--event-drop", "2"], "--event-drop: must be between 0 and 1"),
        (["--event-delay", "-1"], "--event-delay: must be a non-negative"),
        (["--event-queue", "bad name"], "--event-queue"),
    ],
)
def test_the_console_script_refuses_bad_event_flags(flags, words):
    out = subprocess.run(
        [str(BIN / "airflow-batch-service"), "emulator", "--port", "0", *flags],
        capture_output=True,
        text=True,
        env=CLI_ENV,
        timeout=120,
    )
    assert out.returncode == 2 and words in out.stderr, out.stderr
