"""Durable submission: a retry (or a try after a worker died) reattaches instead of submitting
a second job, against the emulator in-process and over HTTP, in both clientToken modes.

A "try" is a fresh operator object and a fresh task context with the same task key, as
Airflow gives a retry (XComs cleared). ``store`` runs pass one ``FakeStateStore`` across
tries, as Airflow 3.3's ``task_state_store`` does (the real accessor needs a supervisor
process; the stand-in has its get/set API and JSON round-trip); ``lookup`` runs pass none,
as on Airflow 3.0-3.2, so the ListServiceJobs lookup and the clientToken do the work.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_batch_service._shared.durable import (
    STORE_KEY,
    TASK_TAG,
    TOKEN_TAG,
    Action,
    TaskKey,
    decide,
    derive_token,
    with_durable_tags,
)
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

from .support import (
    RETRY_ISE_THEN_EXIT,
    VALIDATION,
    FakeStateStore,
    connect_emulator,
    describe,
    failed,
    hang,
    make_context,
    scenario,
    scenarios,
    submit_operator,
    unique,
)

DAG_ID = "adhoc_airflow"  # an operator outside a DAG


@pytest.fixture(
    params=[
        ("in_process", "reject"),
        ("in_process", "return_existing"),
        ("http", "reject"),
        ("http", "return_existing"),
    ],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def emu(request, monkeypatch):
    """The emulator in one clientToken mode, with an ``aws`` connection ``emu`` to it."""
    where, mode = request.param
    emulator = connect_emulator(request, monkeypatch, where, 0.05)
    emulator.configure(client_token_mode=mode)
    emulator.mode = mode
    yield emulator
    emulator.clear_faults()
    emulator.configure(client_token_mode="reject")  # in-process settings outlive the test


@pytest.fixture(params=["store", "lookup"])
def store(request) -> FakeStateStore | None:
    """Airflow 3.3's task_state_store, or none (Airflow < 3.3)."""
    return FakeStateStore() if request.param == "store" else None


class Task:
    """One task key; ``run(try_number)`` is one try of it."""

    def __init__(
        self,
        emu: Any,
        name: str,
        store: FakeStateStore | None,
        *,
        map_index: int = -1,
        **op_kwargs: Any,
    ) -> None:
        self.emu, self.name, self.store, self.map_index = emu, name, store, map_index
        self.run_id = f"manual__{uuid.uuid4().hex[:8]}"
        self.op_kwargs = op_kwargs

    @property
    def key(self) -> TaskKey:
        return TaskKey(DAG_ID, "train", self.run_id, self.map_index)

    def operator(self, **overrides: Any) -> BatchSubmitServiceJobOperator:
        return submit_operator(
            self.emu, self.name, task_id="train", **{**self.op_kwargs, **overrides}
        )

    def context(self, try_number: int) -> dict[str, Any]:
        extra: dict[str, Any] = {"run_id": self.run_id}
        if self.store is not None:
            extra["task_state_store"] = self.store
        context = make_context(**extra)
        context["ti"].try_number = try_number
        context["ti"].map_index = self.map_index
        return context

    def run(self, try_number: int, **overrides: Any) -> tuple[str, dict[str, Any]]:
        context = self.context(try_number)
        return self.operator(**overrides).execute(context), context


def submits(emu: Any) -> int:
    return int(emu.stats().get("SubmitServiceJob", 0))


def jobs_named(emu: Any, name: str) -> list[dict[str, Any]]:
    client = emu.client()
    return client.list_service_jobs(filters=[{"name": "JOB_NAME", "values": [name]}])[
        "jobSummaryList"
    ]


def until_status(emu: Any, job_id: str, wanted: set[str], max_polls: int = 400) -> str:
    """Poll until the job reaches one of ``wanted`` (no timing asserted, only the state)."""
    for _ in range(max_polls):
        status = describe(emu, job_id)["status"]
        if status in wanted:
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {wanted}")


def hang_job(emu: Any, name: str) -> None:
    emu.load_scenarios(scenario(name, hang()))


# -- retries reattach ------------------------------------------------------------------------


def test_retry_reattaches_to_a_running_job(emu, store, capsys):
    task = Task(emu, unique("run"), store)
    hang_job(emu, task.name)
    first, ctx1 = task.run(1)
    until_status(emu, first, {"RUNNING"})
    second, ctx2 = task.run(2)
    assert second == first
    assert submits(emu) == 1
    assert ctx2["ti"].xcom["job_arn"] == ctx1["ti"].xcom["job_arn"]
    out = capsys.readouterr().out
    origin = "try 1" if store is not None else "an earlier try (found by ListServiceJobs)"
    assert f"reattaching to job {first} (RUNNING) submitted by {origin}" in out
    if store is not None:
        assert "ListServiceJobs" not in emu.stats()  # the store alone answered
        assert store.get(STORE_KEY)["job_id"] == first
    else:
        assert emu.stats().get("ListServiceJobs", 0) >= 1


def test_retry_returns_a_succeeded_job_without_a_new_submit(emu, store, capsys):
    task = Task(emu, unique("done"), store, wait_for_completion=True)
    first, _ = task.run(1)
    second, ctx = task.run(2)
    assert second == first
    assert submits(emu) == 1
    assert ctx["ti"].xcom["summary"]["status"] == "SUCCEEDED"  # the wait saw it at once
    assert f"job {first} submitted by" in capsys.readouterr().out


def test_retry_after_a_worker_died_before_the_store_write_uses_the_lookup(emu, capsys):
    """Airflow 3.3, but try 1 died between submit and task_state_store.set: the store is
    empty on try 2 and the lookup finds the job."""
    task = Task(emu, unique("gap"), None)
    hang_job(emu, task.name)
    first, _ = task.run(1)
    task.store = FakeStateStore()
    second, _ = task.run(2)
    assert second == first and submits(emu) == 1
    assert task.store.get(STORE_KEY)["job_id"] == first  # saved for the next try
    assert "found by ListServiceJobs" in capsys.readouterr().out


def test_a_failed_job_is_resubmitted_with_a_new_token_then_reattached(emu, store, capsys):
    task = Task(emu, unique("exhaust"), store, retry_strategy={"attempts": 1})
    emu.load_scenarios(scenario(task.name, failed()))
    first, _ = task.run(1)
    until_status(emu, first, {"FAILED"})
    hang_job(emu, task.name)  # the replacement runs
    second, _ = task.run(2)
    assert second != first
    assert submits(emu) == 2
    tokens = [describe(emu, j)["tags"][TOKEN_TAG] for j in (first, second)]
    assert tokens == [derive_token(task.key, task.name), derive_token(task.key, task.name, first)]
    out = capsys.readouterr().out
    assert f"previous job {first} failed (attempts exhausted): submitting a new one" in out
    # A third try follows the chain to the replacement, not to the failed first job.
    third, _ = task.run(3)
    assert third == second and submits(emu) == 2
    assert f"reattaching to job {second} (" in capsys.readouterr().out


def test_an_exit_rule_failure_is_final(emu, store, capsys):
    task = Task(emu, unique("exit"), store, retry_strategy=RETRY_ISE_THEN_EXIT)
    emu.load_scenarios(scenario(task.name, failed(VALIDATION)))
    first, _ = task.run(1)
    until_status(emu, first, {"FAILED"})
    with pytest.raises(AirflowFailException) as err:
        task.run(2)
    message = f"previous job {first} failed for good because an EXIT rule matched: not resubmitting"
    assert message in str(err.value)
    assert message in capsys.readouterr().out
    assert submits(emu) == 1


# -- the clientToken -------------------------------------------------------------------------


def test_a_repeated_submit_resolves_to_the_one_job(emu, capsys):
    """botocore re-sends SubmitServiceJob after a 5xx or timeout whose first request did
    create the job: the repeat carries the same token, and must resolve to that job."""
    task = Task(emu, unique("dup"), None)
    hang_job(emu, task.name)
    op = task.operator()
    token = derive_token(task.key, task.name)
    lost = with_durable_tags(op.build_request(), key=task.key, token=token, warn=print)
    original = emu.client().submit_service_job(**lost)["jobId"]  # its response was "lost"
    job_id, _ = task.run(1)
    assert job_id == original
    assert submits(emu) == 2  # two requests ...
    assert [j["jobId"] for j in jobs_named(emu, task.name)] == [original]  # ... one job
    if emu.mode == "reject":
        assert f"refused clientToken {token}" in capsys.readouterr().out


def test_a_user_client_token_is_sent_as_is_and_reattached_to(emu, store):
    task = Task(emu, unique("usertok"), store, client_token="my-own-token-1")
    hang_job(emu, task.name)
    first, _ = task.run(1)
    job = describe(emu, first)
    assert job["tags"][TOKEN_TAG] == "my-own-token-1"
    assert job["tags"][TASK_TAG] == task.key.tag_value()
    second, _ = task.run(2)
    assert second == first and submits(emu) == 1


def test_a_user_client_token_cannot_resubmit_after_a_failure(emu, store):
    task = Task(
        emu,
        unique("usertokfail"),
        store,
        client_token="my-own-token-2",
        retry_strategy={"attempts": 1},
    )
    emu.load_scenarios(scenario(task.name, failed()))
    first, _ = task.run(1)
    until_status(emu, first, {"FAILED"})
    with pytest.raises(AirflowFailException, match="Give a new client_token"):
        task.run(2)
    assert submits(emu) == 1
    # A new token (here: templated with the try) does submit again.
    second, _ = task.run(3, client_token="my-own-token-2-try3")
    assert second != first and submits(emu) == 2


def test_map_index_tells_mapped_tasks_apart(emu, store):
    name = unique("mapped")  # the same job name for every map index
    hang_job(emu, name)
    tasks = [Task(emu, name, FakeStateStore() if store else None, map_index=i) for i in (0, 1)]
    tasks[1].run_id = tasks[0].run_id
    firsts = [t.run(1)[0] for t in tasks]
    assert firsts[0] != firsts[1] and submits(emu) == 2
    seconds = [t.run(2)[0] for t in reversed(tasks)][::-1]
    assert seconds == firsts and submits(emu) == 2


def test_a_job_not_yet_describable_is_waited_for(emu, capsys):
    """ListServiceJobs lists the job, DescribeServiceJob still says "not found" (the
    emulator's notFoundForMs applies to describe, not to list): the lookup waits it out."""
    task = Task(emu, unique("late"), None)
    hang_job(emu, task.name)
    emu.set_faults({"DescribeServiceJob": {"notFoundForMs": 1500}})
    first, _ = task.run(1)
    second, _ = task.run(2)
    assert second == first and submits(emu) == 1


# -- the pure parts ----------------------------------------------------------------------------


def _describe(status: str, **extra: Any) -> dict[str, Any]:
    return {"jobId": "j-1", "jobName": "n", "status": status, **extra}


def test_decide_table():
    assert decide(None).action is Action.SUBMIT
    for status in ("SUBMITTED", "RUNNABLE", "SCHEDULED", "RUNNING", "SOMETHING_NEW"):
        assert decide(_describe(status)).action is Action.REATTACH
    assert decide(_describe("SUCCEEDED")).action is Action.REATTACH
    exit_rule = _describe(
        "FAILED",
        statusReason=VALIDATION,
        retryStrategy=RETRY_ISE_THEN_EXIT,
        attempts=[{"statusReason": VALIDATION, "startedAt": 1, "stoppedAt": 2}],
    )
    assert decide(exit_rule).action is Action.FAIL
    exhausted = _describe(
        "FAILED",
        statusReason="x",
        retryStrategy={"attempts": 1},
        attempts=[{"statusReason": "x", "startedAt": 1, "stoppedAt": 2}],
    )
    decision = decide(exhausted)
    assert decision.action is Action.SUBMIT and "attempts exhausted" in decision.message
    terminated = _describe("FAILED", isTerminated=True, statusReason="stop")
    assert decide(terminated).action is Action.SUBMIT


def test_tokens_are_deterministic_short_and_distinct():
    key = TaskKey("dag", "task", "manual__1", -1)
    token = derive_token(key, "name")
    assert token == derive_token(TaskKey("dag", "task", "manual__1", -1), "name")
    assert 1 <= len(token) <= 64
    others = {
        derive_token(TaskKey("dag", "task", "manual__1", 0), "name"),
        derive_token(TaskKey("dag", "task", "manual__2", -1), "name"),
        derive_token(key, "other"),
        derive_token(key, "name", "job-1"),
    }
    assert token not in others and len(others) == 4


def test_tags_respect_batch_limits():
    key = TaskKey("d" * 250, "t" * 250, "r" * 250 + "?!", 3)
    assert len(key.tag_value()) <= 256
    assert key.tag_value() != TaskKey("d" * 250, "t" * 250, "r" * 250 + "?#", 3).tag_value()
    warnings: list[str] = []
    full = {f"k{i}": "v" for i in range(49)}
    out = with_durable_tags({"tags": full}, key=key, token="tok", warn=warnings.append)
    assert len(out["tags"]) == 50 and out["tags"][TOKEN_TAG] == "tok"
    assert TASK_TAG not in out["tags"] and warnings
    assert out["clientToken"] == "tok"


# -- the operator's own wait decides whether Airflow may retry -------------------------------


def test_waiting_operator_lets_airflow_retry_a_non_exit_failure_and_the_retry_resubmits(
    emu, store, capsys
):
    """Attempts exhausted: a retryable AirflowException (not AirflowFailException), so the
    task's own retries run, and the retry submits a fresh job rather than re-watching."""
    task = Task(
        emu, unique("waitexh"), store, retry_strategy={"attempts": 1}, wait_for_completion=True
    )
    emu.load_scenarios(scenario(task.name, failed()))
    with pytest.raises(AirflowException) as err:
        task.run(1)
    assert not isinstance(err.value, AirflowFailException)
    assert "all 1 attempt(s) were used" in str(err.value)
    assert "the retry submits a new job" in str(err.value)
    emu.load_scenarios(scenarios())  # the replacement succeeds
    second, context = task.run(2)
    assert submits(emu) == 2
    assert context["ti"].xcom["summary"]["status"] == "SUCCEEDED"
    assert describe(emu, second)["status"] == "SUCCEEDED"


def test_waiting_operator_fails_for_good_on_an_exit_rule(emu, store):
    task = Task(
        emu, unique("waitexit"), store, retry_strategy=RETRY_ISE_THEN_EXIT, wait_for_completion=True
    )
    emu.load_scenarios(scenario(task.name, failed(VALIDATION)))
    with pytest.raises(AirflowFailException, match="an EXIT rule matched"):
        task.run(1)
    assert submits(emu) == 1
