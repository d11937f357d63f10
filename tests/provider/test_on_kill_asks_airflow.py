"""A killed operator trigger asks Airflow whether its task is still deferred before it
terminates the job (``core.kill_rule``).

Airflow 3.3.2's triggerer cancels a trigger with its "user action" message both for a user's
kill, clear or mark and when a triggerer that stalled hands back triggers another one adopted.
Only the task instance's state tells them apart. Here the trigger runs over the emulator as in
the triggerer, and the triggerer's comms (``SUPERVISOR_COMMS``, through which a trigger's Task
SDK calls reach the api-server) are a stand-in that answers Airflow's own ``GetTaskStates``
message with Airflow's own ``TaskStatesResult``: the one piece of the triggerer not running
here. The real triggerers are in ``tests/distributed``.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_batch_service._shared import task_state
from airflow_batch_service.triggers.batch_service import BatchServiceJobTrigger

from .support import (
    POKE,
    STATE_SECONDS,
    connect_emulator,
    describe,
    hanging_job,
    output,
    rebuild,
)

comms_messages = pytest.importorskip("airflow.sdk.execution_time.comms")


def _has_trigger_on_kill() -> bool:
    from airflow.triggers.base import BaseTrigger

    return "on_kill" in vars(BaseTrigger)


# Before 3.3 Airflow never calls a trigger's on_kill, and its Task SDK sends every call (the
# connection lookup too) through SUPERVISOR_COMMS once one is set, which the stand-in is not.
pytestmark = [
    pytest.mark.usefixtures("fresh_shared_clients"),
    pytest.mark.skipif(not _has_trigger_on_kill(), reason="Airflow < 3.3 calls no on_kill"),
]


@pytest.fixture(params=["in_process", "http"])
def emu(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    return connect_emulator(request, monkeypatch, request.param, STATE_SECONDS)


class Comms:
    """Answers ``GetTaskStates`` as the triggerer's supervisor would, from ``states``;
    ``failures`` first calls raise (the api-server restarting)."""

    def __init__(self, states: dict[str, Any], failures: int = 0) -> None:
        self.states = states
        self.failures = failures
        self.asked: list[Any] = []
        self.job_arn: str | None = None  # the current try's job_arn XCom (None: the same job)
        self.try_number: int | None = None  # the current try's try_number XCom
        self.xcom_asks: list[Any] = []

    async def asend(self, message: Any) -> Any:
        if isinstance(message, comms_messages.GetXCom):
            self.xcom_asks.append(message)
            values = {"job_arn": self.job_arn, "try_number": self.try_number}
            assert message.key in values, message
            return comms_messages.XComResult(key=message.key, value=values[message.key])
        assert isinstance(message, comms_messages.GetTaskStates), message
        self.asked.append(message)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("api-server unavailable")
        return comms_messages.TaskStatesResult(task_states=self.states)


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.sdk.execution_time import task_runner

    def install(states: dict[str, Any], failures: int = 0) -> Comms:
        fake = Comms(states, failures)
        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", fake, raising=False)
        return fake

    monkeypatch.setattr(task_state, "PAUSE_SECONDS", 0.0)
    return install


def _killed(emu: Any, map_index: int = -1) -> tuple[BatchServiceJobTrigger, str]:
    """The operator's trigger for a running job, rebuilt as the triggerer does, with the task
    instance the triggerer attaches."""
    job_id = hanging_job(emu)
    trigger = rebuild(
        BatchServiceJobTrigger(
            job_id=job_id, aws_conn_id="emu", poll_interval=POKE, terminate_on_kill=True
        )
    )
    trigger.task_instance = SimpleNamespace(  # type: ignore[assignment]
        dag_id="d", task_id="train", run_id="r1", map_index=map_index, try_number=1
    )
    return trigger, job_id


def _terminated(emu: Any, job_id: str) -> bool:
    return bool(describe(emu, job_id).get("isTerminated"))


def test_a_trigger_handed_to_another_triggerer_leaves_its_job(emu, comms, capsys, caplog):
    fake = comms({"r1": {"train": "deferred"}})
    trigger, job_id = _killed(emu)
    with caplog.at_level("INFO"):
        asyncio.run(trigger.on_kill())
    assert not _terminated(emu, job_id)
    assert emu.stats().get("TerminateServiceJob", 0) == 0
    log = output(capsys, caplog)
    assert "still deferred" in log and job_id in log
    (asked,) = fake.asked
    assert (asked.dag_id, asked.task_ids, asked.run_ids, asked.map_index) == (
        "d",
        ["train"],
        ["r1"],
        None,
    )


@pytest.mark.parametrize("state", ["failed", "success", None, "scheduled", "running"])
def test_a_kill_clear_or_mark_terminates(emu, comms, capsys, caplog, state):
    comms({"r1": {"train": state}} if state else {"r1": {}})
    trigger, job_id = _killed(emu)
    with caplog.at_level("INFO"):
        asyncio.run(trigger.on_kill())
    assert _terminated(emu, job_id)
    assert "was killed" in describe(emu, job_id)["statusReason"]
    assert "no longer deferred" in output(capsys, caplog)


def test_a_mapped_task_is_asked_by_its_own_key(emu, comms):
    fake = comms({"r1": {"train": "failed", "train_4": "deferred"}})
    trigger, job_id = _killed(emu, map_index=4)
    asyncio.run(trigger.on_kill())
    assert not _terminated(emu, job_id)
    assert fake.asked[0].map_index == 4


def test_a_passing_outage_is_asked_through(emu, comms):
    fake = comms({"r1": {"train": "deferred"}}, failures=2)
    trigger, job_id = _killed(emu)
    asyncio.run(trigger.on_kill())
    assert len(fake.asked) == 3
    assert not _terminated(emu, job_id)


def test_no_answer_at_all_follows_airflows_word(emu, comms, capsys, caplog):
    fake = comms({"r1": {"train": "deferred"}}, failures=99)
    trigger, job_id = _killed(emu)
    with caplog.at_level("INFO"):
        asyncio.run(trigger.on_kill())
    assert len(fake.asked) == task_state.TRIES
    assert _terminated(emu, job_id)
    log = output(capsys, caplog)
    assert "could not be asked" in log and "api-server unavailable" in log


def test_a_new_try_deferred_on_another_job_leaves_this_one_no_owner(emu, comms, capsys, caplog):
    """A clear whose new try submitted a job of its own and deferred on it: the task reads
    ``deferred``, but this wait's job would be orphaned, so it is terminated."""
    fake = comms({"r1": {"train": "deferred"}})
    fake.job_arn = "arn:aws:batch:us-east-1:123456789012:service-job/another-job"
    trigger, job_id = _killed(emu)
    asyncio.run(trigger.on_kill())
    assert _terminated(emu, job_id)
    assert "deferred again, but on another job" in output(capsys, caplog)
    assert fake.xcom_asks and fake.xcom_asks[0].task_id == "train"


def test_the_same_try_deferred_on_the_job_is_a_hand_over(emu, comms):
    fake = comms({"r1": {"train": "deferred"}})
    trigger, job_id = _killed(emu)
    fake.job_arn = f"arn:aws:batch:us-east-1:123456789012:service-job/{job_id}"
    fake.try_number = 1
    asyncio.run(trigger.on_kill())
    assert not _terminated(emu, job_id)
    assert [m.key for m in fake.xcom_asks] == ["job_arn", "try_number"]


def test_a_cleared_tasks_new_try_that_reattached_first_still_stops_the_job(
    emu, comms, capsys, caplog
):
    """The clear's new try won the race: it reattached to the job and deferred on it before
    this try's kill asked. The user still cleared: terminate (the new try resubmits)."""
    fake = comms({"r1": {"train": "deferred"}})
    trigger, job_id = _killed(emu)
    fake.job_arn = f"arn:aws:batch:us-east-1:123456789012:service-job/{job_id}"
    fake.try_number = 2
    with caplog.at_level("INFO"):
        asyncio.run(trigger.on_kill())
    assert _terminated(emu, job_id)
    assert "new try 2 reattached to this job" in output(capsys, caplog)
