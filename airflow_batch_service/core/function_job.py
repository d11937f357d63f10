"""How a Python function travels as a training job: the contract between the
``@task.batch_service`` decorator, the runner inside the container and the emulator.

The decorator uploads, under one S3 prefix, the files named here; SageMaker copies that prefix
into the container as the input channel :data:`CHANNEL`; the training image runs the runner
(``airflow_batch_service.runner.function_runner``, standard library only) as its ``ContainerEntrypoint``. The runner
calls the function and writes the return value to SageMaker's output-data directory, which
SageMaker uploads as ``output.tar.gz`` beside ``model.tar.gz``; on an exception it writes the
Python error to ``/opt/ml/output/failure``, which SageMaker reports as the training job's
``FailureReason`` (and Batch as the attempt's status reason).

The emulator runs the runner by SageMaker's own rules (``emulator.container``), apart from
these names, so a payload built wrongly here fails against it.

Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The input channel that carries the function (SageMaker sets ``SM_CHANNEL_<NAME>``).
CHANNEL = "airflow_function"
#: The environment variable SageMaker sets to the channel's directory.
CHANNEL_ENV = "SM_CHANNEL_AIRFLOW_FUNCTION"
#: Where SageMaker puts input channels inside the container.
INPUT_ROOT = "/opt/ml/input/data"

RUNNER = "runner.py"
SOURCE = "function.py"
MANIFEST = "manifest.json"
#: The runner's account of itself (Python version, serializer), beside the return value.
REPORT = "runner.json"
#: SageMaker's archive of ``/opt/ml/output/data``, next to ``model.tar.gz``.
OUTPUT_ARCHIVE = "output.tar.gz"
MODEL_ARCHIVE = "model.tar.gz"
#: The file SageMaker reads a failed job's ``FailureReason`` from (in ``SM_OUTPUT_DIR``).
FAILURE_FILE = "failure"
#: SageMaker keeps at most this much of the failure file as ``FailureReason``.
FAILURE_REASON_MAX = 1024

SERIALIZERS = ("json", "cloudpickle")
_EXTENSIONS = {"json": ".json", "cloudpickle": ".pkl"}


def arguments_file(serializer: str) -> str:
    """The arguments' file name for ``serializer``."""
    return "arguments" + _EXTENSIONS[serializer]


def result_file(serializer: str) -> str:
    """The return value's file name for ``serializer``."""
    return "return" + _EXTENSIONS[serializer]


def runner_path() -> str:
    """The runner's path inside the container."""
    return f"{INPUT_ROOT}/{CHANNEL}/{RUNNER}"


def entrypoint(python: str = "python3") -> list[str]:
    """The ``ContainerEntrypoint`` that runs the runner with the image's ``python``."""
    return [python, runner_path()]


def function_channel(payload: Mapping[str, Any]) -> str | None:
    """The S3 URI of the function's channel when ``payload`` (a CreateTrainingJob request)
    runs the runner as its entrypoint; None for any other job."""
    spec = payload.get("AlgorithmSpecification")
    if not isinstance(spec, Mapping):
        return None
    entry = spec.get("ContainerEntrypoint")
    if not isinstance(entry, Sequence) or isinstance(entry, str) or not entry:
        return None
    if str(entry[-1]) != runner_path():
        return None
    for channel in payload.get("InputDataConfig") or ():
        if not isinstance(channel, Mapping) or channel.get("ChannelName") != CHANNEL:
            continue
        source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        uri = source.get("S3Uri")
        if isinstance(uri, str) and uri:
            return uri
    return None


def output_archive_uri(model_artifacts: str) -> str:
    """``.../<training job>/output/output.tar.gz`` from the job's ``S3ModelArtifacts``
    (``.../<training job>/output/model.tar.gz``): SageMaker writes both in one place."""
    head, _, tail = model_artifacts.rpartition("/")
    if tail != MODEL_ARCHIVE or not head:
        raise ValueError(f"not a SageMaker model artifact URI: {model_artifacts!r}")
    return f"{head}/{OUTPUT_ARCHIVE}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> ``("bucket", "key/prefix")``; ValueError otherwise."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI (s3://bucket/prefix): {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


def manifest(function: str, serializer: str, python: str) -> dict[str, str]:
    """``manifest.json``: what the runner needs to know, ``python`` being the worker's
    ``major.minor`` (the runner refuses cloudpickle across versions)."""
    if serializer not in SERIALIZERS:
        raise ValueError(f"serializer must be one of {', '.join(SERIALIZERS)}: {serializer!r}")
    return {
        "function": function,
        "serializer": serializer,
        "source": SOURCE,
        "arguments": arguments_file(serializer),
        "result": result_file(serializer),
        "python": python,
    }
