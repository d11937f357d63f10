"""What a service-job event says, which ones a watcher wants, and what a wait makes of one."""

from __future__ import annotations

import json

import pytest

from airflow_batch_service.core.event_wait import (
    DESCRIBE,
    IGNORE,
    USE,
    as_describe,
    judge,
    progress,
)
from airflow_batch_service.core.events import (
    DELETE,
    RELEASE,
    EventFilter,
    disposition,
    job_id_of,
    parse_event,
    queue_name,
)

ARN = "arn:aws:batch:us-east-1:123456789012:service-job/job-1"
QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/gpu"


def envelope(status: str = "RUNNING", attempts: int = 0, **detail: object) -> dict:
    return {
        "version": "0",
        "id": f"ev-{status}-{attempts}",
        "detail-type": "Batch Service Job State Change",
        "source": "aws.batch",
        "account": "123456789012",
        "time": "2026-12-07T05:40:00Z",
        "region": "us-east-1",
        "resources": [ARN],
        "detail": {
            "jobArn": ARN,
            "jobId": "job-1",
            "jobName": "train-llm",
            "jobQueue": QUEUE_ARN,
            "status": status,
            "attempts": [{"n": n} for n in range(attempts)],
            **detail,
        },
    }


def test_an_sqs_body_becomes_the_event():
    event = parse_event(json.dumps(envelope("SUCCEEDED", shareIdentifier="teamA")))
    assert event is not None
    assert (event.job_id, event.job_arn, event.status) == ("job-1", ARN, "SUCCEEDED")
    assert (event.job_name, event.share_identifier, event.event_id) == (
        "train-llm",
        "teamA",
        "ev-SUCCEEDED-0",
    )
    assert event.final and queue_name(event.job_queue) == "gpu"
    assert event.summary()["attempts"] == 0 and event.summary()["job_queue"] == QUEUE_ARN


def test_an_sns_wrapped_body_and_an_arn_only_event_are_read():
    wrapped = {"Type": "Notification", "Message": json.dumps(envelope("FAILED"))}
    assert parse_event(json.dumps(wrapped)).status == "FAILED"  # type: ignore[union-attr]
    bare = envelope("RUNNING")
    del bare["detail"]["jobId"], bare["detail"]["jobArn"]
    event = parse_event(bare)
    assert event is not None and (event.job_id, event.job_arn) == ("job-1", ARN)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        b"[1, 2]",
        json.dumps({**envelope(), "source": "aws.sagemaker"}),
        json.dumps({**envelope(), "detail-type": "Batch Job State Change"}),
        json.dumps({**envelope(), "detail": "text"}),
        json.dumps({**envelope(), "detail": {"jobId": "x"}}),  # no status
        json.dumps({"Type": "Notification", "Message": "garbage"}),
    ],
)
def test_anything_else_is_no_event(body):
    assert parse_event(body) is None


def test_ids_and_queue_names_from_arns():
    assert job_id_of(ARN) == "job-1" and job_id_of("job-1") == "job-1"
    assert queue_name(QUEUE_ARN) == "gpu" and queue_name("gpu") == "gpu"


def test_a_filter_defaults_to_final_statuses_and_matches_every_criterion():
    final = parse_event(envelope("SUCCEEDED", shareIdentifier="teamA"))
    running = parse_event(envelope("RUNNING"))
    assert final is not None and running is not None
    assert EventFilter.create().matches(final) and not EventFilter.create().matches(running)
    assert EventFilter.create(job_queues="gpu").matches(final)
    assert EventFilter.create(job_queues=[QUEUE_ARN]).matches(final)
    assert not EventFilter.create(job_queues=["cpu"]).matches(final)
    assert EventFilter.create(share_identifiers=["teamA"]).matches(final)
    assert not EventFilter.create(share_identifiers=["teamB"]).matches(final)
    assert EventFilter.create(job_name_prefix="train-").matches(final)
    assert not EventFilter.create(job_name_prefix="eval-").matches(final)
    assert EventFilter.create(statuses="RUNNING").matches(running)
    kwargs = EventFilter.create(job_queues="gpu", statuses=["FAILED"]).to_kwargs()
    assert EventFilter.create(**kwargs) == EventFilter.create(job_queues="gpu", statuses="FAILED")


def test_a_filter_refuses_an_unknown_status_naming_the_argument():
    with pytest.raises(ValueError, match=r"statuses: \['DONE'\]"):
        EventFilter.create(statuses=["SUCCEEDED", "DONE"])


def test_a_message_nobody_here_took_is_given_back_while_young():
    assert disposition(taken=True, age_seconds=0, handoff_seconds=30) == DELETE
    assert disposition(taken=False, age_seconds=5, handoff_seconds=30) == RELEASE
    assert disposition(taken=False, age_seconds=30, handoff_seconds=30) == DELETE
    assert disposition(taken=False, age_seconds=1, handoff_seconds=0) == DELETE


def event(status: str, attempts: int = 0):
    parsed = parse_event(envelope(status, attempts))
    assert parsed is not None
    return parsed


def test_a_final_event_makes_the_wait_describe_never_end_by_itself():
    assert judge(event("SUCCEEDED"), {"status": "RUNNING"}) == DESCRIBE
    assert judge(event("FAILED"), None) == DESCRIBE


def test_news_is_used_in_place_of_a_describe():
    assert judge(event("RUNNING"), {"status": "RUNNABLE", "attempts": []}) == USE
    assert judge(event("RUNNABLE"), None) == USE
    # A retry: the failed attempt is counted, so going back to RUNNABLE is news.
    assert judge(event("RUNNABLE", 1), {"status": "RUNNING", "attempts": []}) == USE
    reply = as_describe(event("RUNNING"))
    assert reply["status"] == "RUNNING" and reply["jobId"] == "job-1"


def test_duplicates_stale_events_and_anything_after_the_end_are_ignored():
    assert judge(event("RUNNING"), {"status": "RUNNING", "attempts": []}) == IGNORE
    assert judge(event("RUNNABLE"), {"status": "RUNNING", "attempts": []}) == IGNORE
    assert judge(event("SUCCEEDED"), {"status": "SUCCEEDED"}) == IGNORE
    assert judge(event("RUNNING"), {"status": "FAILED"}) == IGNORE
    assert progress({"status": "SUCCEEDED"}) > progress({"status": "RUNNING"})
    assert progress({"status": "PENDING"}) == progress({"status": "SUBMITTED"})


def test_a_wait_knows_a_describe_that_shows_the_end():
    from airflow_batch_service.core.event_wait import ended

    assert ended({"status": "SUCCEEDED"}) and ended({"status": "FAILED"})
    assert not ended({"status": "RUNNING"}) and not ended({})
