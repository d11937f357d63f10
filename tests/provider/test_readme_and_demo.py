"""What the README and the demo promise: the README's minimal DAG parses and passes the
operator's own checks, and the demo's timeline tells a job's story from DescribeServiceJob."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_batch_service.cli import demo, demo_report
from airflow_batch_service.core import reasons
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

from .conftest import REPO
from .support import failed, scenario, succeeded
from .support_dags import dag_bag

RETRY_STRATEGY = {
    "attempts": 3,
    "evaluateOnExit": [
        {"action": "RETRY", "onStatusReason": reasons.SAGEMAKER_PREFIX + "InternalServerError*"},
        {"action": "EXIT", "onStatusReason": "*"},
    ],
}


def readme_dag_source() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## A minimal DAG", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's minimal DAG has no python block"
    return match.group(1)


def test_readme_minimal_dag_is_valid(tmp_path: Any) -> None:
    (tmp_path / "readme_dag.py").write_text(readme_dag_source())
    dag = dag_bag(tmp_path).dags["train_on_batch"]  # no metadata DB needed
    submit, wait = dag.get_task("submit"), dag.get_task("wait")
    assert isinstance(submit, BatchSubmitServiceJobOperator)
    assert isinstance(wait, BatchServiceJobSensor)
    run_id = "manual__2026-11-24T06:42:30.123456+00:00"
    submit.render_template_fields(
        {"run_id": run_id, "params": {}}, jinja_env=dag.get_template_env()
    )
    request = submit.build_request()  # raises AirflowFailException on any problem
    assert request["jobName"] == "train-manual__2026-11-24T06-42-30-123456-00-00"
    training_name = json.loads(request["serviceRequestPayload"])["TrainingJobName"]
    assert len(training_name) <= 23 and training_name.startswith("train-")
    assert wait.max_runnable_seconds == 6 * 3600


def test_demo_timeline_explains_a_retried_job(batch_emulator: Any) -> None:
    emu = batch_emulator
    emu.configure(freeze_clock=True)
    emu.load_scenarios(
        scenario("timeline-*", failed(reasons.sagemaker("InternalServerError: boom")), succeeded())
    )
    batch = emu.client("batch")
    job = batch.submit_service_job(
        jobName="timeline-1",
        jobQueue=emu.queue_name,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload='{"TrainingJobName": "tl", "RoleArn": "arn:aws:iam::123456789012:role/r", "OutputDataConfig": {"S3OutputPath": "s3://b/"}}',
        retryStrategy=RETRY_STRATEGY,
    )
    emu.advance(60)
    describe = batch.describe_service_job(jobId=job["jobId"])
    assert describe["status"] == "SUCCEEDED"
    log = (
        "2026-11-24T07:03:27Z [info     ] service job timeline-1 went back to RUNNABLE: "
        "CapacityError; Batch requeued it without using an attempt [airflow.task.operators.x]\n"
        "2026-11-24T07:03:28Z [info     ] service job other-job went back to RUNNABLE: "
        "Batch requeued it without using an attempt [airflow.task.operators.x]\n"
    )
    out = io.StringIO()
    demo_report.print_timeline(describe, log, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"  job timeline-1 ({job['jobId']})"
    assert "SUBMITTED" in lines[1] and lines[1].strip().startswith("+   0.0s")
    text = out.getvalue()
    assert "attempt 1 started: training job AWSBatchtl" in text
    assert "Batch queued attempt 2" in text
    assert "attempt 2 of 3 succeeded" in text
    # Only this job's task-log notes, once each.
    assert text.count("task log:") == 1 and "other-job" not in text
    assert (
        lines[-1].startswith("    => Service job timeline-1")
        and "SUCCEEDED after 2 attempt(s)" in lines[-1]
    )
    # Events come out in time order.
    offsets = [float(m.group(1)) for m in re.finditer(r"\+\s*([\d.]+)s", text)]
    assert offsets == sorted(offsets)


def test_demo_finds_the_example_dags_in_its_package_else_in_the_checkout(tmp_path: Path) -> None:
    """An installed wheel carries them in the package (airflow_batch_service/example_dags); an
    editable install runs from the clone, whose example_dags/ is next to the package."""
    package = Path(demo.__file__).resolve().parents[1]
    installed, checkout = demo.DAGS_FOLDERS
    assert (installed, checkout) == (package / "example_dags", package.parent / "example_dags")
    assert demo.find_dags_folder(None) == REPO / "example_dags"  # this checkout
    (tmp_path / "example_batch_service_basic.py").write_text("")
    assert demo.find_dags_folder(tmp_path) == tmp_path


def test_demo_refuses_unknown_dags_and_missing_folders(tmp_path: Any, capsys: Any) -> None:
    with pytest.raises(SystemExit, match="example DAGs were not found"):
        demo.find_dags_folder(tmp_path)
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    assert demo.run(parser.parse_args(["--dag", "nope"])) == 2
    assert "unknown DAG(s) ['nope']" in capsys.readouterr().err


def test_demo_notes_come_from_a_deferred_wait_too() -> None:
    """A deferred wait logs through its trigger's logger, not ``airflow.task``: the capacity
    bounce the sweep's wait sees in the triggerer is a note of the timeline all the same."""
    line = (
        "2026-12-06T13:50:01.450264Z [info     ] service job sweep-lr-0-001-x is now RUNNABLE "
        "(was SCHEDULED at the previous poll, 0.5s ago): Received status from SageMaker: "
        "CapacityError: Unable to provision requested ML compute capacity.; Batch requeued it "
        "without using an attempt [airflow_batch_service.triggers.batch_service."
        "BatchServiceJobTrigger] loc=waiting.py:118\n"
    )
    assert demo_report.notes_from_log(line, "sweep-lr-0-001-x") == [
        "service job sweep-lr-0-001-x is now RUNNABLE (was SCHEDULED at the previous poll, "
        "0.5s ago): Received status from SageMaker: CapacityError: Unable to provision "
        "requested ML compute capacity.; Batch requeued it without using an attempt"
    ]


#: What the demo's own process does between two DAG headings: read the jobs back through the
#: provider's hook (and here, log one warning through it), as ``airflow-batch-service demo``.
READ_BACK = """
import json, sys
from pathlib import Path
from airflow_batch_service.cli import demo
env = demo.airflow_env(Path(sys.argv[1]), sys.argv[2], sys.argv[3], 0.5)
with demo.reading_hook(env) as hook:
    print(json.dumps([job["jobName"] for job in demo.all_jobs(hook, [sys.argv[4]])]))
    hook.log.warning("a real warning still shows")
"""


def test_demo_reads_jobs_back_without_airflow_info_lines(
    batch_emulator_server: Any, tmp_path: Any
) -> None:
    """The demo's timelines carry no timestamped INFO line of its own Airflow (the amazon
    provider's "AWS Connection ... credentials retrieved"), while a warning still shows."""
    emu = batch_emulator_server
    batch = emu.client("batch")
    batch.submit_service_job(
        jobName="read-back",
        jobQueue=emu.queue_name,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload='{"TrainingJobName": "rb", "RoleArn": "arn:aws:iam::123456789012:role/r"}',
    )
    # As launched from a shell: none of this test process's Airflow settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            READ_BACK,
            str(tmp_path),
            emu.endpoint_url,
            emu.region,
            emu.queue_name,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert '["read-back"]' in result.stdout, output  # the hook did read through the connection
    assert "credentials retrieved" not in output, output
    assert "a real warning still shows" in output, output


def test_the_demo_repeats_a_sweeps_pick_once() -> None:
    log = (
        "2026-12-07T03:00:00Z [info     ] best learning rate 0.1: loss 0.000012 "
        "[airflow.task.stdout] loc=x.py:1\n"
        "best learning rate 0.1: loss 0.000012\n"
        "learning rate 0.3: loss 2.1e-07 [airflow.task.stdout]\n"
        "nothing to see\n"
    )
    assert demo_report.result_lines(log) == [
        "best learning rate 0.1: loss 0.000012",
        "learning rate 0.3: loss 2.1e-07",
    ]
