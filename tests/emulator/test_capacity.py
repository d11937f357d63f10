"""Capacity, order, quota shares, preemption and GetJobQueueSnapshot, through the Batch API,
in-process and over HTTP (``emu``: frozen clock, 1 s per state)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .helpers import (
    PAYLOAD,
    all_jobs,
    assert_output_shape,
    attempt,
    describe,
    error_of,
    failed,
    hang,
    preempted,
    scenarios,
    script,
    succeeded,
)

GPU = "ml.g5.xlarge"
ACTIVE = ("SCHEDULED", "STARTING", "RUNNING")


def payload(instances: int = 1, instance_type: str = GPU) -> str:
    body = dict(PAYLOAD)
    body["ResourceConfig"] = {
        "InstanceType": instance_type,
        "InstanceCount": instances,
        "VolumeSizeInGB": 10,
    }
    return json.dumps(body)


def submit(batch: Any, queue: str, name: str, instances: int = 1, **extra: Any) -> str:
    return batch.submit_service_job(
        jobName=name,
        jobQueue=queue,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload=payload(instances),
        **extra,
    )["jobId"]


class Trace:
    """Steps the frozen clock one second at a time, recording every job's status."""

    def __init__(self, emu: Any, batch: Any, queue: str) -> None:
        self.emu, self.batch, self.queue = emu, batch, queue
        self.peak_instances = 0.0
        self.peak_jobs = 0
        self.started: list[str] = []  # job names in the order they first got capacity
        self.last: dict[str, dict[str, Any]] = {}

    def step(self, seconds: int = 1) -> dict[str, dict[str, Any]]:
        for _ in range(seconds):
            self.emu.advance(1)
            self.observe()
        return self.last

    def observe(self) -> dict[str, dict[str, Any]]:
        jobs = {j["jobName"]: j for j in all_jobs(self.batch, self.queue)}
        active = [j for j in jobs.values() if j["status"] in ACTIVE]
        for job in sorted(active, key=lambda j: (j.get("scheduledAt", 0), j["createdAt"])):
            if job["jobName"] not in self.started:
                self.started.append(job["jobName"])
        instances = sum(u["quantity"] for j in active for u in j.get("capacityUsage", []))
        self.peak_instances = max(self.peak_instances, instances)
        self.peak_jobs = max(self.peak_jobs, len(active))
        self.last = jobs
        return jobs

    def statuses(self) -> dict[str, str]:
        return {name: j["status"] for name, j in self.last.items()}


HANG = [hang()]


def scripted(emu: Any, **by_name: list[dict[str, Any]]) -> None:
    """Script each job name (glob) with its attempts."""
    emu.load_scenarios(scenarios(*(script(name, *tries) for name, tries in by_name.items())))


# --------------------------------------------------------------------------- capacity
def test_peak_never_exceeds_the_capacity_limit(emu: Any, batch: Any) -> None:
    emu.create_queue("cap4", max_capacity=4)
    for i in range(8):
        submit(batch, "cap4", f"one-{i}")
    for i in range(3):
        submit(batch, "cap4", f"two-{i}", instances=2)
    trace = Trace(emu, batch, "cap4")
    for _ in range(40):
        trace.step()
        if all(s == "SUCCEEDED" for s in trace.statuses().values()):
            break
    assert trace.peak_instances == 4  # full, never over
    assert all(s == "SUCCEEDED" for s in trace.statuses().values()), trace.statuses()
    assert len(trace.statuses()) == 11


def test_fifo_queue_starts_jobs_in_submission_order(emu: Any, batch: Any) -> None:
    emu.create_queue("fifo1", max_capacity=1)
    names = [f"job-{i}" for i in range(4)]
    for name in names:
        submit(batch, "fifo1", name)
    trace = Trace(emu, batch, "fifo1")
    trace.step(20)
    assert trace.started == names
    assert trace.peak_jobs == 1
    stamps = [trace.last[n]["scheduledAt"] for n in names]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    # Each starts the instant the one before it ends.
    for before, after in itertools.pairwise(names):
        assert trace.last[after]["scheduledAt"] == trace.last[before]["stoppedAt"]


def test_a_job_that_can_never_fit_stays_runnable_and_smaller_ones_pass_it(
    emu: Any, batch: Any
) -> None:
    emu.create_queue("small", max_capacity=2)
    big = submit(batch, "small", "big", instances=3)
    small = submit(batch, "small", "small")
    emu.advance(30)
    assert describe(batch, big)["status"] == "RUNNABLE"
    assert describe(batch, small)["status"] == "SUCCEEDED"


def test_runnable_time_limit_still_terminates_a_job_that_never_fits(emu: Any, batch: Any) -> None:
    emu.create_queue("limited", max_capacity=1)
    batch.update_job_queue(
        jobQueue="limited",
        jobStateTimeLimitActions=[
            {
                "reason": "CAPACITY:never",
                "state": "RUNNABLE",
                "maxTimeSeconds": 600,
                "action": "TERMINATE",
            }
        ],
    )
    job = submit(batch, "limited", "huge", instances=5)
    emu.advance(300)
    assert describe(batch, job)["status"] == "RUNNABLE"
    emu.advance(400)
    out = describe(batch, job)
    assert (
        out["status"] == "FAILED"
        and out["isTerminated"]
        and out["statusReason"] == "CAPACITY:never"
    )


def test_lowering_a_limit_applies_to_the_next_decision_raising_it_starts_jobs_now(
    emu: Any, batch: Any
) -> None:
    emu.create_queue("resize", max_capacity=2)
    for i in range(6):
        submit(batch, "resize", f"j{i}")
    trace = Trace(emu, batch, "resize")
    trace.step(2)
    assert sum(s in ACTIVE for s in trace.statuses().values()) == 2
    batch.update_service_environment(
        serviceEnvironment="resize-env",
        capacityLimits=[{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}],
    )
    # The two running keep running; as they end, only one job at a time starts.
    trace.peak_jobs = 0
    trace.step(6)
    assert trace.peak_jobs <= 2
    assert sum(s in ACTIVE for s in trace.statuses().values()) == 1
    batch.update_service_environment(
        serviceEnvironment="resize-env",
        capacityLimits=[{"maxCapacity": 5, "capacityUnit": "NUM_INSTANCES"}],
    )
    jobs = trace.observe()  # same instant: the raise lets every waiting job start at once
    assert [j["status"] for j in jobs.values()].count("RUNNABLE") == 0


END_WAYS = [
    "succeeded",
    "failed_attempt",
    "terminated",
    "preempted",
    "timed_out",
    "capacity_bounce",
]


@pytest.mark.parametrize("way", END_WAYS)
def test_every_way_a_run_ends_frees_its_capacity(emu: Any, batch: Any, way: str) -> None:
    emu.create_queue("one", max_capacity=1)
    extra: dict[str, Any] = {}
    if way == "failed_attempt":
        scripted(emu, first=[failed(seconds=3)])
        extra["retryStrategy"] = {"attempts": 2}
    elif way == "preempted":
        scripted(emu, first=[preempted(seconds=3)])
    elif way in ("terminated", "timed_out"):
        scripted(emu, first=HANG)
        if way == "timed_out":
            extra["timeoutConfig"] = {"attemptDurationSeconds": 3}
    elif way == "capacity_bounce":
        scripted(emu, first=[attempt("CAPACITY")])
    first = submit(batch, "one", "first", **extra)
    emu.advance(1)
    second = submit(batch, "one", "second")
    emu.advance(1)  # first holds the instance (SCHEDULED); second is RUNNABLE
    assert describe(batch, first)["status"] == "SCHEDULED"
    assert describe(batch, second)["status"] == "RUNNABLE"
    if way == "terminated":
        emu.advance(3)
        assert describe(batch, second)["status"] == "RUNNABLE"
        batch.terminate_service_job(jobId=first, reason="stop")
    for _ in range(10):
        out = describe(batch, second)
        if out["status"] != "RUNNABLE":
            break
        emu.advance(1)
    assert out["status"] in ACTIVE, (way, out["status"])
    ended = describe(batch, first)
    freed_at = ended.get("stoppedAt")
    if way in ("failed_attempt", "preempted", "capacity_bounce"):
        assert ended["status"] in ("RUNNABLE", *ACTIVE)  # requeued
        runs = ended.get("attempts", []) + ended.get("preemptionSummary", {}).get(
            "recentPreemptedAttempts", []
        )
        freed_at = runs[0]["stoppedAt"] if runs else None
    if freed_at is not None:
        assert out["scheduledAt"] == freed_at  # the next job starts the instant capacity is freed


# ------------------------------------------------------------------------------ order
def test_fair_share_queue_starts_higher_priority_first(emu: Any, batch: Any) -> None:
    emu.create_queue("fs", fair_share=True, max_capacity=1)
    scripted(emu, blocker=[succeeded(seconds=5)])
    submit(batch, "fs", "blocker", shareIdentifier="a", schedulingPriority=0)
    emu.advance(2)  # the blocker takes the only instance before the others arrive
    for name, priority in (("p1", 1), ("p50", 50), ("p10", 10), ("p99", 99)):
        submit(batch, "fs", name, shareIdentifier="a", schedulingPriority=priority)
    trace = Trace(emu, batch, "fs")
    trace.step(30)
    assert trace.started == ["blocker", "p99", "p50", "p10", "p1"]


def test_fair_share_same_priority_alternates_between_shares(emu: Any, batch: Any) -> None:
    emu.create_queue("fs2", fair_share=True, max_capacity=2)
    for i in range(3):
        submit(batch, "fs2", f"a{i}", shareIdentifier="a")
    for i in range(3):
        submit(batch, "fs2", f"b{i}", shareIdentifier="b")
    trace = Trace(emu, batch, "fs2")
    trace.step(3)
    assert sorted(n for n, s in trace.statuses().items() if s in ACTIVE) == ["a0", "b0"]


def test_update_service_job_reorders_the_queue(emu: Any, batch: Any) -> None:
    emu.create_queue("fs3", fair_share=True, max_capacity=1)
    scripted(emu, blocker=[succeeded(seconds=5)])
    submit(batch, "fs3", "blocker", shareIdentifier="a")
    emu.advance(2)
    ids = {
        n: submit(batch, "fs3", n, shareIdentifier="a", schedulingPriority=10)
        for n in ("x", "y", "z")
    }
    emu.advance(3)
    before = batch.get_job_queue_snapshot(jobQueue="fs3")["frontOfQueue"]["jobs"]
    assert [j["jobArn"].rsplit("/", 1)[-1] for j in before] == [ids["x"], ids["y"], ids["z"]]
    batch.update_service_job(jobId=ids["z"], schedulingPriority=90)
    after = batch.get_job_queue_snapshot(jobQueue="fs3")["frontOfQueue"]["jobs"]
    assert [j["jobArn"].rsplit("/", 1)[-1] for j in after] == [ids["z"], ids["x"], ids["y"]]
    trace = Trace(emu, batch, "fs3")
    trace.step(30)
    assert trace.started == ["blocker", "z", "x", "y"]


# ------------------------------------------------------------------------ quota shares
def quota_queue(
    batch: Any, name: str, env_capacity: int, shares: dict[str, tuple[int, dict[str, Any], str]]
) -> None:
    env = batch.create_service_environment(
        serviceEnvironmentName=f"{name}-env",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": env_capacity, "capacityUnit": GPU}],
    )
    policy = batch.create_scheduling_policy(
        name=f"{name}-policy", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"}
    )
    batch.create_job_queue(
        jobQueueName=name,
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": env["serviceEnvironmentArn"]}],
        schedulingPolicyArn=policy["arn"],
    )
    for share, (capacity, sharing, in_share) in shares.items():
        batch.create_quota_share(
            quotaShareName=share,
            jobQueue=name,
            capacityLimits=[{"maxCapacity": capacity, "capacityUnit": GPU}],
            resourceSharingConfiguration=sharing,
            preemptionConfiguration={"inSharePreemption": in_share},
        )


BORROW = {"strategy": "LEND_AND_BORROW", "borrowLimit": -1}


@pytest.mark.parametrize(
    ("owner", "borrower", "running"),
    [
        ({"strategy": "RESERVE"}, BORROW, 4),  # the owner's idle capacity stays reserved
        ({"strategy": "LEND"}, BORROW, 8),  # lent in full
        ({"strategy": "LEND"}, {"strategy": "LEND_AND_BORROW", "borrowLimit": 50}, 6),  # 50% of 4
        ({"strategy": "LEND"}, {"strategy": "LEND"}, 4),  # LEND does not borrow
    ],
)
def test_quota_shares_reserve_lend_and_borrow_up_to_borrow_limit(
    emu: Any, batch: Any, owner: dict[str, Any], borrower: dict[str, Any], running: int
) -> None:
    quota_queue(
        batch, "qs", 8, {"owner": (4, owner, "DISABLED"), "borrower": (4, borrower, "DISABLED")}
    )
    scripted(emu, **{"b-*": HANG})
    for i in range(10):
        submit(batch, "qs", f"b-{i}", quotaShareName="borrower")
    trace = Trace(emu, batch, "qs")
    trace.step(4)
    assert sum(s in ACTIVE for s in trace.statuses().values()) == running
    assert trace.peak_instances == running
    usage = batch.get_job_queue_snapshot(jobQueue="qs")["queueUtilization"]
    assert usage["totalCapacityUsage"] == [{"capacityUnit": GPU, "quantity": running}]
    assert usage["quotaShareUtilization"]["topCapacityUtilization"] == [
        {
            "quotaShareName": "borrower",
            "capacityUsage": [{"capacityUnit": GPU, "quantity": running}],
        }
    ]


def test_a_quota_share_runs_its_jobs_by_priority_then_submission(emu: Any, batch: Any) -> None:
    quota_queue(batch, "qprio", 1, {"s": (1, {"strategy": "RESERVE"}, "DISABLED")})
    submit(batch, "qprio", "blocker", quotaShareName="s")
    emu.advance(2)
    for name, priority in (("p1", 1), ("p50", 50), ("p10a", 10), ("p10b", 10)):
        submit(batch, "qprio", name, quotaShareName="s", schedulingPriority=priority)
    trace = Trace(emu, batch, "qprio")
    trace.step(25)
    assert trace.started == ["blocker", "p50", "p10a", "p10b", "p1"]
    assert trace.peak_jobs == 1


def test_cross_share_preemption_reclaims_borrowed_capacity(emu: Any, batch: Any) -> None:
    quota_queue(
        batch,
        "xs",
        4,
        {"owner": (2, {"strategy": "LEND"}, "DISABLED"), "borrower": (2, BORROW, "DISABLED")},
    )
    scripted(emu, **{"b-*": HANG, "owner-*": HANG})
    borrowed = {
        i: submit(
            batch,
            "xs",
            f"b-{i}",
            quotaShareName="borrower",
            preemptionConfiguration={"preemptionRetriesBeforeTermination": 1 if i == 3 else 0},
        )
        for i in range(4)
    }
    emu.advance(4)
    assert all(describe(batch, j)["status"] == "RUNNING" for j in borrowed.values())
    owner_job = submit(batch, "xs", "owner-job", quotaShareName="owner", instances=2)
    emu.advance(2)  # SUBMITTED -> RUNNABLE -> ready: the owner reclaims its 2 instances
    assert describe(batch, owner_job)["status"] == "SCHEDULED"
    # Victims (the emulator's rule): lowest priority, then the latest to get capacity, then
    # the newest submit: b-3 and b-2. b-3 may be preempted once and is requeued; b-2 may not.
    b3, b2 = describe(batch, borrowed[3]), describe(batch, borrowed[2])
    assert b3["status"] == "RUNNABLE" and b3["statusReason"].startswith(
        "PREEMPTION_IN_PROGRESS: Cross-share"
    )
    assert b3["preemptionSummary"]["preemptedAttemptCount"] == 1
    assert b3["preemptionSummary"]["recentPreemptedAttempts"][0]["statusReason"].startswith(
        "PREEMPTION_IN_PROGRESS"
    )
    assert b3["attempts"] == []  # the preempted run left attempts for preemptionSummary
    assert b2["status"] == "FAILED" and b2["preemptionSummary"]["preemptedAttemptCount"] == 1
    assert [describe(batch, borrowed[i])["status"] for i in (0, 1)] == ["RUNNING", "RUNNING"]
    # The requeued borrower cannot borrow again: nothing is idle.
    emu.advance(5)
    assert describe(batch, borrowed[3])["status"] == "RUNNABLE"


def test_in_share_preemption_only_when_the_share_enables_it(emu: Any, batch: Any) -> None:
    quota_queue(
        batch,
        "ins",
        4,
        {
            "on": (2, {"strategy": "RESERVE"}, "ENABLED"),
            "off": (2, {"strategy": "RESERVE"}, "DISABLED"),
        },
    )
    scripted(emu, **{"low-*": HANG})
    low = {
        (share, p): submit(
            batch, "ins", f"low-{share}-{p}", quotaShareName=share, schedulingPriority=p
        )
        for share in ("on", "off")
        for p in (1, 5)
    }
    emu.advance(4)
    high = {
        share: submit(batch, "ins", f"high-{share}", quotaShareName=share, schedulingPriority=50)
        for share in ("on", "off")
    }
    emu.advance(2)
    assert describe(batch, high["on"])["status"] == "SCHEDULED"
    victim = describe(batch, low[("on", 1)])
    assert victim["status"] == "RUNNABLE"
    assert victim["preemptionSummary"]["preemptedAttemptCount"] == 1
    assert victim["statusReason"].startswith("PREEMPTION_IN_PROGRESS: In-share")
    assert describe(batch, low[("on", 5)])["status"] == "RUNNING"
    # DISABLED: the higher-priority job waits.
    assert describe(batch, high["off"])["status"] == "RUNNABLE"
    assert all(describe(batch, low[("off", p)])["status"] == "RUNNING" for p in (1, 5))


def test_raising_a_priority_with_update_service_job_can_preempt_in_share(
    emu: Any, batch: Any
) -> None:
    quota_queue(batch, "upd", 1, {"s": (1, {"strategy": "RESERVE"}, "ENABLED")})
    scripted(emu, **{"runner": HANG})
    runner = submit(batch, "upd", "runner", quotaShareName="s", schedulingPriority=10)
    emu.advance(4)
    waiter = submit(batch, "upd", "waiter", quotaShareName="s", schedulingPriority=5)
    emu.advance(5)
    assert describe(batch, waiter)["status"] == "RUNNABLE"
    batch.update_service_job(jobId=waiter, schedulingPriority=11)
    assert describe(batch, waiter)["status"] == "SCHEDULED"
    assert describe(batch, runner)["preemptionSummary"]["preemptedAttemptCount"] == 1


# --------------------------------------------------------------------------- snapshot
def test_snapshot_of_a_fifo_queue_matches_the_state(emu: Any, batch: Any) -> None:
    emu.create_queue("snap", max_capacity=2)
    scripted(emu, **{"run-*": HANG})
    running = [submit(batch, "snap", f"run-{i}") for i in range(2)]
    waiting = [submit(batch, "snap", f"wait-{i}") for i in range(3)]
    emu.advance(4)
    snap = batch.get_job_queue_snapshot(jobQueue="snap")
    assert_output_shape("GetJobQueueSnapshot", snap)
    front = snap["frontOfQueue"]["jobs"]
    assert [j["jobArn"].rsplit("/", 1)[-1] for j in front] == waiting
    runnable_since = {j: describe(batch, j) for j in waiting}
    for item in front:
        assert (
            item["earliestTimeAtPosition"]
            >= runnable_since[item["jobArn"].rsplit("/", 1)[-1]]["createdAt"]
        )
    assert snap["queueUtilization"]["totalCapacityUsage"] == [
        {"capacityUnit": GPU, "quantity": 2.0}
    ]
    assert (
        "frontOfQuotaShares" not in snap and "fairshareUtilization" not in snap["queueUtilization"]
    )
    # One running job ends: the first waiting job starts; the others move up, at that instant.
    batch.terminate_service_job(jobId=running[0], reason="done")
    ended = describe(batch, running[0])["stoppedAt"]
    front = batch.get_job_queue_snapshot(jobQueue="snap")["frontOfQueue"]["jobs"]
    assert [j["jobArn"].rsplit("/", 1)[-1] for j in front] == waiting[1:]
    assert all(j["earliestTimeAtPosition"] == ended for j in front)


def test_snapshot_of_fair_share_and_quota_share_queues(emu: Any, batch: Any) -> None:
    emu.create_queue("fsnap", fair_share=True, max_capacity=3)
    scripted(emu, **{"*": HANG})
    for share, count in (("a", 2), ("b", 1), ("c", 2)):
        for i in range(count):
            submit(batch, "fsnap", f"{share}{i}", shareIdentifier=share)
    emu.advance(4)
    snap = batch.get_job_queue_snapshot(jobQueue="fsnap")
    assert_output_shape("GetJobQueueSnapshot", snap)
    fair = snap["queueUtilization"]["fairshareUtilization"]
    assert fair["activeShareCount"] == 3
    assert sorted(s["shareIdentifier"] for s in fair["topCapacityUtilization"]) == ["a", "b", "c"]
    assert len(snap["frontOfQueue"]["jobs"]) == 2

    quota_queue(
        batch,
        "qsnap",
        2,
        {
            "x": (1, {"strategy": "RESERVE"}, "DISABLED"),
            "y": (1, {"strategy": "RESERVE"}, "DISABLED"),
        },
    )
    ids = {
        f"{s}{i}": submit(batch, "qsnap", f"{s}{i}", quotaShareName=s)
        for s in ("x", "y")
        for i in range(3)
    }
    emu.advance(4)
    snap = batch.get_job_queue_snapshot(jobQueue="qsnap")
    assert_output_shape("GetJobQueueSnapshot", snap)
    heads = snap["frontOfQuotaShares"]["quotaShares"]
    assert {k: [j["jobArn"].rsplit("/", 1)[-1] for j in v] for k, v in heads.items()} == {
        "x": [ids["x1"]],
        "y": [ids["y1"]],
    }
    assert len(snap["frontOfQueue"]["jobs"]) == 4
    assert sorted(
        s["quotaShareName"]
        for s in snap["queueUtilization"]["quotaShareUtilization"]["topCapacityUtilization"]
    ) == ["x", "y"]


def test_snapshot_of_an_unknown_queue_is_a_client_error(batch: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        batch.get_job_queue_snapshot(jobQueue="nope")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ClientException", 400) and "nope" in message


# ------------------------------------------------------------------------ borrowLimit
@pytest.mark.parametrize("strategy", ["RESERVE", "LEND"])
def test_borrow_limit_is_refused_unless_lend_and_borrow(
    emu: Any, batch: Any, strategy: str
) -> None:
    quota_queue(
        batch, "bl", 4, {"ok": (2, {"strategy": "LEND_AND_BORROW", "borrowLimit": 100}, "DISABLED")}
    )
    with pytest.raises(ClientError) as excinfo:
        batch.create_quota_share(
            quotaShareName="bad",
            jobQueue="bl",
            capacityLimits=[{"maxCapacity": 2, "capacityUnit": GPU}],
            resourceSharingConfiguration={"strategy": strategy, "borrowLimit": 10},
            preemptionConfiguration={"inSharePreemption": "DISABLED"},
        )
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ClientException", 400)
    assert "resourceSharingConfiguration.borrowLimit" in message and "LEND_AND_BORROW" in message
    arn = batch.list_quota_shares(jobQueue="bl")["quotaShares"][0]["quotaShareArn"]
    with pytest.raises(ClientError) as excinfo:
        batch.update_quota_share(
            quotaShareArn=arn,
            resourceSharingConfiguration={"strategy": strategy, "borrowLimit": 10},
        )
    assert "resourceSharingConfiguration.borrowLimit" in error_of(excinfo)[2]
    assert [s["quotaShareName"] for s in batch.list_quota_shares(jobQueue="bl")["quotaShares"]] == [
        "ok"
    ]


# ------------------------------------------------------------------------------ share arguments
@pytest.mark.parametrize(
    ("queue_kind", "extra", "field", "rule"),
    [
        ("fair_share", {}, "shareIdentifier", "is required"),
        ("fifo", {"shareIdentifier": "a"}, "shareIdentifier", "must not be given"),
        ("quota_share", {}, "quotaShareName", "is required"),
        ("fifo", {"quotaShareName": "team-a"}, "quotaShareName", "must not be given"),
        ("quota_share", {"quotaShareName": "nobody"}, "quotaShareName", "does not exist"),
    ],
)
def test_share_arguments_that_do_not_fit_the_policy_are_refused(
    emu: Any, batch: Any, queue_kind: str, extra: dict[str, Any], field: str, rule: str
) -> None:
    """The service's own refusal (the emulator playing AWS, not the provider's pre-check):
    HTTP 400 naming the field and the rule, and no job made."""
    queue = f"shares-{queue_kind}-{field}-{len(extra)}-{rule.split()[-1]}"
    emu.create_queue(
        queue, fair_share=queue_kind == "fair_share", quota_share=queue_kind == "quota_share"
    )
    with pytest.raises(ClientError) as excinfo:
        submit(batch, queue, "refused", **extra)
    code, status, message = error_of(excinfo)
    assert (code, status) == ("ClientException", 400)
    assert field in message and rule in message
    assert all_jobs(batch, queue) == []
