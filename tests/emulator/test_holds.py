"""Held calls: ``"hold": true`` keeps a call open, before it acts, until the test releases it.

A test of what happens while a call is in flight waits for the emulator to say the call is
held (``stats()["held"]``), acts, then releases it; it never bets on how long a call takes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_batch_service.emulator.faults import FaultError, FaultPlan

from .helpers import submit_args


def _until(what: str, probe: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last seen {last!r}")


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # reported by the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_a_held_call_waits_until_released_and_then_acts(emu: Any) -> None:
    batch = emu.client()
    job = batch.submit_service_job(**submit_args(emu.queue_name, "held"))
    emu.set_faults({"DescribeServiceJob": {"hold": True}})
    thread, box = _in_thread(lambda: batch.describe_service_job(jobId=job["jobId"]))
    _until("the describe to be held", lambda: emu.stats().get("held") == {"DescribeServiceJob": 1})
    # Other operations are not held, and the held one has not answered.
    assert "jobSummaryList" in batch.list_service_jobs(jobQueue=emu.queue_name)
    assert thread.is_alive() and not box
    assert emu.release() == 1
    thread.join(30)
    assert not thread.is_alive() and box["result"]["jobId"] == job["jobId"], box
    stats = emu.stats()
    assert stats["held"] == {} and stats["heldTotal"] == {"DescribeServiceJob": 1}
    assert stats["DescribeServiceJob"] == 1


def test_a_new_fault_plan_releases_held_calls(emu: Any) -> None:
    batch = emu.client()
    emu.set_faults({"ListServiceJobs": {"hold": True}})
    thread, box = _in_thread(lambda: batch.list_service_jobs(jobQueue=emu.queue_name))
    _until("the list to be held", lambda: emu.stats().get("held"))
    emu.clear_faults()
    thread.join(30)
    assert box.get("result", {}).get("jobSummaryList") == [], box
    # With the plan cleared, the next call is not held.
    assert batch.list_service_jobs(jobQueue=emu.queue_name)["jobSummaryList"] == []
    assert emu.stats()["heldTotal"] == {"ListServiceJobs": 1}


def test_a_hold_is_bounded_by_hold_ms(emu: Any) -> None:
    batch = emu.client()
    emu.set_faults({"ListServiceJobs": {"hold": True, "holdMs": 50}})
    assert batch.list_service_jobs(jobQueue=emu.queue_name)["jobSummaryList"] == []
    assert emu.stats()["heldTotal"] == {"ListServiceJobs": 1}


def test_the_sts_call_of_a_role_connection_can_be_held(emu: Any) -> None:
    """What building a client for a connection with ``role_arn`` calls first."""
    sts = emu.client("sts")
    emu.set_faults({"sts:AssumeRole": {"hold": True}})
    thread, box = _in_thread(
        lambda: sts.assume_role(
            RoleArn="arn:aws:iam::123456789012:role/AirflowBatch", RoleSessionName="held-session"
        )
    )
    _until("AssumeRole to be held", lambda: emu.stats().get("held") == {"sts:AssumeRole": 1})
    emu.release()
    thread.join(30)
    assert "Credentials" in box.get("result", {}), box


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"hold": "yes"}, "DescribeServiceJob.hold: must be true or false"),
        ({"hold": True, "holdMs": -1}, "DescribeServiceJob.holdMs: must be a non-negative"),
    ],
)
def test_bad_hold_specs_name_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultError, match=message):
        FaultPlan.parse({"DescribeServiceJob": spec})


def test_hold_round_trips_in_the_plan_document() -> None:
    plan = FaultPlan.parse({"sts:AssumeRole": {"hold": True, "holdMs": 500}})
    assert plan.to_dict()["faults"]["sts:AssumeRole"]["hold"] is True
    assert plan.to_dict()["faults"]["sts:AssumeRole"]["holdMs"] == 500
