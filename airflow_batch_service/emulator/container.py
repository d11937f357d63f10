"""SageMaker's training container as the emulator plays it for a script run locally.

Which payloads run a script at all, and what the script finds around it, are SageMaker's
rules, read here from SageMaker's documentation ("How Amazon SageMaker AI provides training
information", "Adapting your own training container") on purpose apart from the provider's
``core.function_job``: the emulator stands in for SageMaker, so a payload the decorator gets
wrong must fail against it, not be read the same wrong way on both sides
(``tests/emulator/test_independence.py``).

- A payload runs a script when its ``ContainerEntrypoint`` starts with a Python interpreter
  and names a ``.py`` file under ``/opt/ml/input/data/<channel>/`` for one of its S3 input
  channels: ``["python3", "/opt/ml/input/data/airflow_function/runner.py"]`` is how
  ``@task.batch_service`` submits a function. ``ContainerArguments`` follow the entrypoint.
- A run's directory stands for ``/opt/ml``: the channel under ``input/data/<channel>``, and
  ``model``, ``output``, ``output/data``; every argument under ``/opt/ml`` is moved there.
- The environment: ``SM_CHANNEL_<CHANNEL>``, ``SM_CHANNELS``, ``SM_MODEL_DIR``,
  ``SM_OUTPUT_DIR``, ``SM_OUTPUT_DATA_DIR``, ``SM_HPS``, ``SM_CURRENT_HOST``, ``SM_HOSTS``,
  ``TRAINING_JOB_NAME``, plus the payload's ``Environment``.
- After success ``model`` and ``output/data`` become ``model.tar.gz`` and ``output.tar.gz``;
  after a failure ``output/failure`` is the ``FailureReason`` (1,024 characters at most).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OPT_ML = "/opt/ml"
INPUT_DATA = OPT_ML + "/input/data/"
MODEL_ARCHIVE = "model.tar.gz"
OUTPUT_ARCHIVE = "output.tar.gz"
#: The file in ``/opt/ml/output`` whose text SageMaker reports as ``FailureReason``.
FAILURE_FILE = "failure"
#: SageMaker keeps at most this much of it.
FAILURE_REASON_MAX = 1024
HOST = "algo-1"


class RunFailure(Exception):
    """A failure around the script (its input or output data), in SageMaker's words
    (``ClientError: ...``): the attempt's ``FailureReason``."""


@dataclass(frozen=True)
class ScriptJob:
    """What a payload runs: its script's channel, that channel's S3 URI, and the command
    after the interpreter (entrypoint then arguments, paths as inside the container)."""

    channel: str
    uri: str
    argv: tuple[str, ...]


def script_job(payload: Mapping[str, Any]) -> ScriptJob | None:
    """The script ``payload`` (a CreateTrainingJob request) runs; None when it runs none."""
    spec = payload.get("AlgorithmSpecification")
    if not isinstance(spec, Mapping):
        return None
    entry = spec.get("ContainerEntrypoint")
    if not isinstance(entry, list) or not entry or not all(isinstance(a, str) for a in entry):
        return None
    if not os.path.basename(entry[0]).startswith("python"):
        return None
    script = next((a for a in entry[1:] if a.startswith(INPUT_DATA) and a.endswith(".py")), None)
    if script is None:
        return None
    channel, _, rest = script[len(INPUT_DATA) :].partition("/")
    if not channel or not rest:
        return None
    for item in payload.get("InputDataConfig") or ():
        if not isinstance(item, Mapping) or item.get("ChannelName") != channel:
            continue
        source = (item.get("DataSource") or {}).get("S3DataSource") or {}
        uri = source.get("S3Uri")
        if isinstance(uri, str) and uri:
            arguments = [str(a) for a in (spec.get("ContainerArguments") or ())]
            return ScriptJob(channel, uri, tuple(entry[1:]) + tuple(arguments))
    return None


def channel_dir(root: Path, channel: str) -> Path:
    return root / "input" / "data" / channel


def command(root: Path, job: ScriptJob, python: str) -> list[str]:
    """The local command: ``python`` and the job's argv, ``/opt/ml`` paths moved to ``root``."""
    return [python, *(localize(root, arg) for arg in job.argv)]


def localize(root: Path, arg: str) -> str:
    if arg == OPT_ML or arg.startswith(OPT_ML + "/"):
        return str(root) + arg[len(OPT_ML) :]
    return arg


def environment(
    root: Path, job: ScriptJob, payload: Mapping[str, Any], training_job_name: str
) -> dict[str, str]:
    """The training environment for a run in ``root``: the payload's ``Environment``, then
    SageMaker's variables (which win) and unbuffered Python output."""
    env = {str(k): str(v) for k, v in (payload.get("Environment") or {}).items()}
    env.update(
        {
            f"SM_CHANNEL_{job.channel.upper()}": str(channel_dir(root, job.channel)),
            "SM_CHANNELS": json.dumps([job.channel]),
            "SM_MODEL_DIR": str(root / "model"),
            "SM_OUTPUT_DIR": str(root / "output"),
            "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
            "SM_HPS": json.dumps(payload.get("HyperParameters") or {}),
            "SM_CURRENT_HOST": HOST,
            "SM_HOSTS": json.dumps([HOST]),
            "TRAINING_JOB_NAME": training_job_name,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def layout(root: Path, job: ScriptJob, files: Mapping[str, bytes]) -> None:
    """Lay ``root`` out as ``/opt/ml``, the channel holding ``files`` (relative paths)."""
    for name in ("model", "output/data"):
        (root / name).mkdir(parents=True, exist_ok=True)
    channel = channel_dir(root, job.channel)
    channel.mkdir(parents=True, exist_ok=True)
    base = channel.resolve()
    for relative, content in files.items():
        target = (channel / relative).resolve()
        if base not in target.parents:
            raise RunFailure(f"ClientError: S3 key {relative!r} points outside its channel")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def archives(root: Path) -> dict[str, bytes]:
    """What SageMaker uploads after a successful run: ``{archive name: tar.gz bytes}``."""
    return {
        MODEL_ARCHIVE: _archive(root / "model"),
        OUTPUT_ARCHIVE: _archive(root / "output" / "data"),
    }


def _archive(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if directory.is_dir():
            for child in sorted(directory.iterdir()):
                tar.add(child, arcname=child.name)
    return buffer.getvalue()


def failure_reason(root: Path, exit_code: int) -> str:
    """SageMaker's FailureReason of a script that exited ``exit_code``: its failure file."""
    path = root / "output" / FAILURE_FILE
    text = path.read_text(errors="replace").strip() if path.is_file() else ""
    if not text:
        text = f"ExecuteUserScriptError: the runner exited with code {exit_code}"
    return ("AlgorithmError: " + text)[:FAILURE_REASON_MAX]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``; RunFailure for anything else."""
    bucket, _, key = uri[len("s3://") :].partition("/") if uri.startswith("s3://") else ("", "", "")
    if not bucket:
        raise RunFailure(f"ClientError: not an S3 URI (s3://bucket/prefix): {uri!r}")
    return bucket, key
