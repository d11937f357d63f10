"""OpenLineage: ``ServiceJobLineageMixin`` builds the amazon provider's SageMaker lineage (S3
channels in, model artifact out) plus the training job as run facets, from what the task left on
its object only (no XCom read: the listener extracts in a forked child with a time limit); a
failed job names no artifact. A real DAG run (``airflow dags test`` on the emulator's HTTP
server) emits those datasets through the OpenLineage provider's file transport, for the operator
and for the sensor; ``test_lineage_real_run.py`` runs every shape of task."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_batch_service._shared import clients as shared_clients
from airflow_batch_service._shared.lineage import (
    ServiceJobLineageMixin,
    payload_s3_inputs,
    s3_dataset_parts,
)

from . import support
from .conftest import VENV_BIN

RESULT = {
    "trainingJobName": "AWSBatchtrain0123",
    "trainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/awsbatchtrain0123",
    "trainingJobStatus": "Completed",
    "secondaryStatus": "Completed",
    "modelArtifacts": "s3://model-bucket/out/AWSBatchtrain0123/output/model.tar.gz",
    "finalMetrics": {"validation:accuracy": 0.93},
    "trainingTimeInSeconds": 60,
    "billableTimeInSeconds": 55,
    "failureReason": None,
}
#: Only input channels (an S3 prefix twice, a file system, a bare bucket): what the pure
#: lineage helpers read (a full payload for the emulator is ``LINEAGE_PAYLOAD``).
INPUTS_ONLY_PAYLOAD = {
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3Uri": "s3://data-bucket/train/"}},
        },
        {
            "ChannelName": "dup",
            "DataSource": {"S3DataSource": {"S3Uri": "s3://data-bucket/train/"}},
        },
        {"ChannelName": "fs", "DataSource": {"FileSystemDataSource": {"DirectoryPath": "/x"}}},
        {"ChannelName": "root", "DataSource": {"S3DataSource": {"S3Uri": "s3://bare-bucket"}}},
    ]
}


def test_pure_helpers():
    assert s3_dataset_parts("s3://b/k/x.csv") == ("s3://b", "k/x.csv")
    assert s3_dataset_parts("s3://b") == ("s3://b", "/")
    assert s3_dataset_parts("s3://b/") == ("s3://b", "/")
    assert s3_dataset_parts("gs://b/k") is None and s3_dataset_parts("s3://") is None
    assert payload_s3_inputs(INPUTS_ONLY_PAYLOAD) == ["s3://data-bucket/train/", "s3://bare-bucket"]
    assert payload_s3_inputs(json.dumps(INPUTS_ONLY_PAYLOAD)) == payload_s3_inputs(
        INPUTS_ONLY_PAYLOAD
    )
    assert payload_s3_inputs("not json") == [] and payload_s3_inputs(None) == []
    assert payload_s3_inputs({"InputDataConfig": "junk"}) == []


def test_lineage_is_importable_without_openlineage():
    """The module (and a DAG using the mixin) imports no OpenLineage code until asked."""
    code = (
        "import sys, airflow_batch_service._shared.lineage\n"
        "print(any(m.startswith(('openlineage', 'airflow.providers.openlineage')) for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


class Task(ServiceJobLineageMixin):
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class NoXComTI:
    """A task instance as the listener hands it to extraction, whose XCom must not be read: in
    the listener's forked child a pull through the task's supervisor can block past the time
    limit, and the event is lost. Each pull is recorded (and answered with a result, so code
    that reads it shows in the lineage too)."""

    task_id = "t"

    def __init__(self, xcom: dict[str, Any] | None = None) -> None:
        self.xcom = xcom or {}
        self.pulls: list[tuple[str, str]] = []

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        self.pulls.append((task_ids, key))
        return self.xcom.get(key)


def names(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def test_facets_of_an_operator_and_of_a_sensor():
    pytest.importorskip("airflow.providers.openlineage")
    op = Task(
        service_request_payload=INPUTS_ONLY_PAYLOAD,
        training_job_result=RESULT,
        job_id="j-1",
        job_queue="q",
    )
    ti = NoXComTI()
    lineage = op.get_openlineage_facets_on_complete(ti)
    assert names(lineage.inputs) == [("s3://data-bucket", "train/"), ("s3://bare-bucket", "/")]
    assert names(lineage.outputs) == [
        ("s3://model-bucket", "out/AWSBatchtrain0123/output/model.tar.gz")
    ]
    assert lineage.run_facets["externalQuery"].externalQueryId == "AWSBatchtrain0123"
    assert lineage.run_facets["externalQuery"].source == "sagemaker"
    facet = lineage.run_facets["awsBatchServiceJob"]
    assert facet.jobId == "j-1" and facet.jobQueue == "q" and facet.trainingJob == RESULT

    start = op.get_openlineage_facets_on_start()
    assert len(start.inputs) == 2 and start.outputs == []

    # The sensor: no payload of its own, the watched job's payload (a JSON string) instead.
    sensor = Task(
        service_request_payload_seen=json.dumps(INPUTS_ONLY_PAYLOAD),
        training_job_result=RESULT,
        job_id="j",
    )
    lineage = sensor.get_openlineage_facets_on_complete(ti)
    assert len(lineage.inputs) == 2 and len(lineage.outputs) == 1

    # Nothing known: empty lineage, no error.
    empty = Task().get_openlineage_facets_on_complete(ti)
    assert empty.inputs == [] and empty.outputs == [] and empty.run_facets == {}
    assert ti.pulls == []


def test_without_a_result_on_the_task_only_the_inputs_and_no_xcom_read():
    """Submit-only, or a wait with ``read_training_result=False``: the task holds no result.
    Lineage is the inputs and the job, and the task's XComs (where a summary may still carry
    a training job) are never read."""
    pytest.importorskip("airflow.providers.openlineage")
    summary = {"status": "SUCCEEDED", "trainingJob": RESULT}
    for task in (
        Task(service_request_payload=INPUTS_ONLY_PAYLOAD, job_id="j-1", job_queue="q"),
        Task(service_request_payload_seen=INPUTS_ONLY_PAYLOAD, job_id="j-2"),
    ):
        ti = NoXComTI({"summary": summary, "return_value": summary})
        for lineage in (
            task.get_openlineage_facets_on_complete(ti),
            task.get_openlineage_facets_on_failure(ti),
        ):
            assert len(lineage.inputs) == 2
            assert lineage.outputs == []
            assert "externalQuery" not in lineage.run_facets
            facet = lineage.run_facets["awsBatchServiceJob"]
            assert facet.jobId == task.job_id and facet.trainingJob is None
        assert ti.pulls == []


def test_a_failed_job_names_its_inputs_and_no_artifact():
    """A failed training job's describe still names the S3 output path: FAIL reports the
    inputs and how far the training job got (run facets), never the artifact as an output."""
    pytest.importorskip("airflow.providers.openlineage")
    failed_result = {
        **RESULT,
        "trainingJobStatus": "Failed",
        "secondaryStatus": "Failed",
        "finalMetrics": {},
        "failureReason": "AlgorithmError: boom",
    }
    ti = NoXComTI()
    task = Task(
        service_request_payload=INPUTS_ONLY_PAYLOAD, training_job_result=failed_result, job_id="j"
    )
    lineage = task.get_openlineage_facets_on_failure(ti)
    assert len(lineage.inputs) == 2
    assert lineage.outputs == []
    assert lineage.run_facets["awsBatchServiceJob"].trainingJob == failed_result
    assert lineage.run_facets["externalQuery"].externalQueryId == "AWSBatchtrain0123"
    # A result without an artifact has none on COMPLETE either.
    no_artifact = Task(training_job_result={**failed_result, "modelArtifacts": None})
    assert no_artifact.get_openlineage_facets_on_complete(ti).outputs == []
    assert ti.pulls == []


# -- the real classes, over the in-process emulator: what execute / execute_complete / poke
# leave on the object is all extraction gets.

LINEAGE_PAYLOAD = {
    **support.PAYLOAD,
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data-bucket/train/"}
            },
        }
    ],
}
TRAIN_INPUT = [("s3://data-bucket", "train/")]


@pytest.fixture
def emu(request, monkeypatch):
    pytest.importorskip("airflow.providers.openlineage")
    shared_clients.clear()
    yield support.connect_emulator(request, monkeypatch, "in_process", support.STATE_SECONDS)
    shared_clients.clear()


def operator(emu: Any, name: str, **kwargs: Any) -> Any:
    kwargs.setdefault("service_request_payload", LINEAGE_PAYLOAD)
    kwargs.setdefault("stream_logs", False)
    return support.submit_operator(emu, name, task_id="train", **kwargs)


def test_submit_only_operator_reports_inputs_and_job(emu):
    op = operator(emu, support.unique("ol-submit"))
    job_id = op.execute(support.make_context())
    ti = NoXComTI({"return_value": job_id})
    lineage = op.get_openlineage_facets_on_complete(ti)
    assert names(lineage.inputs) == TRAIN_INPUT and lineage.outputs == []
    assert lineage.run_facets["awsBatchServiceJob"].jobId == job_id
    assert ti.pulls == []


@pytest.mark.parametrize("read_training_result", [True, False])
def test_deferred_wait_resumed_on_a_fresh_object(emu, read_training_result):
    """The object that ran ``execute_complete`` (not the one that deferred) is the one the
    listener extracts from: it carries the job, the payload and the result (when read)."""
    name = support.unique("ol-deferred")
    context = support.make_context()
    args = {"wait_for_completion": True, "deferrable": True}
    event = support.run_trigger(
        support.deferred(
            operator(emu, name, read_training_result=read_training_result, **args), context
        )
    )
    fresh = operator(emu, name, read_training_result=read_training_result, **args)
    job_id = fresh.execute_complete(context, event)
    ti = NoXComTI({"summary": context["ti"].xcom["summary"]})
    lineage = fresh.get_openlineage_facets_on_complete(ti)
    assert names(lineage.inputs) == TRAIN_INPUT
    facet = lineage.run_facets["awsBatchServiceJob"]
    assert facet.jobId == job_id
    if read_training_result:
        (artifact,) = lineage.outputs
        assert f"{artifact.namespace}/{artifact.name}" == facet.trainingJob["modelArtifacts"]
    else:
        assert lineage.outputs == [] and facet.trainingJob is None
    assert ti.pulls == []


def test_failed_job_fail_event_has_no_artifact_for_wait_and_sensor(emu):
    """The operator's own wait and the sensor, on a job whose training job failed: the
    training job's describe names an artifact; FAIL reports none."""
    name = support.unique("ol-failed")
    emu.load_scenarios(support.scenario(name, support.failed()))
    op = operator(emu, name, wait_for_completion=True)
    with pytest.raises(AirflowException):  # retryable: a retry submits a new job
        op.execute(support.make_context())
    sensor = support.sensor(emu, op.job_id, task_id="watch", stream_logs=False)
    with pytest.raises(AirflowFailException):
        sensor.execute(support.make_context())
    for task in (op, sensor):
        ti = NoXComTI()
        lineage = task.get_openlineage_facets_on_failure(ti)
        training = lineage.run_facets["awsBatchServiceJob"].trainingJob
        assert training["trainingJobStatus"] == "Failed"
        assert training["modelArtifacts"].startswith("s3://bucket/out/")
        assert names(lineage.inputs) == TRAIN_INPUT
        assert lineage.outputs == [], task.task_id
        assert ti.pulls == []


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_dag_run_emits_the_datasets(airflow_home, batch_emulator_server, tmp_path):
    pytest.importorskip("airflow.providers.openlineage")
    emu = batch_emulator_server
    emu.configure(seconds_per_state=0.1)
    shutil.copy(Path(__file__).parent / "dags" / "lineage_dag.py", airflow_home / "dags")
    events_file = tmp_path / "events.jsonl"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
                {"type": "file", "log_file_path": str(events_file), "append": True}
            ),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "abs-test",
            "AIRFLOW_CONN_EMU_LINEAGE": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"region_name": emu.region, "endpoint_url": emu.endpoint_url},
                }
            ),
            "BATCH_SERVICE_CONN_ID": "emu_lineage",
            "BATCH_SERVICE_QUEUE": emu.queue_name,
        }
    )
    run = subprocess.run(
        [str(VENV_BIN / "airflow"), "dags", "test", "lineage_dag"],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    events = _events(events_file)
    complete = {
        e["job"]["name"]: e
        for e in events
        if e.get("eventType") == "COMPLETE" and e["job"]["name"].startswith("lineage_dag.")
    }
    assert {"lineage_dag.train", "lineage_dag.watch"} <= set(complete), sorted(complete)
    for task in ("lineage_dag.train", "lineage_dag.watch"):
        event = complete[task]
        inputs = {(d["namespace"], d["name"]) for d in event["inputs"]}
        assert inputs == {
            ("s3://data-bucket", "train/"),
            ("s3://other-bucket", "sets/validation.csv"),
        }
        (output_ds,) = event["outputs"]
        assert output_ds["namespace"] == "s3://model-bucket"
        assert output_ds["name"].startswith("out/AWSBatch") and output_ds["name"].endswith(
            "/output/model.tar.gz"
        )
        facets = event["run"]["facets"]
        training = facets["awsBatchServiceJob"]["trainingJob"]
        assert training["trainingJobStatus"] == "Completed"
        assert facets["externalQuery"] == {
            **facets["externalQuery"],
            "externalQueryId": training["trainingJobName"],
            "source": "sagemaker",
        }
        assert f"s3://model-bucket/{output_ds['name']}" == training["modelArtifacts"]
    start = next(
        e
        for e in events
        if e.get("eventType") == "START" and e["job"]["name"] == "lineage_dag.train"
    )
    assert {d["name"] for d in start["inputs"]} == {"train/", "sets/validation.csv"}
