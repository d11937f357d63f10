"""OpenLineage from a real ``airflow dags test`` run, for every shape of task.

The OpenLineage listener extracts lineage in a forked child with a time limit; whatever the
child waits on (an XCom pull through the task's supervisor, an AWS call) can outlast it, and
then the event is lost ("OpenLineage process with pid ... expired"). Unit tests of the mixin
cannot see that: only a real run, with the provider's file transport, shows which events
arrived. ``dags/lineage_shapes_dag.py`` runs the submit-only operator, the operator's own wait
(sync and deferred), the sensor in poke, reschedule and deferrable mode, with
``read_training_result`` on and off, and failing jobs; every task must report START and then
COMPLETE (FAIL for a failed job, naming its inputs and no model artifact).

The emulator's clock is frozen and moves only when a task has looked at a job (each new
``DescribeServiceJob``): in the DAG's strict chain, a sensor's job cannot finish before the
sensor's first look, whatever the machine's load, so the reschedule and deferrable sensors
really reschedule and defer (checked below: their first look, in the run's log, found the job
unfinished).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import VENV_BIN

DAG_ID = "lineage_shapes_dag"
SECONDS_PER_STATE = 1.0
#: How far the clock moves per look: two states, so a job ends after a handful of looks.
STEP = 2 * SECONDS_PER_STATE
INPUTS = {("s3://data-bucket", "train/"), ("s3://other-bucket", "sets/validation.csv")}
#: Tasks whose job fails (the scenario below), and so end with FAIL.
FAILING = {"poke_fails", "deferred_fails_no_result", "wait_fails", "wait_deferred_fails"}
#: Tasks that read the final attempt's training job, so know the model artifact.
WITH_RESULT = {
    "poke_result",
    "reschedule_result",
    "deferred_result",
    "wait_result",
    "wait_deferred_result",
    "poke_fails",
    "wait_fails",
    "wait_deferred_fails",
}
#: Sensors in reschedule or deferrable mode: their first look must find the job unfinished, so
#: that they really reschedule or defer (the operator's deferrable wait always defers).
LEAVE_THE_WORKER = {
    "reschedule_result",
    "reschedule_no_result",
    "deferred_result",
    "deferred_no_result",
    "deferred_fails_no_result",
}


#: Sensors in reschedule mode.
RESCHEDULED = {"reschedule_result", "reschedule_no_result"}


def _dags_test_reschedules() -> bool:
    """Whether ``airflow dags test`` can run a reschedule-mode sensor past its first
    reschedule. Airflow 3.0's in-process execution API hands the first reschedule date back as
    a string, and its ``BaseSensorOperator.run_duration`` fails on it (3.3 runs them)."""
    from airflow import __version__
    from packaging.version import Version

    return Version(__version__) >= Version("3.1")


@contextlib.contextmanager
def clock_moved_by_looks(emu: Any) -> Iterator[None]:
    """Freeze the emulator's clock and move it ``STEP`` each time a new DescribeServiceJob has
    been answered: jobs progress only while something watches them."""
    emu.configure(freeze_clock=True)
    stop = threading.Event()
    errors: list[BaseException] = []
    seen = emu.stats().get("DescribeServiceJob", 0)

    def drive() -> None:
        nonlocal seen
        while not stop.is_set():
            try:
                looks = emu.stats().get("DescribeServiceJob", 0)
                if looks > seen:
                    seen = looks
                    emu.advance(STEP)
            except Exception as exc:  # reported below; the run goes on
                errors.append(exc)
            stop.wait(0.02)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
        emu.configure(freeze_clock=False)
    assert not errors, f"moving the emulator's clock failed: {errors[:3]}"


def _task_ids(dag_file: Path) -> set[str]:
    """The DAG's task ids, from the file the run used."""
    spec = importlib.util.spec_from_file_location("lineage_shapes_dag_for_test", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.dag.task_dict)


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _datasets(items: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in items}


@pytest.mark.timeout(600)
def test_every_task_shape_reports_start_and_its_end(airflow_home, batch_emulator_server, tmp_path):
    pytest.importorskip("airflow.providers.openlineage")
    emu = batch_emulator_server
    emu.configure(seconds_per_state=SECONDS_PER_STATE)
    emu.load_scenarios({"jobs": [{"jobName": "lsfail-*", "attempts": [{"result": "FAILED"}]}]})
    shutil.copy(Path(__file__).parent / "dags" / f"{DAG_ID}.py", airflow_home / "dags")
    events_file = tmp_path / "events.jsonl"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "abs-shapes",
            # Generous: a loaded machine must not lose an event that does no I/O.
            "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "30",
            "AIRFLOW_CONN_EMU_SHAPES": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"region_name": emu.region, "endpoint_url": emu.endpoint_url},
                }
            ),
            "BATCH_SERVICE_CONN_ID": "emu_shapes",
            "BATCH_SERVICE_QUEUE": emu.queue_name,
        }
    )
    with clock_moved_by_looks(emu):
        run = subprocess.run(
            [str(VENV_BIN / "airflow"), "dags", "test", DAG_ID],
            capture_output=True,
            text=True,
            env=env,
            timeout=540,
        )
    output = run.stdout + run.stderr
    (tmp_path / "dags_test.log").write_text(output)
    assert run.returncode == 0, output[-6000:]

    tasks = _task_ids(airflow_home / "dags" / f"{DAG_ID}.py")
    assert tasks >= FAILING | WITH_RESULT | LEAVE_THE_WORKER
    if not _dags_test_reschedules():
        # Airflow's own fault, not lineage's: the task fails at its second poke with
        # "unsupported operand type(s) for -: 'datetime.datetime' and 'str'" in
        # BaseSensorOperator.run_duration, and its (correct) events are START then FAIL.
        assert "BaseSensorOperator" in output or "run_duration" in output, output[-3000:]
        tasks -= RESCHEDULED
    events = [e for e in _events(events_file) if e["job"]["name"].startswith(f"{DAG_ID}.")]
    by_task: dict[str, list[str]] = {task: [] for task in tasks}
    last: dict[str, dict[str, Any]] = {}
    for event in events:
        task = event["job"]["name"][len(DAG_ID) + 1 :]
        if task not in tasks:
            continue
        by_task[task].append(event["eventType"])
        last[task] = event

    expired = [line for line in output.splitlines() if "OpenLineage process with pid" in line]
    lost = {
        task: kinds
        for task, kinds in by_task.items()
        if not kinds
        or kinds[0] != "START"
        or kinds[-1] != ("FAIL" if task in FAILING else "COMPLETE")
    }
    assert not lost, f"tasks whose events did not arrive as START ... end: {lost}; {expired}"

    for task in tasks:
        event = last[task]
        where = f"{task} ({event['eventType']})"
        assert _datasets(event["inputs"]) == INPUTS, where
        job = event["run"]["facets"].get("awsBatchServiceJob") or {}
        assert job.get("jobId"), where
        training = job.get("trainingJob")
        if task in FAILING:
            # A failed job reads its inputs and has no artifact, even though its training
            # job's describe names the S3 output path (kept in the run facet).
            assert event["outputs"] == [], where
            if task in WITH_RESULT:
                assert training["trainingJobStatus"] == "Failed", where
                assert training["modelArtifacts"], where
        elif task in WITH_RESULT:
            (artifact,) = event["outputs"]
            assert artifact["namespace"] == "s3://model-bucket", where
            assert f"s3://model-bucket/{artifact['name']}" == training["modelArtifacts"], where
            assert training["trainingJobStatus"] == "Completed", where
            query = event["run"]["facets"]["externalQuery"]
            assert query["externalQueryId"] == training["trainingJobName"], where
            assert query["source"] == "sagemaker", where
        else:
            # No training result known (submit-only, or read_training_result=False): the
            # inputs only, as docs/howto/lineage.md says.
            assert event["outputs"] == [], where
            assert training is None, where

    # The shapes really happened: each reschedule / deferrable sensor's first look (logged as
    # "service job NAME (ID) is STATE") found its job unfinished, so it rescheduled or deferred.
    for task in LEAVE_THE_WORKER:
        name = rf"(ls|lsfail)-submit-for-{task.replace('_', '-')}-\S+"
        first = re.search(rf"service job {name} \(\S+\) is ([A-Z]+)", output)
        assert first, f"no first look of {task}'s job in the log"
        assert first.group(2) not in ("SUCCEEDED", "FAILED"), (task, first.group(0))
