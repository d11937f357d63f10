"""The runner: the ``ContainerEntrypoint`` of a ``@task.batch_service`` training job.

Uploaded as it is (``runner.py``) beside the function's source and arguments, and run by the
training image's own Python, so it needs nothing but Python's standard library (3.8 or later)
and imports nothing of this package. Everything it must know comes from ``manifest.json``
next to it (written by the decorator, names in ``core.function_job``) and from SageMaker's
environment variables, with SageMaker's paths as defaults:

- ``SM_CHANNEL_AIRFLOW_FUNCTION``: where the channel is (default: this file's directory);
- ``SM_OUTPUT_DATA_DIR``: where the return value goes (``/opt/ml/output/data``, uploaded by
  SageMaker as ``output.tar.gz``);
- ``SM_OUTPUT_DIR``: where ``failure`` goes (``/opt/ml/output``): SageMaker's
  ``FailureReason``.

It writes ``runner.json`` (its Python version) first, so the worker can explain a version
mismatch even when loading the arguments fails. It loads the arguments, runs the function's
source as a fresh module, calls the function and writes the return value; on any exception it
writes the error's type and message, then the last frames, to the failure file (the headline
first: SageMaker keeps 1,024 characters), prints the whole traceback (the training job's log)
and exits 1.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import traceback
from typing import Any

FRAMES = 5
REASON_MAX = 1024


def _paths() -> tuple[str, str, str]:
    here = os.path.dirname(os.path.abspath(__file__))
    channel = os.environ.get("SM_CHANNEL_AIRFLOW_FUNCTION") or here
    output = os.environ.get("SM_OUTPUT_DIR") or "/opt/ml/output"
    data = os.environ.get("SM_OUTPUT_DATA_DIR") or os.path.join(output, "data")
    return channel, output, data


class RunnerError(Exception):
    """A problem of the runner's own (not the function's), worded for the task log."""


def _python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _load_arguments(channel: str, manifest: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    path = os.path.join(channel, manifest["arguments"])
    if manifest["serializer"] == "cloudpickle":
        wanted = manifest.get("python")
        if wanted and wanted != _python():
            raise RunnerError(
                "serializer='cloudpickle' needs the same Python on both sides: the worker "
                f"pickled with Python {wanted}, this image runs Python {_python()}. Use an image with Python "
                f"{wanted}, or serializer='json'."
            )
        try:
            cloudpickle = importlib.import_module(
                "cloudpickle"
            )  # only with serializer='cloudpickle'
        except ImportError:
            raise RunnerError(
                "serializer='cloudpickle' but the image has no cloudpickle: install it in the "
                "image (pip install cloudpickle), or use serializer='json'."
            ) from None
        with open(path, "rb") as handle:
            loaded = cloudpickle.load(handle)
    else:
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
    return list(loaded.get("args") or []), dict(loaded.get("kwargs") or {})


def _write_result(data: str, manifest: dict[str, Any], value: Any) -> None:
    path = os.path.join(data, manifest["result"])
    if manifest["serializer"] == "cloudpickle":
        cloudpickle = importlib.import_module("cloudpickle")
        with open(path, "wb") as handle:
            cloudpickle.dump(value, handle)
        return
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as err:
        raise RunnerError(
            f"the return value cannot be carried by serializer='json' ({err}): return JSON "
            "values (dict, list, str, int, float, bool, None), or use "
            "serializer='cloudpickle'"
        ) from None
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _failure_text(err: BaseException) -> str:
    headline = f"{type(err).__name__}: {err}"
    if isinstance(err, RunnerError):
        return headline[:REASON_MAX]
    frames = traceback.extract_tb(err.__traceback__)[-FRAMES:]
    lines = [headline, "Last frames:"] + [
        f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames
    ]
    return "\n".join(lines)[:REASON_MAX]


def main() -> int:
    channel, output, data = _paths()
    os.makedirs(data, exist_ok=True)
    try:
        with open(os.path.join(channel, "manifest.json"), encoding="utf-8") as handle:
            manifest = json.load(handle)
        with open(os.path.join(data, "runner.json"), "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "python": _python(),
                    "python_full": platform.python_version(),
                    "serializer": manifest.get("serializer"),
                },
                handle,
            )
        args, kwargs = _load_arguments(channel, manifest)
        source_path = os.path.join(channel, manifest["source"])
        with open(source_path, encoding="utf-8") as handle:
            source = handle.read()
        namespace: dict[str, Any] = {"__name__": "__airflow_batch_service_function__"}
        exec(compile(source, source_path, "exec"), namespace)  # the user's own function
        function = namespace[manifest["function"]]
        print("[runner] calling {}() with Python {}".format(manifest["function"], _python()))
        sys.stdout.flush()
        value = function(*args, **kwargs)
        _write_result(data, manifest, value)
        print("[runner] {}() returned; result written".format(manifest["function"]))
        return 0
    except BaseException as err:  # the function's error, whatever it is, is the job's failure
        traceback.print_exc()
        sys.stderr.flush()
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "failure"), "w", encoding="utf-8") as handle:
            handle.write(_failure_text(err))
        return 1


if __name__ == "__main__":
    sys.exit(main())
