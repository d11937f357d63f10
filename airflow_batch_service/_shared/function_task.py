"""The run-time half of ``@task.batch_service``: the function's files up, its result down.

Before the submit, every check runs (``core.function_checks``, ``core.function_payload``, the
arguments through the serializer) and only then does anything touch AWS. The files go under

    <output_s3_uri>/airflow-batch-service/functions/<clientToken>/<content hash>/

``clientToken`` being the durable token of the task's first job (``core.durable``), the same
for every try of the task, so a retry that reattaches to the job finds the code it runs, and
the content hash keeping a changed function (a clear after a DAG edit) from overwriting files
an earlier job still reads. ``manifest.json`` goes up last: present means complete, and a try
that finds it uploads nothing.

After the job succeeded, the return value comes back from the job's ``output.tar.gz`` (which
SageMaker uploads from ``/opt/ml/output/data``), of any size, never through a log or a status.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import tarfile
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_batch_service.core import function_job
from airflow_batch_service.core.durable import derive_token
from airflow_batch_service.core.errors import classify_exception
from airflow_batch_service.core.function_payload import compose
from airflow_batch_service.core.strict_json import strict_json
from airflow_batch_service.core.task_tag import TaskKey
from airflow_batch_service.core.validation import Problem

if TYPE_CHECKING:
    from airflow.sdk import Context

STAGING_DIR = "airflow-batch-service/functions"
CLOUDPICKLE_HELP = (
    "serializer='cloudpickle' needs the cloudpickle package on the worker: "
    "pip install 'airflow-batch-service[cloudpickle]'"
)


def python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _cloudpickle() -> Any:
    try:
        import cloudpickle  # lazy: an optional extra, needed only with serializer='cloudpickle'
    except ImportError:
        raise AirflowFailException(CLOUDPICKLE_HELP) from None
    return cloudpickle


def _argument_name(position: int | str) -> str:
    return (
        f"argument {position!r}" if isinstance(position, str) else f"positional argument {position}"
    )


def serialize_arguments(
    args: Sequence[Any], kwargs: Mapping[str, Any], serializer: str
) -> tuple[bytes, list[Problem]]:
    """The arguments' file, and a problem for each argument the serializer cannot carry."""
    problems: list[Problem] = []
    items: list[tuple[int | str, Any]] = [*enumerate(args), *kwargs.items()]
    if serializer == "cloudpickle":
        pickler = _cloudpickle()
        for position, value in items:
            try:
                pickler.dumps(value)
            except Exception as err:
                problems.append(
                    Problem(
                        "op_kwargs" if isinstance(position, str) else "op_args",
                        f"{_argument_name(position)} ({type(value).__name__}) cannot be "
                        f"pickled: {err}",
                    )
                )
        body = b"" if problems else pickler.dumps({"args": list(args), "kwargs": dict(kwargs)})
        return body, problems
    for position, value in items:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as err:
            problems.append(
                Problem(
                    "op_kwargs" if isinstance(position, str) else "op_args",
                    f"{_argument_name(position)} ({type(value).__name__}) cannot be carried by "
                    f"serializer='json' ({err}): pass JSON values (dict, list, str, int, float, "
                    "bool, None), or use serializer='cloudpickle'",
                )
            )
    body = b"" if problems else json.dumps({"args": list(args), "kwargs": dict(kwargs)}).encode()
    return body, problems


def runner_text() -> bytes:
    """The runner script, as it ships in this package."""
    return (
        resources.files("airflow_batch_service.runner").joinpath("function_runner.py").read_bytes()
    )


def function_files(
    function_name: str, source: str, arguments: bytes, serializer: str
) -> dict[str, bytes]:
    """Every file of the channel, by name (the manifest included)."""
    manifest = function_job.manifest(function_name, serializer, python_version())
    return {
        function_job.RUNNER: runner_text(),
        function_job.SOURCE: source.encode(),
        manifest["arguments"]: arguments,
        function_job.MANIFEST: json.dumps(manifest, sort_keys=True).encode(),
    }


def content_hash(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:16]


def channel_uri(output_s3_uri: str, token: str, digest: str) -> str:
    return f"{output_s3_uri.rstrip('/')}/{STAGING_DIR}/{token}/{digest}/"


def prepare(task: Any, context: Context) -> tuple[str, dict[str, bytes]]:
    """Check everything and compose the job's payload into ``task.service_request_payload``;
    ``(channel URI, files)``. Raises ``AirflowFailException`` naming every problem, before
    any AWS call."""
    arguments, problems = serialize_arguments(
        list(task.op_args or ()), dict(task.op_kwargs or {}), task.serializer
    )
    output = task.output_s3_uri or _payload_output(task.service_request_payload)
    key = TaskKey.from_context(context, dag_id=task.dag_id, task_id=task.task_id)
    token = task.client_token or derive_token(key, str(task.job_name), None)
    files = function_files(
        task.python_callable.__name__, task.function_source, arguments, task.serializer
    )
    uri = channel_uri(str(output or "s3://missing"), token, content_hash(files))
    payload, payload_problems = compose(
        task.short_form(),
        task.service_request_payload,
        function_name=task.python_callable.__name__,
        channel_uri=uri,
    )
    problems += payload_problems
    if problems:
        # The fields are the decorator's own argument names: no API path to add.
        message = "Invalid arguments; nothing was submitted:\n" + "\n".join(
            f"  - {p.field}: {p.text()}" for p in problems
        )
        task.log.error(message)
        raise AirflowFailException(message)
    task.service_request_payload = payload
    return uri, files


def _payload_output(payload: Any) -> str | None:
    if isinstance(payload, Mapping):
        value = (payload.get("OutputDataConfig") or {}).get("S3OutputPath")
        return str(value) if value else None
    return None


def upload(task: Any, uri: str, files: Mapping[str, bytes]) -> bool:
    """Put the channel's files under ``uri`` unless a complete copy is there (its manifest);
    True when this call uploaded them."""
    manifest_uri = uri + function_job.MANIFEST
    if _staged(task, manifest_uri):
        task.log.info("The function's files are already at %s: not uploading them again", uri)
        return False
    for name, body in files.items():
        if name != function_job.MANIFEST:
            _s3(f"uploading the function's files to {uri}", task.hook.put_object, uri + name, body)
    _s3(
        f"uploading the function's files to {uri}",
        task.hook.put_object,
        manifest_uri,
        files[function_job.MANIFEST],
    )
    task.log.info(
        "Uploaded %s() (%d files, %d bytes of arguments) to %s",
        task.python_callable.__name__,
        len(files),
        len(files[function_job.arguments_file(task.serializer)]),
        uri,
    )
    return True


def _staged(task: Any, manifest_uri: str) -> bool:
    """Whether the manifest is there. Without ``s3:ListBucket`` S3 answers a missing key with
    403, not 404: then the files are uploaded again (the same bytes to the same keys)."""
    try:
        return task.hook.head_object(manifest_uri) is not None
    except Exception as err:
        code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
        if code not in ("403", "AccessDenied", "Forbidden"):
            _fail_if_permanent(f"checking {manifest_uri}", err)
            raise
        task.log.info("Cannot tell whether %s exists (HTTP 403): uploading", manifest_uri)
        return False


def _s3(what: str, call: Any, *args: Any) -> Any:
    """``call(*args)``; an S3 error that asking again cannot mend (no such bucket, access
    denied) fails the task for good, naming ``what``: Airflow's retries would only repeat it.
    Throttling and 5xx propagate as they are, for Airflow's retries."""
    try:
        return call(*args)
    except Exception as err:
        _fail_if_permanent(what, err)
        raise


def _fail_if_permanent(what: str, err: Exception) -> None:
    mapped = classify_exception(err)
    if mapped is not None and not mapped[0].retryable:
        raise AirflowFailException(f"{what} failed: {mapped[1]}") from err


def read_result(task: Any) -> Any:
    """The function's return value, from the succeeded job's ``output.tar.gz``."""
    result = task.training_job_result or {}
    artifacts = result.get("modelArtifacts")
    if not artifacts:
        raise AirflowException(
            f"service job {task.job_id} succeeded but its training job names no model "
            "artifacts: cannot find output.tar.gz with the function's return value"
        )
    archive_uri = function_job.output_archive_uri(str(artifacts))
    data = _s3(
        f"reading the function's return value from {archive_uri}", task.hook.get_object, archive_uri
    )
    members = _archive_members(data)
    report = json.loads(members.get(function_job.REPORT, b"{}") or b"{}")
    name = function_job.result_file(task.serializer)
    if name not in members:
        raise AirflowException(f"{archive_uri} has no {name}: the runner wrote no return value")
    task.log.info(
        "Read %s()'s return value (%d bytes) from %s (the image ran Python %s)",
        task.python_callable.__name__,
        len(members[name]),
        archive_uri,
        report.get("python_full") or report.get("python") or "unknown",
    )
    if task.serializer == "cloudpickle":
        image_python = report.get("python")
        if image_python != python_version():
            raise AirflowFailException(
                f"serializer='cloudpickle': the image ran Python {image_python}, this worker "
                f"runs {python_version()}; a pickle is not read across versions"
            )
        return _cloudpickle().loads(members[name])
    return strict_json(json.loads(members[name]))


def _archive_members(data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                out[member.name.removeprefix("./")] = handle.read()
    return out


def default_job_name(task: Any, context: Context) -> str:
    """The task id (a mapped instance's index appended), in the letters Batch allows."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", str(task.task_id)).strip("-") or "function"
    map_index = getattr(context.get("ti"), "map_index", -1)
    if isinstance(map_index, int) and map_index >= 0:
        suffix = f"-{map_index}"
        return base[: 128 - len(suffix)] + suffix
    return base[:128]
