"""``model_asset``: real DAG runs (``dag.test()``) against the emulator, in-process and over
HTTP, and the asset events Airflow stored for them in its database.

A succeeded job's task emits one event whose ``extra`` says what the job produced (job,
training job, model artifact, final metrics, billable seconds, attempts), strict JSON even
when a metric diverged; a failed job emits none; the deferrable wait, the sensor and
``@task.batch_service`` emit it too; and a ``model_asset`` that cannot name an asset when the
DAG is parsed fails the parse, naming the argument and the rule."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from .support import VALIDATION, failed, scenario, set_aws_connection, succeeded
from .support_dags import DagBag, dag_test_file, example_dag, xcom

# Shared clients are per process, and each emulator here sits behind the same connection id.
pytestmark = pytest.mark.usefixtures("fresh_shared_clients")

CONN_ID = "emu_model"
TRAIN_DAG = "example_batch_service_train_model"
#: The example's asset: its default ``BATCH_SERVICE_OUTPUT`` plus ``model-asset``.
EXAMPLE_MODEL = "s3://my-bucket/batch-service-example/model-asset"
METRICS = {"validation:accuracy": 0.93, "train:loss": 0.12}
BUCKET = "model-asset-tests"


@pytest.fixture(params=["in_process", "http"])
def emu(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The emulator behind the ``emu_model`` connection, with the example DAGs' settings."""
    import airflow
    from packaging.version import Version

    if Version(airflow.__version__).release[:2] == (3, 0):
        pytest.skip(
            "dag.test() on Airflow 3.0 leaves a DAG's assets inactive (the dag-processor "
            "activates them), so the task refuses its outlet before it runs; "
            "tests/integration/test_model_assets.py runs the pair on a real 3.0 stack"
        )
    if request.param == "in_process":
        emulator = request.getfixturevalue("batch_emulator")
        set_aws_connection(monkeypatch, CONN_ID, emulator.region, None)
    else:
        emulator = request.getfixturevalue("batch_emulator_server")
        set_aws_connection(monkeypatch, CONN_ID, emulator.region, emulator.endpoint_url)
    monkeypatch.setenv("BATCH_SERVICE_CONN_ID", CONN_ID)
    monkeypatch.setenv("BATCH_SERVICE_QUEUE", emulator.queue_name)
    monkeypatch.setenv("BATCH_SERVICE_POKE_INTERVAL", "0.1")
    emulator.configure(seconds_per_state=0.05)
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    emulator.reset_stats()
    return emulator


def asset_events(dag_run: Any) -> list[dict[str, Any]]:
    """The asset events Airflow stored for ``dag_run``: ``{uri, name, task_id, extra}``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent, AssetModel)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(
                AssetEvent.source_dag_id == dag_run.dag_id,
                AssetEvent.source_run_id == dag_run.run_id,
            )
            .order_by(AssetEvent.id)
        ).all()
        return [
            {
                "uri": model.uri,
                "name": model.name,
                "task_id": event.source_task_id,
                "extra": dict(event.extra or {}),
            }
            for event, model in rows
        ]


def run_dag_file(airflow_home: Path, emu: Any, name: str, body: str) -> Any:
    """``dag.test()`` the DAG ``name`` whose tasks are ``body``, with the provider's classes,
    the emulator's queue and a training payload named after the DAG in scope."""
    header = (
        "from airflow.sdk import DAG, Asset, task\n"
        "from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator\n"
        "from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor\n"
        f"CONN = {CONN_ID!r}\n"
        f"QUEUE = {emu.queue_name!r}\n"
        f"PAYLOAD = {_payload(name)!r}\n"
    )
    return dag_test_file(airflow_home, name, header, body)


def _payload(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name.replace("_", "-")[:23],
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
        "AlgorithmSpecification": {"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{name}/"},
        "ResourceConfig": {
            "InstanceType": "ml.g5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def _states(dag_run: Any) -> dict[str, str]:
    return {
        ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dag_run.get_task_instances()
    }


def _ti(dag_run: Any, task_id: str) -> Any:
    return next(ti for ti in dag_run.get_task_instances() if ti.task_id == task_id)


def check_extra(extra: dict[str, Any], ti: Any, task_id: str, queue: str) -> None:
    """The extra says what the job produced, as the task's own XComs say it."""
    summary = xcom(ti, task_ids=task_id, key="summary") or xcom(ti, task_ids=task_id)
    training = xcom(ti, task_ids=task_id, key="training_job")
    assert extra["job_id"] == summary["jobId"]
    assert extra["job_arn"] == summary["jobArn"]
    assert extra["job_name"] == summary["jobName"]
    assert extra["job_queue"] == queue
    assert extra["status"] == "SUCCEEDED"
    assert extra["attempts"] == len(summary["attempts"]) >= 1
    assert extra["training_job_name"] == training["trainingJobName"]
    assert extra["training_job_name"].startswith("AWSBatch")
    assert extra["model_uri"] == training["modelArtifacts"]
    assert extra["model_uri"].endswith(f"/{extra['training_job_name']}/output/model.tar.gz")
    assert extra["billable_seconds"] == training["billableTimeInSeconds"]
    assert isinstance(extra["billable_seconds"], int)
    json.dumps(extra, allow_nan=False)  # what PostgreSQL's JSON column takes


# -- the example ---------------------------------------------------------------------------


def test_the_train_example_emits_its_model_with_the_extra(airflow_home, emu, capsys) -> None:
    emu.load_scenarios(scenario("train-model-*", succeeded(metrics=METRICS)))
    dag_run = example_dag(airflow_home, TRAIN_DAG).test()
    out = capsys.readouterr().out
    assert _states(dag_run) == {"train_model": "success"}, out[-3000:]

    (event,) = asset_events(dag_run)
    assert (event["uri"], event["name"], event["task_id"]) == (
        EXAMPLE_MODEL,
        "example_batch_service_model",
        "train_model",
    )
    extra = event["extra"]
    check_extra(extra, _ti(dag_run, "train_model"), "train_model", emu.queue_name)
    assert extra["final_metrics"] == METRICS
    assert extra["final_metrics_non_finite"] == {}
    assert extra["model_uri"].startswith(EXAMPLE_MODEL + "/")
    assert f"Model asset {EXAMPLE_MODEL}: {extra['model_uri']}" in out
    assert emu.stats()["SubmitServiceJob"] == 1


def test_a_diverged_metric_is_stored_as_strict_json(airflow_home, emu) -> None:
    emu.load_scenarios(
        scenario(
            "train-model-*",
            succeeded(metrics={"train:loss": "NaN", "auc": "-Infinity", "acc": 0.5}),
        )
    )
    dag_run = example_dag(airflow_home, TRAIN_DAG).test()
    assert _states(dag_run) == {"train_model": "success"}

    (event,) = asset_events(dag_run)
    extra = event["extra"]
    assert extra["final_metrics"] == {"train:loss": None, "auc": None, "acc": 0.5}
    assert extra["final_metrics_non_finite"] == {"train:loss": "NaN", "auc": "-Infinity"}
    json.dumps(extra, allow_nan=False)


def test_a_failed_job_emits_no_asset_event(airflow_home, emu, capsys) -> None:
    emu.load_scenarios(scenario("train-model-*", failed(VALIDATION)))
    dag_run = example_dag(airflow_home, TRAIN_DAG).test()
    out = capsys.readouterr().out
    assert _states(dag_run) == {"train_model": "failed"}, out[-3000:]
    assert "ValidationException: bad hyperparameter" in out
    assert asset_events(dag_run) == []
    assert "Model asset" not in out


# -- the other ways to wait ------------------------------------------------------------------


def test_the_deferrable_wait_emits_it_from_execute_complete(airflow_home, emu, caplog) -> None:
    caplog.set_level("INFO")
    emu.load_scenarios(scenario("deferred-model*", succeeded(metrics={"acc": 0.8})))
    name = "model_asset_deferred"
    dag_run = run_dag_file(
        airflow_home,
        emu,
        name,
        """
        BatchSubmitServiceJobOperator(
            task_id="train", aws_conn_id=CONN, job_name="deferred-model", job_queue=QUEUE,
            service_request_payload=PAYLOAD, wait_for_completion=True, deferrable=True,
            poll_interval=0.1, model_asset="{output_path}/model",
        )
        """,
    )
    assert _states(dag_run) == {"train": "success"}
    assert "running trigger in line" in caplog.text  # it did defer
    (event,) = asset_events(dag_run)
    assert event["uri"] == f"s3://{BUCKET}/{name}/model"
    check_extra(event["extra"], _ti(dag_run, "train"), "train", emu.queue_name)
    assert event["extra"]["final_metrics"] == {"acc": 0.8}


def test_the_sensor_emits_it_for_the_job_it_watched(airflow_home, emu) -> None:
    emu.load_scenarios(scenario("sensed-model*", succeeded(metrics={"acc": 0.7})))
    name = "model_asset_sensor"
    dag_run = run_dag_file(
        airflow_home,
        emu,
        name,
        f"""
        submit = BatchSubmitServiceJobOperator(
            task_id="submit", aws_conn_id=CONN, job_name="sensed-model", job_queue=QUEUE,
            service_request_payload=PAYLOAD,
        )
        wait = BatchServiceJobSensor(
            task_id="wait", aws_conn_id=CONN, job_id=submit.output, poke_interval=0.1,
            timeout=120, model_asset="s3://{BUCKET}/sensed-model",
            read_training_result=False,  # turned on again: the extra needs it
            outlets=[Asset("s3://{BUCKET}/sensor-report")],
        )
        submit >> wait
        """,
    )
    assert _states(dag_run) == {"submit": "success", "wait": "success"}
    events = {e["uri"]: e for e in asset_events(dag_run)}
    # The user's own outlet is kept (with Airflow's empty extra); the model's has the extra.
    assert set(events) == {f"s3://{BUCKET}/sensed-model", f"s3://{BUCKET}/sensor-report"}
    assert events[f"s3://{BUCKET}/sensor-report"]["extra"] == {}
    extra = events[f"s3://{BUCKET}/sensed-model"]["extra"]
    # The sensor has no queue argument: the job's, as Batch describes it.
    described = emu.client("batch").describe_service_job(jobId=extra["job_id"])
    check_extra(extra, _ti(dag_run, "wait"), "wait", described["jobQueue"])
    assert extra["final_metrics"] == {"acc": 0.7}


def test_the_decorator_emits_its_output_path_with_true(airflow_home, emu) -> None:
    name = "model_asset_decorator"
    output = f"s3://{BUCKET}/fn-model/"
    dag_run = run_dag_file(
        airflow_home,
        emu,
        name,
        f"""
        @task.batch_service(
            aws_conn_id=CONN, job_queue=QUEUE, image_uri="python:3.11",
            role_arn="arn:aws:iam::123456789012:role/r", output_s3_uri={output!r},
            poll_interval=0.1, model_asset=True,
        )
        def fit(weight: int) -> dict:
            return {{"weight": weight}}

        fit(7)
        """,
    )
    assert _states(dag_run) == {"fit": "success"}
    assert xcom(_ti(dag_run, "fit"), task_ids="fit") == {"weight": 7}
    (event,) = asset_events(dag_run)
    assert event["uri"] == output.rstrip("/") and event["task_id"] == "fit"
    check_extra(event["extra"], _ti(dag_run, "fit"), "fit", emu.queue_name)
    assert event["extra"]["model_uri"].startswith(output)


def test_each_mapped_instance_emits_its_own_event(airflow_home, emu) -> None:
    """A mapped task is built when it runs: the asset goes in ``outlets`` too (the docs say
    so), and each instance's event names its own job."""
    name = "model_asset_mapped"
    dag_run = run_dag_file(
        airflow_home,
        emu,
        name,
        f"""
        MODEL = Asset("s3://{BUCKET}/mapped-model")
        BatchSubmitServiceJobOperator.partial(
            task_id="train", aws_conn_id=CONN, job_queue=QUEUE, service_request_payload=PAYLOAD,
            wait_for_completion=True, poll_interval=0.1, model_asset=MODEL, outlets=[MODEL],
        ).expand(job_name=["mapped-a", "mapped-b"])
        """,
    )
    assert _states(dag_run) == {"train": "success"}
    events = asset_events(dag_run)
    assert {e["uri"] for e in events} == {f"s3://{BUCKET}/mapped-model"}
    assert sorted(e["extra"]["job_name"] for e in events) == ["mapped-a", "mapped-b"]
    assert len({e["extra"]["training_job_name"] for e in events}) == 2


# -- refused when the DAG is parsed ----------------------------------------------------------

OPERATOR = (
    "BatchSubmitServiceJobOperator(task_id='t', job_name='j', job_queue='q', "
    "wait_for_completion=True, {})"
)

DECORATED = (
    "@task.batch_service(job_queue='q', image_uri='i', role_arn='r', {})\n"
    "def fit():\n"
    "    return 1\n"
    "fit()\n"
)


@pytest.mark.parametrize(
    ("task", "words"),
    [
        (
            OPERATOR.format(
                "service_request_payload={'OutputDataConfig': {'S3OutputPath': "
                "'s3://b/{{ run_id }}/'}}, model_asset=True"
            ),
            ["model_asset: True stands for the payload's OutputDataConfig.S3OutputPath", "Jinja"],
        ),
        (
            OPERATOR.format(
                "service_request_payload='{{ ti.xcom_pull(\"p\") }}', "
                "model_asset='{output_path}/model'"
            ),
            ["model_asset: '{output_path}/model'", "service_request_payload is a Jinja template"],
        ),
        (
            OPERATOR.format("service_request_payload={}, model_asset='{output_path}'"),
            ["model_asset:", "OutputDataConfig.S3OutputPath is not set"],
        ),
        (
            OPERATOR.format("service_request_payload={}, model_asset='s3://b/{{ ds }}'"),
            ["model_asset: 's3://b/{{ ds }}' is a Jinja template"],
        ),
        (
            "BatchSubmitServiceJobOperator(task_id='t', job_name='j', job_queue='q', "
            "service_request_payload={}, model_asset='s3://b/m')",
            ["model_asset:", "set wait_for_completion=True"],
        ),
        (
            "BatchServiceJobSensor(task_id='s', job_id='x', model_asset=True)",
            ["model_asset: True", "(the sensor)"],
        ),
        (
            "BatchServiceJobSensor(task_id='s', job_id='x', model_asset='{output_path}/m')",
            ["model_asset:", "(the sensor)"],
        ),
        (
            DECORATED.format("output_s3_uri='s3://b/{{ run_id }}', model_asset=True"),
            ["model_asset: True", "output_s3_uri is a Jinja template"],
        ),
        (
            DECORATED.format("model_asset='{output_path}/m'"),
            ["model_asset:", "output_s3_uri is not set and service_request_payload"],
        ),
    ],
    ids=[
        "templated-output-path",
        "templated-payload",
        "no-output-path",
        "templated-uri",
        "operator-without-wait",
        "sensor-true",
        "sensor-output-path",
        "decorator-templated-output",
        "decorator-no-output",
    ],
)
def test_a_model_asset_that_cannot_name_an_asset_fails_the_parse(
    tmp_path: Path, task: str, words: list[str]
) -> None:
    (tmp_path / "bad_model_asset.py").write_text(
        "from airflow.sdk import DAG, task\n"
        "from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator\n"
        "from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor\n"
        "with DAG(dag_id='bad_model_asset', schedule=None):\n"
        + textwrap.indent(task, "    ")
        + "\n"
    )
    bag = DagBag(dag_folder=str(tmp_path))
    (error,) = bag.import_errors.values()
    for word in words:
        assert word in error, error
    assert "bad_model_asset" not in bag.dags
