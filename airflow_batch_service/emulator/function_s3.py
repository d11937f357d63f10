"""moto's S3 as a function run sees it: the channel's objects in, SageMaker's archives out.

The emulator lives in moto's process (``mock_aws`` or the server), so a run reads and writes
moto's S3 backend directly, with no network and no credentials. As SageMaker does, every
object under the channel's ``S3Uri`` prefix lands at its key relative to the prefix, and the
archives go to ``<S3OutputPath>/<training job>/output/``. What goes wrong is worded as
SageMaker words it (``ClientError: ...``): the attempt's ``FailureReason``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends

from airflow_batch_service.emulator.container import RunFailure, split_s3_uri


def _backend(account_id: str) -> Any:
    return s3_backends[account_id]["global"]


def read_prefix(account_id: str, uri: str) -> dict[str, bytes]:
    """``{key relative to the prefix: content}`` of every object under ``uri``."""
    bucket_name, prefix = split_s3_uri(uri)
    backend = _backend(account_id)
    files: dict[str, bytes] = {}
    try:
        bucket = backend.get_bucket(bucket_name)
        keys = backend.list_objects(bucket, prefix or None, None, None, None)[0]
    except MissingBucket:
        keys = []
    for key in keys:
        relative = key.name[len(prefix) :].lstrip("/")
        if relative and not key.name.endswith("/"):
            files[relative] = key.value
    if not files:
        raise RunFailure(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
            "Please ensure that the bucket exists in the selected region, that objects exist "
            f'under that S3 prefix, and that the role has "s3:ListBucket" permissions on bucket '
            f'"{bucket_name}".'
        )
    return files


def write_objects(account_id: str, objects: Mapping[str, bytes]) -> None:
    """Put each ``{s3 URI: content}``; a missing bucket fails the upload as SageMaker's would."""
    backend = _backend(account_id)
    for uri, content in objects.items():
        bucket_name, key = split_s3_uri(uri)
        try:
            backend.put_object(bucket_name, key, content)
        except MissingBucket:
            raise RunFailure(
                f'ClientError: Data upload failed: the output bucket "{bucket_name}" of '
                f'"{uri}" does not exist.'
            ) from None
