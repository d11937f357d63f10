"""The runner as a training image runs it: a separate Python process, SageMaker's directories
given by the ``SM_*`` variables, only the channel's files to go on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_batch_service._shared.function_task import function_files, python_version

pytest.importorskip("airflow.sdk")


def _run(tmp_path: Path, source: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    channel = tmp_path / "input" / "data" / "airflow_function"
    channel.mkdir(parents=True)
    files = function_files(name, source, json.dumps(arguments).encode(), "json")
    for file_name, body in files.items():
        (channel / file_name).write_bytes(body)
    env = {
        "SM_CHANNEL_AIRFLOW_FUNCTION": str(channel),
        "SM_OUTPUT_DIR": str(tmp_path / "output"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output" / "data"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-I", str(channel / "runner.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    data = tmp_path / "output" / "data"
    failure = tmp_path / "output" / "failure"
    return {
        "code": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "result": (data / "return.json").read_text() if (data / "return.json").exists() else None,
        "report": json.loads((data / "runner.json").read_text()),
        "failure": failure.read_text() if failure.exists() else None,
    }


def test_the_function_runs_with_its_arguments_and_its_value_is_written(tmp_path: Path) -> None:
    source = (
        "def train(lr, epochs=1, *, tag):\n"
        "    import math\n"
        "    print('training', tag)\n"
        "    return {'loss': math.exp(-lr * epochs), 'tag': tag}\n"
    )
    out = _run(tmp_path, source, "train", {"args": [0.5], "kwargs": {"epochs": 2, "tag": "a"}})
    assert out["code"] == 0, out
    assert json.loads(out["result"]) == {"loss": pytest.approx(0.36787944), "tag": "a"}
    assert "training a" in out["stdout"]
    assert out["report"]["python"] == python_version()
    assert out["failure"] is None


def test_an_exception_becomes_the_failure_reason(tmp_path: Path) -> None:
    source = (
        "def train(lr):\n"
        "    def check(value):\n"
        "        raise ValueError(f'learning rate {value} diverged')\n"
        "    check(lr)\n"
    )
    out = _run(tmp_path, source, "train", {"args": [9], "kwargs": {}})
    assert out["code"] == 1
    headline, *frames = out["failure"].splitlines()
    assert headline == "ValueError: learning rate 9 diverged"
    assert frames[0] == "Last frames:" and any("in check" in f for f in frames)
    assert "Traceback (most recent call last)" in out["stderr"]
    assert out["result"] is None


def test_a_return_value_json_cannot_carry_is_a_clear_failure(tmp_path: Path) -> None:
    out = _run(tmp_path, "def f():\n    return {1, 2}\n", "f", {"args": [], "kwargs": {}})
    assert out["code"] == 1
    assert out["failure"].startswith("RunnerError: the return value cannot be carried by")
    assert "serializer='cloudpickle'" in out["failure"]


def test_a_long_error_is_cut_to_what_sagemaker_keeps(tmp_path: Path) -> None:
    out = _run(
        tmp_path, "def f():\n    raise RuntimeError('x' * 5000)\n", "f", {"args": [], "kwargs": {}}
    )
    assert len(out["failure"]) == 1024 and out["failure"].startswith("RuntimeError: xxx")


def test_cloudpickle_across_python_versions_is_refused_by_the_runner(tmp_path: Path) -> None:
    channel = tmp_path / "input" / "data" / "airflow_function"
    channel.mkdir(parents=True)
    files = function_files("f", "def f():\n    return 1\n", b"not read", "cloudpickle")
    manifest = json.loads(files["manifest.json"])
    manifest["python"] = "2.7"
    files["manifest.json"] = json.dumps(manifest).encode()
    for file_name, body in files.items():
        (channel / file_name).write_bytes(body)
    env = {
        "SM_CHANNEL_AIRFLOW_FUNCTION": str(channel),
        "SM_OUTPUT_DIR": str(tmp_path / "output"),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, str(channel / "runner.py")], env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 1
    failure = (tmp_path / "output" / "failure").read_text()
    assert failure.startswith("RunnerError: serializer='cloudpickle' needs the same Python")
    assert "the worker pickled with Python 2.7" in failure
