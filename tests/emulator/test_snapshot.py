"""GetJobQueueSnapshot through the Batch API, in-process and over HTTP (``emu``: frozen clock,
1 s per state): FIFO, fair-share and quota-share queues, and an unknown queue."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .capacity_support import (
    GPU,
    HANG,
    quota_queue,
    scripted,
    submit,
)
from .helpers import (
    assert_output_shape,
    describe,
    error_of,
)


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
