"""The job operations (update a job's priority, terminate jobs) against the emulator:
in-process under ``moto.mock_aws`` and over HTTP through an ``aws`` connection; bad input
refused before any call; the operations' registration and import cost; and the operations
example DAG end to end with ``dag.test()``. The environment and queue operations are
``test_service_environments.py``'s and ``test_service_job_queues.py``'s.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG

from airflow_batch_service.get_provider_info import get_provider_info
from airflow_batch_service.operators.service_operations import (
    BatchTerminateServiceJobsOperator,
    BatchUpdateServiceJobPriorityOperator,
)

from .support import batch_client, make_context, submit_operator, unique
from .support_dags import EXAMPLE_SCENARIOS, example_dag, point_example_dags_at, xcom
from .support_operations import (
    calls,
    slow_emu_in_process,  # noqa: F401  (the ``in_process`` fixture)
    slow_emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
)


def submit_as_task(
    emu,
    name: str,
    *,
    dag_id: str = "ops_dag",
    task_id: str = "submit",
    run_id: str = "manual__run-1",
    map_index: int = -1,
) -> str:
    """Submit as a task of ``dag_id`` in ``run_id`` would (durable tags included): the job id."""
    with DAG(dag_id, schedule=None):
        op = submit_operator(emu, name, task_id=task_id)
    context = make_context(run_id=run_id)
    context["ti"].map_index = map_index
    return op.execute(context)


# -- BatchUpdateServiceJobPriorityOperator -------------------------------------------------


def test_update_priority_sends_zero_and_persists_the_job_link(emu):
    job_id = submit_as_task(emu, unique("prio"))
    emu.reset_stats()
    context = make_context()
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=0
    )
    assert op.execute(context) == job_id
    assert emu.stats().get("UpdateServiceJob") == 1
    assert batch_client(emu).describe_service_job(jobId=job_id)["schedulingPriority"] == 0
    assert context["ti"].xcom["batch_service_job_details"]["job_id"] == job_id
    # A rendered template of digits works too.
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=" 42 "
    )
    op.execute(make_context())
    assert batch_client(emu).describe_service_job(jobId=job_id)["schedulingPriority"] == 42


@pytest.mark.parametrize(
    ("job_id", "priority", "words"),
    [
        ("j", 10000, "scheduling_priority (schedulingPriority): must be between 0 and 9999"),
        ("j", -1, "must be between 0 and 9999, got -1"),
        ("j", None, "scheduling_priority (schedulingPriority): is required"),
        ("j", "high", "must be an integer"),
        ("", 5, "job_id (jobId): must be a non-empty string"),
    ],
)
def test_update_priority_refuses_bad_input_before_any_call(emu, job_id, priority, words):
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=priority
    )
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    assert "nothing was called" in str(err.value)
    assert words in str(err.value)
    assert calls(emu) == 0


def test_update_priority_of_a_finished_job_fails_with_aws_message(emu):
    job_id = submit_as_task(emu, unique("done"))
    batch_client(emu).terminate_service_job(jobId=job_id, reason="test")
    op = BatchUpdateServiceJobPriorityOperator(
        task_id="prio", aws_conn_id="emu", job_id=job_id, scheduling_priority=5
    )
    with pytest.raises(AirflowFailException, match=r"UpdateServiceJob of .* was refused"):
        op.execute(make_context())


# -- BatchTerminateServiceJobsOperator -----------------------------------------------------


def statuses(emu, ids) -> dict[str, tuple[str, bool]]:
    """Each job's status and whether it was terminated."""
    batch = batch_client(emu)
    out = {}
    for job_id in ids:
        d = batch.describe_service_job(jobId=job_id)
        out[job_id] = (d["status"], bool(d.get("isTerminated")))
    return out


def test_terminate_by_ids_flattens_lists_and_reports(emu):
    a, b, c = (submit_as_task(emu, unique("ids")) for _ in range(3))
    op = BatchTerminateServiceJobsOperator(
        task_id="stop", aws_conn_id="emu", job_ids=[[a, b], c, a], reason="enough"
    )
    report = op.execute(make_context())
    assert sorted(report["terminated"]) == sorted([a, b, c])
    assert report["errors"] == [] and report["reportOnly"] is False
    assert [j["selectedBy"] for j in report["jobs"]] == ["job_ids"] * 3
    assert set(statuses(emu, [a, b, c]).values()) == {("FAILED", True)}
    assert batch_client(emu).describe_service_job(jobId=a)["statusReason"] == "enough"


def test_terminate_by_prefix_leaves_other_names_and_finished_jobs(emu):
    prefix = unique("sweep")
    mine = [submit_as_task(emu, f"{prefix}-{i}") for i in range(3)]
    other = submit_as_task(emu, unique("other"))
    batch_client(emu).terminate_service_job(jobId=mine[0], reason="already stopped")
    emu.reset_stats()
    op = BatchTerminateServiceJobsOperator(
        task_id="stop", aws_conn_id="emu", job_queue=emu.queue_name, job_name_prefix=prefix
    )
    report = op.execute(make_context(run_id="r1"))
    assert sorted(report["terminated"]) == sorted(mine[1:])
    assert {j["jobName"] for j in report["jobs"]} == {f"{prefix}-1", f"{prefix}-2"}
    assert emu.stats().get("TerminateServiceJobs") == 1
    assert emu.stats().get("DescribeServiceJob", 0) == 0  # the prefix needs no describes
    assert statuses(emu, [other])[other][0] != "FAILED"
    reason = batch_client(emu).describe_service_job(jobId=mine[1])["statusReason"]
    assert reason.startswith("Airflow task ") and reason.endswith(".stop (run r1) terminated it")


def test_terminate_by_run_reads_the_durable_task_tag(emu):
    run1_t1 = submit_as_task(
        emu, unique("r"), task_id="train", run_id="manual__2026-11-24T08:17:26+00:00", map_index=0
    )
    run1_t1b = submit_as_task(
        emu, unique("r"), task_id="train", run_id="manual__2026-11-24T08:17:26+00:00", map_index=1
    )
    run1_t2 = submit_as_task(
        emu, unique("r"), task_id="eval", run_id="manual__2026-11-24T08:17:26+00:00"
    )
    run2 = submit_as_task(emu, unique("r"), task_id="train", run_id="manual__other")
    other_dag = submit_as_task(
        emu,
        unique("r"),
        dag_id="another_dag",
        task_id="train",
        run_id="manual__2026-11-24T08:17:26+00:00",
    )

    with DAG("ops_dag", schedule=None):
        only_train = BatchTerminateServiceJobsOperator(
            task_id="stop",
            aws_conn_id="emu",
            job_queue=emu.queue_name,
            run_id="manual__2026-11-24T08:17:26+00:00",
            submitting_task_ids=["train"],
            report_only=True,
        )
        whole_run = BatchTerminateServiceJobsOperator(
            task_id="stop2",
            aws_conn_id="emu",
            job_queue=emu.queue_name,
            run_id="manual__2026-11-24T08:17:26+00:00",
        )
    preview = only_train.execute(make_context())
    assert sorted(j["jobId"] for j in preview["jobs"]) == sorted([run1_t1, run1_t1b])
    assert preview["terminated"] == [] and preview["reportOnly"] is True
    assert emu.stats().get("TerminateServiceJobs", 0) == 0

    report = whole_run.execute(make_context())
    assert sorted(report["terminated"]) == sorted([run1_t1, run1_t1b, run1_t2])
    after = statuses(emu, [run1_t1, run1_t2, run2, other_dag])
    assert after[run1_t1] == ("FAILED", True) and after[run1_t2] == ("FAILED", True)
    assert after[run2][0] != "FAILED" and after[other_dag][0] != "FAILED"


def test_terminate_with_nothing_selected_calls_nothing_to_terminate(emu):
    op = BatchTerminateServiceJobsOperator(
        task_id="stop", aws_conn_id="emu", job_queue=emu.queue_name, job_name_prefix="nobody"
    )
    report = op.execute(make_context())
    assert report == {"terminated": [], "errors": [], "jobs": [], "reportOnly": False}
    assert emu.stats().get("TerminateServiceJobs", 0) == 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "job_ids (jobs): nothing selects a job"),
        ({"job_name_prefix": "sweep"}, "job_queue (jobQueue): is required"),
        (
            {"job_queue": "q", "job_name_prefix": "sweep-*"},
            "job_name_prefix (jobNamePrefix): must be 1-127",
        ),
        ({"job_ids": ["a", ""]}, "job_ids (jobs[1]): must be a non-empty job id string"),
        ({"job_ids": {"a": 1}}, "job_ids (jobs): must be a job id or a list"),
        ({"job_queue": "q", "run_id": ""}, "run_id (runId): must be a non-empty string"),
        ({"job_ids": ["a"], "submitting_task_ids": ["t"]}, "give run_id (runId) too"),
        ({"job_ids": ["a"], "reason": "x" * 1001}, "reason: at most 1000 characters"),
    ],
)
def test_terminate_refuses_bad_input_before_any_call(emu, kwargs, words):
    op = BatchTerminateServiceJobsOperator(task_id="stop", aws_conn_id="emu", **kwargs)
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    assert words in str(err.value), str(err.value)
    assert calls(emu) == 0


def test_terminate_chunks_by_fifty(in_process):
    ids = [f"unknown-{i}" for i in range(120)]  # unknown ids count as successful (documented)
    op = BatchTerminateServiceJobsOperator(task_id="stop", aws_conn_id="emu", job_ids=ids)
    report = op.execute(make_context())
    assert report["terminated"] == ids
    assert in_process.stats()["TerminateServiceJobs"] == 3


# -- provider registration -----------------------------------------------------------------


def test_registered_in_provider_info():
    info = get_provider_info()
    modules = {
        m
        for section in ("operators", "sensors", "triggers")
        for e in info[section]
        for m in e["python-modules"]
    }
    assert {
        "airflow_batch_service.operators.service_operations",
        "airflow_batch_service.sensors.service_operations",
        "airflow_batch_service.triggers.service_operations",
    } <= modules
    assert {
        "airflow_batch_service.links.service_operations.BatchServiceEnvironmentLink",
        "airflow_batch_service.links.service_operations.BatchServiceJobQueueLink",
    } <= set(info["extra-links"])


# -- the example DAG, end to end -----------------------------------------------------------


def test_operations_example_dag(airflow_home, batch_emulator_server, monkeypatch, capsys):
    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.1)
    emu.load_scenarios(EXAMPLE_SCENARIOS)
    emu.reset_stats()
    point_example_dags_at(monkeypatch, emu, "emu_examples")

    dag_run = example_dag(airflow_home, "example_batch_service_operations").test()
    out = capsys.readouterr().out
    tis = {(ti.task_id, ti.map_index): ti for ti in dag_run.get_task_instances()}
    states = {key: str(ti.state).rsplit(".", 1)[-1] for key, ti in tis.items()}

    assert str(dag_run.state).endswith("success"), (states, out[-3000:])
    assert states[("watch_baseline", -1)] == "failed"  # the scripted validation error
    for task in (
        "create_environment",
        "environment_ready",
        "queue_ready",
        "stop_sweep",
        "deprioritize_first_candidate",
    ):
        assert states[(task, -1)] == "success", (task, states)

    batch = batch_client(emu)
    arn = tis[("create_environment", -1)].xcom_pull(task_ids="create_environment")
    env = xcom(tis[("environment_ready", -1)], task_ids="environment_ready")
    assert env["arn"] == arn and env["status"] == "VALID"
    queue = xcom(tis[("queue_ready", -1)], task_ids="queue_ready")
    assert queue["name"] == emu.queue_name and queue["status"] == "VALID"

    candidates = [
        tis[("submit_candidates", i)].xcom_pull(task_ids="submit_candidates", map_indexes=i)
        for i in (0, 1)
    ]
    assert batch.describe_service_job(jobId=candidates[0])["schedulingPriority"] == 0
    report = xcom(tis[("stop_sweep", -1)], task_ids="stop_sweep")
    assert sorted(report["terminated"]) == sorted(candidates)
    for job_id in candidates:
        described = batch.describe_service_job(jobId=job_id)
        assert described["status"] == "FAILED" and described["isTerminated"] is True
        assert described["statusReason"].startswith("Airflow: the sweep's baseline failed in run ")
    assert emu.stats()["TerminateServiceJobs"] == 1


def test_importing_the_operations_modules_stays_cheap():
    code = """
import sys, json, boto3
import airflow_batch_service.operators.service_operations
import airflow_batch_service.sensors.service_operations
import airflow_batch_service.triggers.service_operations
import airflow_batch_service._shared.lineage
print(json.dumps({
    "default_session": boto3.DEFAULT_SESSION is not None,
    "validation": "airflow_batch_service.core.validation" in sys.modules,
    "openlineage": any(m.startswith("openlineage") for m in sys.modules),
    "moto": "moto" in sys.modules,
}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "default_session": False,
        "validation": False,
        "openlineage": False,
        "moto": False,
    }
