"""``@task.batch_service`` functions run for real: a job whose payload runs the function runner
(``core.function_job``) starts it as a local process when an attempt enters RUNNING, in-process
and over HTTP, on a frozen clock.

The job stays RUNNING while the process runs, however far the clock moves; it ends as the
function did (its return value in ``output.tar.gz``, its exception in ``statusReason``), Batch's
retry rules run it again, and terminating the job kills it. The tests wait on named conditions
(``wait_for_function_runs``, a marker file the function writes), never on time passing.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tarfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from airflow_batch_service.core import function_job
from airflow_batch_service.core.training_job import LOG_GROUP
from airflow_batch_service.core.verdict import training_job_name
from airflow_batch_service.emulator import status_reasons
from airflow_batch_service.emulator.container import ScriptJob, command, script_job
from airflow_batch_service.emulator.function_runs import wait_until_done
from airflow_batch_service.emulator.server import EmulatorServer
from airflow_batch_service.runner import function_runner

from .helpers import PAYLOAD, VALIDATION, describe, failed, preempted, scenario, succeeded

BUCKET = "functions"
OUTPUT = f"s3://{BUCKET}/out"
RUNNER_TEXT = Path(function_runner.__file__).read_text()
BOUND = 60.0  # generous: reached only when something is wrong

ADD = """
def add(a, b):
    print("adding", a, b)
    return {"sum": a + b}
"""

BOOM = """
def boom(value):
    raise ValueError(f"bad input {value}")
"""

FLAKY = """
import pathlib

def flaky(marker_dir):
    tries = pathlib.Path(marker_dir)
    done = len(list(tries.iterdir()))
    (tries / f"try-{done + 1}").write_text("")
    if done == 0:
        raise ValueError("first try fails")
    return f"succeeded on try {done + 1}"
"""

BLOCK = """
import os, pathlib, time

def block(marker_dir):
    marker = pathlib.Path(marker_dir)
    (marker / "partial").write_text(f"{os.getpid()}\\n{os.getcwd()}")
    (marker / "partial").rename(marker / "started")
    print("blocking until", marker / "never", flush=True)
    while not (marker / "never").exists():
        time.sleep(0.05)
"""


# -- staging: what the decorator uploads and submits -------------------------------------------


def s3_client(emu: Any) -> Any:
    return emu.client("s3", config=Config(s3={"addressing_style": "path"}))


def stage(emu: Any, prefix: str, source: str, function: str, *args: Any) -> str:
    """Upload the runner, the function, its manifest and arguments; returns the channel URI."""
    s3 = s3_client(emu)
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    files = {
        function_job.RUNNER: RUNNER_TEXT,
        function_job.SOURCE: textwrap.dedent(source),
        function_job.MANIFEST: json.dumps(function_job.manifest(function, "json", "3.11")),
        function_job.arguments_file("json"): json.dumps({"args": list(args), "kwargs": {}}),
    }
    for name, text in files.items():
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{name}", Body=text.encode())
    return f"s3://{BUCKET}/{prefix}"


def _payload(entrypoint: Any, channel: str = function_job.CHANNEL, **spec: Any) -> dict[str, Any]:
    """A payload like the decorator's: ``entrypoint`` and an S3 input channel ``channel``."""
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": spec.pop("uri", "s3://b/fn")}}
    algorithm = {"TrainingImage": "img", "ContainerEntrypoint": entrypoint, **spec}
    inputs = [{"ChannelName": channel, "DataSource": source}]
    return {**PAYLOAD, "AlgorithmSpecification": algorithm, "InputDataConfig": inputs}


def submit(emu: Any, batch: Any, name: str, channel: str, **extra: Any) -> str:
    payload = {
        **_payload(function_job.entrypoint(), uri=channel),
        "TrainingJobName": name,
        "OutputDataConfig": {"S3OutputPath": OUTPUT},
        "Environment": {"GREETING": "hello"},
    }
    args = {"jobName": name, "jobQueue": emu.queue_name, "serviceJobType": "SAGEMAKER_TRAINING"}
    response = batch.submit_service_job(**args, serviceRequestPayload=json.dumps(payload), **extra)
    return str(response["jobId"])


def launch(emu: Any, batch: Any, name: str, source: str, *args: Any, **extra: Any) -> str:
    """Stage the function ``source`` defines, called with ``args``; submit job ``name``."""
    function = re.search(r"^def (\w+)", source, re.MULTILINE).group(1)  # type: ignore[union-attr]
    return submit(emu, batch, name, stage(emu, f"fn/{name}", source, function, *args), **extra)


# -- waiting -------------------------------------------------------------------------------------


def finish(emu: Any, batch: Any, job_id: str, limit: int = 100) -> dict[str, Any]:
    """Move the clock a second at a time until the job ends, waiting for each function run to
    end before moving it further (the clock never races a running process)."""
    for _ in range(limit):
        job = describe(batch, job_id)
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        if any(run["state"] == "running" for run in emu.function_runs(job_id)):
            emu.wait_for_function_runs(job_id, timeout=BOUND)
        emu.advance(1)
    raise AssertionError(f"job {job_id} did not end: {describe(batch, job_id)['status']}")


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {BOUND:g}s for {what}")
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def outcomes(runs: list[dict[str, Any]]) -> list[tuple[int, str, int | None]]:
    return [(run["attempt"], run["state"], run["exitCode"]) for run in runs]


def training_job(job: dict[str, Any], attempt: int = -1) -> str:
    return str(training_job_name(job["attempts"][attempt]["serviceResourceId"]["value"]))


def archive_members(emu: Any, key: str) -> dict[str, bytes]:
    body = s3_client(emu).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
        return {m.name: tar.extractfile(m).read() for m in files}  # type: ignore[union-attr]


def log_lines(emu: Any, name: str) -> list[str]:
    logs = emu.client("logs")
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")
    (stream,) = [s["logStreamName"] for s in streams["logStreams"]]
    found = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True)
    return [event["message"] for event in found["events"]]


# -- cases ---------------------------------------------------------------------------------------


def test_a_function_runs_and_its_return_value_lands_in_output_tar_gz(emu, batch):
    job_id = launch(emu, batch, "add", ADD, 2, 3)
    emu.advance(4)  # SUBMITTED, RUNNABLE, SCHEDULED, STARTING: RUNNING now
    (run,) = emu.wait_for_function_runs(job_id, timeout=BOUND)
    assert (run["state"], run["exitCode"], run["attempt"]) == ("exited", 0, 1)

    final = finish(emu, batch, job_id)
    assert final["status"] == "SUCCEEDED"
    name = training_job(final)
    assert run["trainingJobName"] == name
    members = archive_members(emu, f"out/{name}/output/{function_job.OUTPUT_ARCHIVE}")
    assert json.loads(members["return.json"]) == {"sum": 5}
    assert json.loads(members[function_job.REPORT])["serializer"] == "json"
    model = s3_client(emu).head_object(Bucket=BUCKET, Key=f"out/{name}/output/model.tar.gz")
    assert model["ContentLength"] > 0
    sm = emu.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert sm["ModelArtifacts"]["S3ModelArtifacts"] == f"{OUTPUT}/{name}/output/model.tar.gz"
    assert sm["TrainingJobStatus"] == "Completed"


def test_the_functions_printed_lines_are_in_the_attempts_log_stream(emu, batch):
    source = ADD.replace('print("adding", a, b)', 'print("adding", a, b, os.environ["GREETING"])')
    job_id = launch(emu, batch, "logged", "import os\n" + source, 1, 1)
    final = finish(emu, batch, job_id)
    assert final["status"] == "SUCCEEDED"
    lines = log_lines(emu, training_job(final))
    assert "adding 1 1 hello" in lines
    assert "[runner] calling add() with Python {}.{}".format(*sys.version_info) in lines
    training = next(i for i, line in enumerate(lines) if "Training in progress" in line)
    assert training < lines.index("adding 1 1 hello")


def test_an_exception_fails_the_job_with_the_python_error(emu, batch):
    job_id = launch(emu, batch, "boom", BOOM, 42)
    final = finish(emu, batch, job_id)
    assert final["status"] == "FAILED"
    expected = status_reasons.FROM_SAGEMAKER + "AlgorithmError: ValueError: bad input 42"
    assert final["statusReason"].startswith(expected)
    assert final["attempts"][0]["statusReason"] == final["statusReason"]
    name = training_job(final)
    sm = emu.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert sm["TrainingJobStatus"] == "Failed"
    assert "AlgorithmError: ValueError: bad input 42" in sm["FailureReason"]
    assert any("Traceback" in line for line in log_lines(emu, name))
    (run,) = emu.function_runs(job_id)
    assert (run["state"], run["exitCode"]) == ("exited", 1)


def test_a_retry_rule_runs_the_function_again(emu, batch, tmp_path):
    rule = {"action": "RETRY", "onStatusReason": "*ValueError*"}
    retry = {"attempts": 2, "evaluateOnExit": [rule]}
    job_id = launch(emu, batch, "flaky", FLAKY, str(tmp_path), retryStrategy=retry)
    final = finish(emu, batch, job_id)
    assert final["status"] == "SUCCEEDED"
    assert len(final["attempts"]) == 2
    assert "ValueError: first try fails" in final["attempts"][0]["statusReason"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["try-1", "try-2"]
    runs = emu.function_runs(job_id)
    assert outcomes(runs) == [(1, "exited", 1), (2, "exited", 0)]
    assert [r["trainingJobName"] for r in runs] == [training_job(final, i) for i in (0, 1)]
    members = archive_members(emu, f"out/{training_job(final)}/output/output.tar.gz")
    assert json.loads(members["return.json"]) == "succeeded on try 2"


def start_blocking(
    emu: Any, batch: Any, name: str, marker: Path, **extra: Any
) -> tuple[str, int, str]:
    """Submit the blocking function and wait until it runs; returns the job id, its pid and
    its working directory."""
    job_id = launch(emu, batch, name, BLOCK, str(marker), **extra)
    emu.advance(4)
    emu.function_runs(job_id)  # a read: the attempt enters RUNNING and the function starts
    wait_for(lambda: (marker / "started").exists(), "the function to start")
    pid, workdir = (marker / "started").read_text().splitlines()
    return job_id, int(pid), workdir


def test_terminate_kills_a_running_function(emu, batch, tmp_path):
    job_id, pid, workdir = start_blocking(emu, batch, "block", tmp_path)
    emu.advance(3600)  # however long: RUNNING while the process runs
    assert describe(batch, job_id)["status"] == "RUNNING"
    assert [r["state"] for r in emu.function_runs(job_id)] == ["running"]

    batch.terminate_service_job(jobId=job_id, reason="stop it")
    (run,) = emu.wait_for_function_runs(job_id, timeout=BOUND)
    assert run["state"] == "killed"
    assert gone(pid)
    assert not Path(workdir).exists()
    final = describe(batch, job_id)
    assert (final["status"], final["isTerminated"]) == ("FAILED", True)
    emu.advance(60)
    assert describe(batch, job_id)["status"] == "FAILED"
    assert emu.function_runs(job_id) == [run]


def test_an_empty_channel_fails_the_attempt_as_sagemaker_would(emu, batch):
    s3_client(emu).create_bucket(Bucket=BUCKET)
    job_id = submit(emu, batch, "empty", f"s3://{BUCKET}/nothing-here")
    final = finish(emu, batch, job_id)
    assert final["status"] == "FAILED"
    assert final["statusReason"].startswith(
        status_reasons.FROM_SAGEMAKER + "ClientError: No S3 objects found under S3 URL"
    )
    (run,) = emu.function_runs(job_id)
    assert (run["state"], run["exitCode"]) == ("exited", None)


def test_with_the_setting_off_no_function_runs(emu, batch):
    assert emu.settings()["runFunctions"] is True  # on by default
    assert emu.configure(run_functions=False)["runFunctions"] is False
    job_id = launch(emu, batch, "off", BOOM, 1)  # would fail the job, were it run
    assert finish(emu, batch, job_id)["status"] == "SUCCEEDED"
    assert emu.function_runs() == []
    listed = s3_client(emu).list_objects_v2(Bucket=BUCKET, Prefix="out/")
    assert listed.get("KeyCount", 0) == 0


def test_a_server_flag_turns_the_setting_off():
    assert "--no-run-functions" in EmulatorServer(run_functions=False)._command()
    assert "--no-run-functions" not in EmulatorServer()._command()


def test_waiting_says_what_it_awaited_and_what_it_saw():
    seen = [{"jobId": "j", "attempt": 1, "state": "running"}]
    with pytest.raises(TimeoutError, match=r"1 function run\(s\) of job j .*'running'"):
        wait_until_done(lambda: seen, "j", timeout=0)
    assert wait_until_done(lambda: [{**seen[0], "state": "exited"}], "j", timeout=0)


def test_an_attempt_time_out_kills_the_function(emu, batch, tmp_path):
    timeout = {"attemptDurationSeconds": 60}
    job_id, pid, _ = start_blocking(emu, batch, "slow", tmp_path, timeoutConfig=timeout)
    emu.advance(61)
    final = describe(batch, job_id)
    assert (final["status"], final["statusReason"]) == ("FAILED", status_reasons.ATTEMPT_TIMEOUT)
    (run,) = emu.wait_for_function_runs(job_id, timeout=BOUND)
    assert run["state"] == "killed"
    assert gone(pid)


def test_a_preempted_attempt_runs_the_function_again(emu, batch):
    emu.load_scenarios(scenario("again", preempted(), succeeded()))
    job_id = launch(emu, batch, "again", ADD, 1, 2)
    final = finish(emu, batch, job_id)
    assert final["status"] == "SUCCEEDED"
    assert final["preemptionSummary"]["preemptedAttemptCount"] == 1
    assert outcomes(emu.function_runs(job_id)) == [(1, "exited", 0), (2, "exited", 0)]


def test_a_scripted_failure_wins_over_the_functions_success(emu, batch):
    emu.load_scenarios(scenario("scripted", failed(VALIDATION)))
    job_id = launch(emu, batch, "scripted", ADD, 1, 2)
    final = finish(emu, batch, job_id)
    assert (final["status"], final["statusReason"]) == ("FAILED", VALIDATION)
    assert [r["exitCode"] for r in emu.function_runs(job_id)] == [0]


def test_a_gate_keeps_the_job_running_after_the_function_exited(emu, batch):
    emu.load_scenarios(scenario("gated", succeeded(hold_until_released={"RUNNING": "done"})))
    job_id = launch(emu, batch, "gated", ADD, 1, 2)
    emu.advance(4)
    emu.wait_for_function_runs(job_id, timeout=BOUND)
    emu.advance(3600)
    assert describe(batch, job_id)["status"] == "RUNNING"
    emu.open_gate("done")
    assert finish(emu, batch, job_id)["status"] == "SUCCEEDED"


def test_a_reset_kills_every_running_function(batch_emulator_server, tmp_path):
    emu = batch_emulator_server
    emu.configure(seconds_per_state=1, freeze_clock=True)
    _, pid, _ = start_blocking(emu, emu.client(), "reset", tmp_path)
    emu.reset()
    assert emu.function_runs() == []
    wait_for(lambda: gone(pid), f"process {pid} to be killed by the reset")


# -- which payloads run a script: the emulator's own reading of SageMaker's rules ----------------


@pytest.mark.parametrize("python", ["python3", "/usr/local/bin/python3.11", "python"])
def test_the_decorators_entrypoint_runs_its_runner_from_its_channel(python):
    job = script_job(_payload(function_job.entrypoint(python)))
    assert job == ScriptJob(function_job.CHANNEL, "s3://b/fn", (function_job.runner_path(),))
    runner = f"/r/input/data/{function_job.CHANNEL}/{function_job.RUNNER}"
    assert command(Path("/r"), job, "/venv/bin/python") == ["/venv/bin/python", runner]


def test_container_arguments_follow_the_entrypoint_with_opt_ml_paths_moved():
    payload = _payload(
        ["python3", "/opt/ml/input/data/code/train.py"],
        channel="code",
        ContainerArguments=["--out", "/opt/ml/model", "--n", "3"],
    )
    job = script_job(payload)
    assert job is not None and job.channel == "code"
    argv = ["py", "/r/input/data/code/train.py", "--out", "/r/model", "--n", "3"]
    assert command(Path("/r"), job, "py") == argv


@pytest.mark.parametrize(
    "payload",
    [
        PAYLOAD,  # no entrypoint: the image's own
        _payload(["/bin/bash", "/opt/ml/input/data/airflow_function/run.sh"]),
        _payload(["bash", "-c", "python3 /opt/ml/input/data/airflow_function/runner.py"]),
        _payload(["python3", "/opt/ml/code/train.py"]),  # not from an input channel
        _payload(function_job.entrypoint(), channel="other"),  # its channel is not an input
        _payload("python3 /opt/ml/input/data/airflow_function/runner.py"),
    ],
)
def test_other_payloads_run_no_script(payload):
    assert script_job(payload) is None
