"""ListServiceJobs: default RUNNING, the five filters and their interplay with jobStatus,
newest first, maxResults/nextToken and botocore's paginator."""

from __future__ import annotations

from .helpers import describe, hang, scenario, scenarios, script, submit_args, succeeded


def names(answer: dict) -> list[str]:
    return [j["jobName"] for j in answer["jobSummaryList"]]


def make_jobs(emu, batch):
    """Three jobs, one second apart: 'Alpha-1' ends SUCCEEDED, 'alpha-2' RUNNING, 'beta' RUNNABLE."""
    emu.load_scenarios(
        scenarios(script("alpha-2", hang()), script("beta", succeeded(runnable_seconds=1000)))
    )
    ids = {}
    for name in ("Alpha-1", "alpha-2", "beta"):
        ids[name] = batch.submit_service_job(**submit_args(emu.queue_name, name))["jobId"]
        emu.advance(1)
    emu.advance(10)
    states = {n: describe(batch, i)["status"] for n, i in ids.items()}
    assert states == {"Alpha-1": "SUCCEEDED", "alpha-2": "RUNNING", "beta": "RUNNABLE"}
    return ids


def test_default_status_is_running_and_job_status_filters(emu, batch):
    make_jobs(emu, batch)
    q = emu.queue_name
    assert names(batch.list_service_jobs(jobQueue=q)) == ["alpha-2"]
    assert names(batch.list_service_jobs(jobQueue=q, jobStatus="RUNNABLE")) == ["beta"]
    assert names(batch.list_service_jobs(jobQueue=q, jobStatus="SUCCEEDED")) == ["Alpha-1"]
    assert names(batch.list_service_jobs(jobStatus="RUNNABLE")) == ["beta"]  # no queue: all queues


def test_job_name_filter_is_case_insensitive_with_prefix_star_and_ignores_status(emu, batch):
    make_jobs(emu, batch)
    q = emu.queue_name

    def by_name(value, **extra):
        return names(
            batch.list_service_jobs(
                jobQueue=q, filters=[{"name": "JOB_NAME", "values": [value]}], **extra
            )
        )

    assert by_name("alpha-1") == ["Alpha-1"]
    assert by_name("ALPHA*") == ["alpha-2", "Alpha-1"]  # newest first
    assert by_name("alpha") == []  # no star: whole name
    assert by_name("alpha*", jobStatus="RUNNABLE") == ["alpha-2", "Alpha-1"]  # jobStatus ignored


def test_created_at_filters(emu, batch):
    ids = make_jobs(emu, batch)
    created = {n: describe(batch, i)["createdAt"] for n, i in ids.items()}
    q = emu.queue_name
    after = batch.list_service_jobs(
        jobQueue=q, filters=[{"name": "AFTER_CREATED_AT", "values": [str(created["Alpha-1"])]}]
    )
    assert names(after) == ["beta", "alpha-2"]
    before = batch.list_service_jobs(
        jobQueue=q, filters=[{"name": "BEFORE_CREATED_AT", "values": [str(created["beta"])]}]
    )
    assert names(before) == ["alpha-2", "Alpha-1"]


def test_share_filters_combine_with_job_status(emu, batch):
    emu.create_queue("fair", fair_share=True)
    emu.create_queue("quota", quota_share=True)
    emu.load_scenarios(scenario("run-*", hang()))
    batch.submit_service_job(**submit_args("fair", "run-a", shareIdentifier="a"))
    batch.submit_service_job(**submit_args("fair", "done-a", shareIdentifier="a"))
    batch.submit_service_job(**submit_args("fair", "run-b", shareIdentifier="b"))
    batch.submit_service_job(**submit_args("quota", "run-q", quotaShareName="default"))
    emu.advance(20)
    share_a = [{"name": "SHARE_IDENTIFIER", "values": ["a"]}]
    assert names(
        batch.list_service_jobs(jobQueue="fair", filters=share_a, jobStatus="RUNNING")
    ) == ["run-a"]
    assert names(
        batch.list_service_jobs(jobQueue="fair", filters=share_a, jobStatus="SUCCEEDED")
    ) == ["done-a"]
    assert sorted(names(batch.list_service_jobs(jobQueue="fair", filters=share_a))) == [
        "done-a",
        "run-a",
    ]
    quota = [{"name": "QUOTA_SHARE_NAME", "values": ["default"]}]
    assert names(batch.list_service_jobs(jobQueue="quota", filters=quota, jobStatus="RUNNING")) == [
        "run-q"
    ]
    summary = batch.list_service_jobs(jobQueue="quota", filters=quota)["jobSummaryList"][0]
    assert summary["quotaShareName"] == "default" and "attempts" not in summary


def test_pages_with_max_results_next_token_and_the_paginator(emu, batch):
    for i in range(7):
        batch.submit_service_job(**submit_args(emu.queue_name, f"page-{i}"))
        emu.advance(0.001)
    q, f = emu.queue_name, [{"name": "JOB_NAME", "values": ["page-*"]}]
    first = batch.list_service_jobs(jobQueue=q, filters=f, maxResults=3)
    assert names(first) == ["page-6", "page-5", "page-4"] and first["nextToken"]
    second = batch.list_service_jobs(
        jobQueue=q, filters=f, maxResults=3, nextToken=first["nextToken"]
    )
    third = batch.list_service_jobs(
        jobQueue=q, filters=f, maxResults=3, nextToken=second["nextToken"]
    )
    assert names(second) == ["page-3", "page-2", "page-1"]
    assert names(third) == ["page-0"] and "nextToken" not in third
    pages = list(
        batch.get_paginator("list_service_jobs").paginate(
            jobQueue=q, filters=f, PaginationConfig={"PageSize": 2}
        )
    )
    assert len(pages) == 4
    assert [n for p in pages for n in names(p)] == [f"page-{i}" for i in range(6, -1, -1)]


def test_terminated_summary_says_so(emu, batch):
    job = batch.submit_service_job(**submit_args(emu.queue_name, "ended"))
    batch.terminate_service_job(jobId=job["jobId"], reason="r")
    [summary] = batch.list_service_jobs(jobQueue=emu.queue_name, jobStatus="FAILED")[
        "jobSummaryList"
    ]
    assert summary["isTerminated"] is True and summary["statusReason"] == "r"
