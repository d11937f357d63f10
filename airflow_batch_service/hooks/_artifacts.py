"""The hook's S3 calls for ``@task.batch_service``: the function's files up, its result down.

A decorated task uploads the function's source, arguments and runner before it submits, and
reads the return value from the job's ``output.tar.gz`` after it succeeds. Both go through
the hook like every other AWS call (``client("s3")`` on the task's ``aws`` connection, with
its endpoint overrides), so the emulator, a VPC endpoint and the connection's retries apply
alike. Blocking only: the decorator's calls run in the worker, never in the triggerer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batch_service.core.function_job import split_s3_uri
from airflow_batch_service.hooks._base import BatchServiceHookBase

_MISSING = ("404", "NoSuchKey", "NotFound")


class ArtifactCalls(BatchServiceHookBase):
    """S3 objects under an ``s3://`` URI: head, put, get."""

    def head_object(self, uri: str) -> dict[str, Any] | None:
        """HeadObject of ``uri``; None when there is no such object."""
        bucket, key = split_s3_uri(uri)
        client = self.client("s3")
        try:
            response = client.head_object(Bucket=bucket, Key=key)
        except client.exceptions.ClientError as err:
            if str(err.response.get("Error", {}).get("Code")) in _MISSING:
                return None
            raise
        return dict(response)

    def put_object(self, uri: str, body: bytes, metadata: Mapping[str, str] | None = None) -> None:
        """PutObject of ``body`` at ``uri`` (with user ``metadata``)."""
        bucket, key = split_s3_uri(uri)
        self.client("s3").put_object(
            Bucket=bucket, Key=key, Body=body, Metadata=dict(metadata or {})
        )

    def get_object(self, uri: str) -> bytes:
        """The bytes of the object at ``uri``."""
        bucket, key = split_s3_uri(uri)
        return bytes(self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
