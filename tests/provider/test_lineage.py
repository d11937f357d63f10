"""OpenLineage (issue 12 item 2): ``ServiceJobLineageMixin`` builds the amazon provider's
SageMaker lineage (S3 channels in, model artifact out) plus the training job as run facets; and
a real DAG run (``airflow dags test`` on the emulator's HTTP server) emits those datasets through
the OpenLineage provider's file transport, for the operator and for the sensor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airflow_batch_service.lineage import (
    ServiceJobLineageMixin,
    payload_s3_inputs,
    s3_dataset_parts,
)

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
PAYLOAD = {
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
    assert payload_s3_inputs(PAYLOAD) == ["s3://data-bucket/train/", "s3://bare-bucket"]
    assert payload_s3_inputs(json.dumps(PAYLOAD)) == payload_s3_inputs(PAYLOAD)
    assert payload_s3_inputs("not json") == [] and payload_s3_inputs(None) == []
    assert payload_s3_inputs({"InputDataConfig": "junk"}) == []


def test_lineage_is_importable_without_openlineage():
    """The module (and a DAG using the mixin) imports no OpenLineage code until asked."""
    import sys

    code = (
        "import sys, airflow_batch_service.lineage\n"
        "print(any(m.startswith(('openlineage', 'airflow.providers.openlineage')) for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "False"


class Task(ServiceJobLineageMixin):
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


class FakeTI:
    task_id = "t"

    def __init__(self, xcom: dict[str, Any]) -> None:
        self.xcom = xcom

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return self.xcom.get(key)


def test_facets_of_an_operator_and_of_a_sensor():
    pytest.importorskip("airflow.providers.openlineage")
    op = Task(
        service_request_payload=PAYLOAD, training_job_result=RESULT, job_id="j-1", job_queue="q"
    )
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("s3://data-bucket", "train/"),
        ("s3://bare-bucket", "/"),
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("s3://model-bucket", "out/AWSBatchtrain0123/output/model.tar.gz")
    ]
    assert lineage.run_facets["externalQuery"].externalQueryId == "AWSBatchtrain0123"
    assert lineage.run_facets["externalQuery"].source == "sagemaker"
    facet = lineage.run_facets["awsBatchServiceJob"]
    assert facet.jobId == "j-1" and facet.jobQueue == "q" and facet.trainingJob == RESULT

    start = op.get_openlineage_facets_on_start()
    assert len(start.inputs) == 2 and start.outputs == []

    # The sensor: no payload of its own, the watched job's payload (a JSON string) instead;
    # the result from its summary XCom when the object does not carry it.
    sensor = Task(service_request_payload_seen=json.dumps(PAYLOAD), job_id="j-2")
    ti = FakeTI({"return_value": {"status": "SUCCEEDED", "trainingJob": RESULT}})
    lineage = sensor.get_openlineage_facets_on_complete(ti)
    assert len(lineage.inputs) == 2 and len(lineage.outputs) == 1
    assert sensor.get_openlineage_facets_on_failure(ti).outputs == lineage.outputs

    # Nothing known: empty lineage, no error.
    empty = Task().get_openlineage_facets_on_complete(FakeTI({}))
    assert empty.inputs == [] and empty.outputs == [] and empty.run_facets == {}
    failed = Task(
        training_job_result={**RESULT, "modelArtifacts": None, "trainingJobStatus": "Failed"}
    )
    assert failed.get_openlineage_facets_on_complete(None).outputs == []


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
