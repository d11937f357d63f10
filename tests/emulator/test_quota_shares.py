"""Quota shares through the Batch API, in-process and over HTTP (``emu``: frozen clock, 1 s per
state): reserve, lend and borrow, priority within a share, cross-share and in-share preemption,
and the arguments a quota-share queue refuses."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .capacity_support import (
    ACTIVE,
    BORROW,
    GPU,
    HANG,
    Trace,
    quota_queue,
    scripted,
    submit,
)
from .helpers import (
    all_jobs,
    describe,
    error_of,
)


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
