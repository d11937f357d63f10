"""Named gates (``holdUntilReleased``): a try waits in a status until the test opens the gate,
in-process and over HTTP, on a frozen clock. However much time passes, the job does not move
on before the gate opens; once it opens, the job moves on no sooner than time alone allows.
"""

from __future__ import annotations

import pytest

from airflow_batch_service.emulator.scenarios import ScenarioError, parse

from .helpers import (
    capacity,
    describe,
    hang,
    run_to_end,
    scenario,
    scenarios,
    script,
    submit_args,
    succeeded,
)

AN_HOUR = 3600.0


def test_a_job_waits_at_its_gate_however_long_until_it_opens(emu, batch):
    emu.load_scenarios(
        scenario("gated", succeeded(seconds=5, hold_until_released={"RUNNING": "trained"}))
    )
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "gated"))["jobId"]
    emu.advance(AN_HOUR)
    assert describe(batch, job_id)["status"] == "RUNNING"
    assert emu.gates() == {"open": [], "waiting": {"trained": [job_id]}}
    emu.advance(AN_HOUR)
    assert describe(batch, job_id)["status"] == "RUNNING"

    assert emu.open_gate("trained") == [job_id]
    assert emu.gates() == {"open": ["trained"], "waiting": {}}
    final = run_to_end(emu, batch, job_id)
    assert final["status"] == "SUCCEEDED"
    # It left RUNNING when the gate opened (two hours in), not at the try's 5 s.
    attempt = final["attempts"][0]
    assert attempt["stoppedAt"] - final["createdAt"] == pytest.approx(2 * AN_HOUR * 1000, abs=1)


def test_an_open_gate_never_makes_a_job_leave_sooner_than_its_time(emu, batch):
    emu.load_scenarios(
        scenario("early", succeeded(runnable_seconds=30, hold_until_released={"RUNNABLE": "go"}))
    )
    emu.open_gate("go")  # opened before any job reached it: they pass straight through
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "early"))["jobId"]
    assert emu.gates()["waiting"] == {}
    final = run_to_end(emu, batch, job_id)
    assert final["scheduledAt"] - final["createdAt"] == pytest.approx(31_000, abs=1)


def test_one_gate_releases_every_job_waiting_at_it_and_no_other(emu, batch):
    emu.load_scenarios(
        scenarios(
            script("a-*", succeeded(hold_until_released={"RUNNABLE": "a"})),
            script("b-*", succeeded(hold_until_released={"RUNNABLE": "b"})),
        )
    )
    a = [
        batch.submit_service_job(**submit_args(emu.queue_name, f"a-{i}"))["jobId"] for i in range(2)
    ]
    b = batch.submit_service_job(**submit_args(emu.queue_name, "b-1"))["jobId"]
    emu.advance(60)
    waiting = emu.gates()["waiting"]
    assert sorted(waiting["a"]) == sorted(a) and waiting["b"] == [b]
    assert sorted(emu.open_gate("a")) == sorted(a)
    emu.advance(60)
    assert [describe(batch, j)["status"] for j in a] == ["SUCCEEDED", "SUCCEEDED"]
    assert describe(batch, b)["status"] == "RUNNABLE"


def test_a_gate_and_a_sighting_hold_on_one_status_both_apply(emu, batch):
    emu.load_scenarios(
        scenario(
            "both",
            succeeded(hold_until_seen={"RUNNABLE": 2}, hold_until_released={"RUNNABLE": "open"}),
        )
    )
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "both"))["jobId"]
    emu.advance(10)
    emu.open_gate("open")
    emu.advance(10)
    assert describe(batch, job_id)["status"] == "RUNNABLE"  # gate open, one sighting
    emu.advance(10)
    assert describe(batch, job_id)["status"] == "RUNNABLE"  # the second sighting releases it
    assert run_to_end(emu, batch, job_id)["status"] == "SUCCEEDED"


def test_each_held_status_of_a_try_waits_at_its_own_gate(emu, batch):
    gates = {"SCHEDULED": "s", "STARTING": "t", "RUNNING": "r"}
    emu.load_scenarios(scenario("steps", succeeded(hold_until_released=gates)))
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "steps"))["jobId"]
    seen = []
    for gate in ("s", "t", "r"):
        emu.advance(AN_HOUR)
        seen.append(describe(batch, job_id)["status"])
        assert emu.gates()["waiting"] == {gate: [job_id]}
        emu.open_gate(gate)
    assert seen == ["SCHEDULED", "STARTING", "RUNNING"]
    assert run_to_end(emu, batch, job_id)["status"] == "SUCCEEDED"


def test_a_terminated_job_no_longer_waits_at_its_gate(emu, batch):
    emu.load_scenarios(scenario("stop-me", succeeded(hold_until_released={"RUNNING": "never"})))
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "stop-me"))["jobId"]
    emu.advance(60)
    assert emu.gates()["waiting"] == {"never": [job_id]}
    batch.terminate_service_job(jobId=job_id, reason="test")
    emu.advance(60)
    assert emu.gates()["waiting"] == {}
    assert describe(batch, job_id)["status"] == "FAILED"


def test_the_second_try_may_wait_at_a_gate_the_first_passed(emu, batch):
    emu.load_scenarios(
        scenario(
            "retried",
            capacity(),
            succeeded(hold_until_released={"RUNNABLE": "second"}),
        )
    )
    job_id = batch.submit_service_job(**submit_args(emu.queue_name, "retried"))["jobId"]
    emu.advance(AN_HOUR)
    answer = describe(batch, job_id)
    assert answer["status"] == "RUNNABLE" and answer.get("statusReason")  # requeued, waiting
    assert emu.gates()["waiting"] == {"second": [job_id]}
    emu.open_gate("second")
    assert run_to_end(emu, batch, job_id)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("attempt", "words"),
    [
        ({"holdUntilReleased": {"SUBMITTED": "g"}}, "not a status a try can be held in"),
        ({"holdUntilReleased": {"RUNNING": ""}}, "holdUntilReleased.RUNNING: a gate name is 1-64"),
        ({"holdUntilReleased": {"RUNNING": "a b"}}, "a gate name is 1-64"),
        ({"holdUntilReleased": {}}, "non-empty object"),
        ({"result": "HANG", "holdUntilReleased": {"RUNNING": "g"}}, "never leaves RUNNING"),
    ],
)
def test_a_bad_gate_in_a_scenario_is_named(attempt, words):
    with pytest.raises(ScenarioError, match=words):
        parse({"jobs": [{"jobName": "x", "attempts": [attempt]}]})


def test_gates_round_trip_through_the_scenario_format():
    document = scenario("x", hang(hold_until_released={"RUNNABLE": "q"}))
    assert parse(document).to_dict()["jobs"][0]["attempts"][0]["holdUntilReleased"] == {
        "RUNNABLE": "q"
    }


def test_a_bad_gate_name_is_refused_by_the_control_api(emu):
    with pytest.raises(ValueError, match="a gate name is 1-64"):
        emu.open_gate("no spaces")


def test_waiting_for_a_gate_that_no_job_reaches_says_what_it_saw(emu):
    with pytest.raises(TimeoutError, match=r"1 job\(s\) at gate 'nobody'.*'waiting': \{\}"):
        emu.wait_at_gate("nobody", timeout=0)
