"""``@task.batch_service`` in real DAG runs (``dag.test()``) against the emulator, which runs
each decorated function for real in a subprocess: return values, Python errors, a RETRY rule
that runs the function again, and every bad input refused before any AWS call."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from .support_dags import dag_bag, dag_test_file, xcom

# Shared clients are per process, and each emulator here sits behind the same connection id.
pytestmark = pytest.mark.usefixtures("fresh_shared_clients")

BUCKET = "decorator-tests"
OUTPUT = f"s3://{BUCKET}/out"
COMMON = (
    "aws_conn_id='emu_fn', job_queue=QUEUE, image_uri='python:3.11', "
    "role_arn='arn:aws:iam::123456789012:role/r', poll_interval=0.1, retries=0"
)


@pytest.fixture(params=["in_process", "http"])
def emu(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    from .support import set_aws_connection

    if request.param == "in_process":
        emulator = request.getfixturevalue("batch_emulator")
        set_aws_connection(monkeypatch, "emu_fn", emulator.region, None)
    else:
        emulator = request.getfixturevalue("batch_emulator_server")
        set_aws_connection(monkeypatch, "emu_fn", emulator.region, emulator.endpoint_url)
    emulator.configure(seconds_per_state=0.05)
    emulator.client("s3").create_bucket(Bucket=BUCKET)
    emulator.reset_stats()
    return emulator


def _run_dag(airflow_home: Path, emu: Any, name: str, body: str) -> Any:
    """``dag.test()`` the DAG ``name`` whose tasks are ``body``."""
    header = f"from airflow.sdk import DAG, task\nQUEUE = {emu.queue_name!r}\nOUTPUT = {OUTPUT!r}\n"
    return dag_test_file(airflow_home, name, header, body)


def _tis(dag_run: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for ti in dag_run.get_task_instances():
        out.setdefault(ti.task_id, []).append(ti)
    return out


def _objects(emu: Any) -> list[str]:
    listed = emu.client("s3").list_objects_v2(Bucket=BUCKET)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_mapped_sweep_returns_each_functions_value(airflow_home, emu, capsys) -> None:
    dag_run = _run_dag(
        airflow_home,
        emu,
        "fn_sweep",
        f"""
        @task.batch_service({COMMON}, output_s3_uri=OUTPUT)
        def train(lr: float, epochs: int = 1) -> dict:
            import math
            print(f"training with lr={{lr}}")
            return {{"lr": lr, "loss": math.exp(-lr * epochs)}}

        @task
        def best(results):
            return min(results, key=lambda r: r["loss"])

        best(train.partial(epochs=3).expand(lr=[0.1, 0.5, 0.2]))
        """,
    )
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("success"), out[-4000:]
    tis = _tis(dag_run)
    values = {
        ti.map_index: xcom(ti, task_ids="train", map_indexes=ti.map_index) for ti in tis["train"]
    }
    assert {i: v["lr"] for i, v in values.items()} == {0: 0.1, 1: 0.5, 2: 0.2}
    assert values[1]["loss"] == pytest.approx(0.22313016)
    assert xcom(tis["best"][0], task_ids="best")["lr"] == 0.5
    # The function's own output streamed into the task log, from the training job's log.
    assert "training with lr=0.5" in out
    assert emu.stats()["SubmitServiceJob"] == 3
    # Each call's files under its own token and content hash; each result in output.tar.gz.
    staged = [k for k in _objects(emu) if k.endswith("manifest.json")]
    assert len(staged) == 3 and all("/airflow-batch-service/functions/" in k for k in staged)
    first = next(ti for ti in tis["train"] if ti.map_index == 0)
    arn = first.xcom_pull(task_ids="train", map_indexes=0, key="job_arn")
    job = emu.client("batch").describe_service_job(jobId=str(arn).rsplit("/", 1)[-1])
    assert job["jobName"] == "train-0"


def test_an_exception_fails_the_task_with_the_python_error(airflow_home, emu, capsys) -> None:
    dag_run = _run_dag(
        airflow_home,
        emu,
        "fn_error",
        f"""
        @task.batch_service({COMMON}, output_s3_uri=OUTPUT)
        def train(lr: float) -> float:
            if lr > 1:
                raise ValueError(f"learning rate {{lr}} diverged")
            return lr

        train(5.0)
        """,
    )
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("failed")
    assert "ValueError: learning rate 5.0 diverged" in out
    # The explanation names the attempt's reason, as for any failed service job.
    assert "AlgorithmError: ValueError: learning rate 5.0 diverged" in out
    assert "Traceback (most recent call last)" in out  # the training job's log, streamed


def test_a_retry_rule_runs_the_function_again(airflow_home, emu, tmp_path, capsys) -> None:
    marker = tmp_path / "tries"
    dag_run = _run_dag(
        airflow_home,
        emu,
        "fn_retry",
        f"""
        @task.batch_service(
            {COMMON}, output_s3_uri=OUTPUT,
            retry_strategy={{"attempts": 2, "evaluateOnExit": [
                {{"action": "RETRY", "onStatusReason": "*ConnectionError*"}},
                {{"action": "EXIT", "onStatusReason": "*"}}]}},
        )
        def flaky(path: str) -> int:
            import os
            with open(path, "a") as handle:
                handle.write("x")
            tries = os.path.getsize(path)
            if tries == 1:
                raise ConnectionError("data source reset the connection")
            return tries

        flaky({str(marker)!r})
        """,
    )
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("success"), out[-4000:]
    (ti,) = _tis(dag_run)["flaky"]
    assert xcom(ti, task_ids="flaky") == 2
    assert marker.read_text() == "xx"  # the function ran twice
    assert 'RETRY ("*ConnectionError*") matched; Batch queued attempt 2' in out
    assert emu.stats()["SubmitServiceJob"] == 1


def test_a_function_writes_its_model_where_sagemaker_uploads_it(airflow_home, emu) -> None:
    dag_run = _run_dag(
        airflow_home,
        emu,
        "fn_model",
        f"""
        @task.batch_service({COMMON}, output_s3_uri=OUTPUT, multiple_outputs=True)
        def fit() -> dict:
            import os
            with open(os.path.join(os.environ["SM_MODEL_DIR"], "w.txt"), "w") as handle:
                handle.write("42")
            return {{"weight": 42, "note": "ok"}}

        fit()
        """,
    )
    assert str(dag_run.state).endswith("success")
    (ti,) = _tis(dag_run)["fit"]
    assert xcom(ti, task_ids="fit", key="weight") == 42
    model = xcom(ti, task_ids="fit", key="training_job")["modelArtifacts"]
    bucket, key = model[len("s3://") :].split("/", 1)
    data = emu.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        names = {m.name.removeprefix("./") for m in archive.getmembers() if m.isfile()}
    assert "w.txt" in names


@pytest.mark.parametrize(
    ("arguments", "call", "expected"),
    [
        (
            "output_s3_uri=OUTPUT",
            "f({1, 2})",
            "positional argument 0 (set) cannot be carried by serializer='json'",
        ),
        ("output_s3_uri='/tmp/out'", "f(1)", "output_s3_uri: must be an S3 URI"),
        (
            "output_s3_uri=OUTPUT, environment={'DB_PASSWORD': 'x'}",
            "f(1)",
            "environment.DB_PASSWORD: looks like a secret",
        ),
    ],
)
def test_bad_inputs_are_refused_before_any_aws_call(
    airflow_home, emu, capsys, arguments, call, expected
) -> None:
    name = "fn_refused_" + str(abs(hash(expected)) % 10_000)
    dag_run = _run_dag(
        airflow_home,
        emu,
        name,
        f"""
        @task.batch_service({COMMON}, {arguments})
        def f(x):
            return x

        {call}
        """,
    )
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("failed")
    assert "Invalid arguments; nothing was submitted" in out and expected in out, out[-3000:]
    stats = emu.stats()
    assert not stats.get("SubmitServiceJob") and not stats.get("DescribeJobQueues"), stats
    assert _objects(emu) == []


def test_missing_image_and_role_are_refused_before_any_aws_call(airflow_home, emu, capsys) -> None:
    folder = airflow_home / "dags"
    (folder / "fn_no_image.py").write_text(
        "from airflow.sdk import DAG, task\n"
        "with DAG(dag_id='fn_no_image', schedule=None) as dag:\n"
        f"    @task.batch_service(aws_conn_id='emu_fn', job_queue={emu.queue_name!r}, output_s3_uri={OUTPUT!r}, retries=0)\n"
        "    def f(x):\n"
        "        return x\n"
        "    f(1)\n"
    )
    dag_run = dag_bag(folder).get_dag("fn_no_image").test()
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("failed")
    assert "image_uri: is required" in out and "role_arn: is required" in out
    assert not emu.stats().get("SubmitServiceJob")
    assert _objects(emu) == []


def test_functions_that_cannot_travel_are_refused_when_the_dag_is_parsed(airflow_home) -> None:
    from airflow.sdk import task

    @task.batch_service(job_queue="q")
    def uses_json(x):
        return json.dumps(x)

    with pytest.raises(ValueError, match=r"reads module-level names of the DAG file \(json\)"):
        uses_json(1)
    with pytest.raises(ValueError, match="a lambda cannot be sent"):
        task.batch_service(lambda x: x, job_queue="q")(1)
    with pytest.raises(ValueError, match="wait_for_completion and read_training_result"):

        @task.batch_service(job_queue="q", wait_for_completion=False)
        def g(x):
            return x

        g(1)


def test_a_deferred_wait_returns_the_functions_value(airflow_home, emu, capsys) -> None:
    dag_run = _run_dag(
        airflow_home,
        emu,
        "fn_deferred",
        f"""
        @task.batch_service({COMMON}, output_s3_uri=OUTPUT, deferrable=True)
        def add(a: int, b: int) -> int:
            print("adding in the container")
            return a + b

        add(2, b=40)
        """,
    )
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("success"), out[-4000:]
    (ti,) = _tis(dag_run)["add"]
    assert xcom(ti, task_ids="add") == 42
    assert "Deferring the wait on service job" in out


def test_cloudpickle_carries_what_json_cannot(airflow_home, emu, capsys) -> None:
    dag_run = _run_dag(
        airflow_home,
        emu,
        "fn_pickle",
        f"""
        @task.batch_service({COMMON}, output_s3_uri=OUTPUT, serializer="cloudpickle")
        def doubled(values: set, scale: complex) -> list:
            return sorted(abs(v * scale) for v in values)

        doubled({{3, 1, 2}}, scale=2j)
        """,
    )
    out = capsys.readouterr().out
    assert str(dag_run.state).endswith("success"), out[-4000:]
    (ti,) = _tis(dag_run)["doubled"]
    assert xcom(ti, task_ids="doubled") == [2.0, 4.0, 6.0]
    assert any(k.endswith("/arguments.pkl") for k in _objects(emu))


def test_a_missing_bucket_fails_the_task_at_once_without_a_submit(
    airflow_home, emu, capsys
) -> None:
    """S3 refuses for good (no such bucket): the task fails on its first try, naming the
    upload, with nothing submitted; Airflow's retries would only repeat the refusal."""
    dag_run = _run_dag(
        airflow_home,
        emu,
        "fn_no_bucket",
        f"""
        @task.batch_service(
            aws_conn_id='emu_fn', job_queue=QUEUE, image_uri='python:3.11',
            role_arn='arn:aws:iam::123456789012:role/r', poll_interval=0.1,
            output_s3_uri='s3://no-such-bucket-{BUCKET}/out', retries=2, retry_delay=0,
        )
        def f(x):
            return x

        f(1)
        """,
    )
    out = capsys.readouterr().out
    [ti] = _tis(dag_run)["f"]
    assert str(ti.state).endswith("failed") and ti.try_number == 1, (ti.state, ti.try_number)
    assert "s3://no-such-bucket-decorator-tests/out/" in out, out[-3000:]
    assert "failed: NoSuchBucket (HTTP 404)" in out
    assert not emu.stats().get("SubmitServiceJob")
