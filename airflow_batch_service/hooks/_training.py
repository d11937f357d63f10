"""The hook's calls around a service job's training job: its logs (CloudWatch Logs) and its
result (SageMaker DescribeTrainingJob).

Batch runs each attempt as a SageMaker training job, which logs to CloudWatch Logs: the waits
stream those logs and read the result from SageMaker, on the same connection as the Batch
calls (``client("logs")``, ``client("sagemaker")``). Each blocking call has its ``async`` twin
beside it, on the process's shared client; the pair share how a response is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batch_service.hooks._base import BatchServiceHookBase, strip_metadata


def _log_events_params(log_group: str, stream: str, token: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "logGroupName": log_group,
        "logStreamName": stream,
        "startFromHead": True,
    }
    if token:
        params["nextToken"] = token
    return params


def _stream_names(response: Mapping[str, Any]) -> list[str]:
    return [s["logStreamName"] for s in response.get("logStreams", [])]


def _events_page(response: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    return response.get("events", []), response.get("nextForwardToken")


def _training_job_name(name: str) -> str:
    """A training job's name from its name or ARN (an ARN's last part is its name)."""
    return name.rsplit("/", 1)[-1]


class TrainingJobCalls(BatchServiceHookBase):
    """CloudWatch Logs and SageMaker calls for the training job behind an attempt."""

    def describe_log_streams(self, log_group: str, prefix: str) -> list[str]:
        """Names of the log streams of ``log_group`` starting with ``prefix``."""
        return _stream_names(
            self.client("logs").describe_log_streams(
                logGroupName=log_group, logStreamNamePrefix=prefix
            )
        )

    async def adescribe_log_streams(self, log_group: str, prefix: str) -> list[str]:
        return _stream_names(
            await self._acall(
                "logs", "describe_log_streams", logGroupName=log_group, logStreamNamePrefix=prefix
            )
        )

    def get_log_events(
        self, log_group: str, stream: str, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One GetLogEvents page from the head (or ``token``): ``(events, nextForwardToken)``."""
        return _events_page(
            self.client("logs").get_log_events(**_log_events_params(log_group, stream, token))
        )

    async def aget_log_events(
        self, log_group: str, stream: str, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        return _events_page(
            await self._acall(
                "logs", "get_log_events", **_log_events_params(log_group, stream, token)
            )
        )

    def describe_training_job(self, name: str) -> dict[str, Any]:
        """SageMaker DescribeTrainingJob (by name; an ARN's last part is its name)."""
        return strip_metadata(
            self.client("sagemaker").describe_training_job(TrainingJobName=_training_job_name(name))
        )

    async def adescribe_training_job(self, name: str) -> dict[str, Any]:
        return strip_metadata(
            await self._acall(
                "sagemaker", "describe_training_job", TrainingJobName=_training_job_name(name)
            )
        )
