"""The hook's calls on the resources around the jobs: service environments, job queues,
quota shares, snapshots.

Two kinds of caller, both uncached here on purpose. The operations operators, sensors and
triggers (``*/service_operations.py``) create service environments and wait for a status,
so each describe must see each change. The UI plugin's queue page and "Service jobs" tab
(``airflow_batch_service.plugins``) read queues, environments and snapshots, and cache them
for a few seconds per api-server themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_batch_service.hooks._base import (
    BatchServiceHookBase,
    first,
    pages,
    strip_metadata,
    without_none,
)


class ServiceResourceCalls(BatchServiceHookBase):
    """Service environments, job queues, quota shares and queue snapshots, never cached."""

    # -- service environments and operations (the operations tasks) ---------------------

    def create_service_environment(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """CreateServiceEnvironment with an API-shaped ``request`` (None dropped). Returns
        ``{"serviceEnvironmentName", "serviceEnvironmentArn"}``."""
        return strip_metadata(self.conn.create_service_environment(**without_none(request)))

    def describe_service_environment(self, service_environment: str) -> dict[str, Any] | None:
        """DescribeServiceEnvironments for one environment (name or ARN), or None if it does
        not exist. Not cached."""
        response = self.conn.describe_service_environments(
            serviceEnvironments=[service_environment]
        )
        return first(response, "serviceEnvironments")

    def describe_job_queue_now(self, job_queue: str) -> dict[str, Any] | None:
        """DescribeJobQueues for one queue (name or ARN), or None if it does not exist; unlike
        :meth:`describe_job_queue`, never cached (a status wait must see each change)."""
        return first(self.conn.describe_job_queues(jobQueues=[job_queue]), "jobQueues")

    # -- read-only calls of the UI plugin -----------------------------------------------

    def describe_service_job_queues(self) -> list[dict[str, Any]]:
        """Every SAGEMAKER_TRAINING job queue the connection can see (DescribeJobQueues,
        every page; container-job queues left out)."""
        return [
            queue
            for page in pages(self.conn.describe_job_queues)
            for queue in page.get("jobQueues") or []
            if queue.get("jobQueueType") == "SAGEMAKER_TRAINING"
        ]

    def describe_service_environments(self, environments: Iterable[str]) -> list[dict[str, Any]]:
        """DescribeServiceEnvironments for these names or ARNs, in one call per 100."""
        names = list(dict.fromkeys(environments))
        found: list[dict[str, Any]] = []
        for start in range(0, len(names), 100):
            response = self.conn.describe_service_environments(
                serviceEnvironments=names[start : start + 100]
            )
            found.extend(response.get("serviceEnvironments") or [])
        return found

    def get_job_queue_snapshot(self, job_queue: str) -> dict[str, Any]:
        """GetJobQueueSnapshot: the first RUNNABLE jobs in order and the capacity in use."""
        return strip_metadata(self.conn.get_job_queue_snapshot(jobQueue=job_queue))

    def list_quota_shares(self, job_queue: str) -> list[dict[str, Any]]:
        """ListQuotaShares of a quota-share queue, every page."""
        return [
            share
            for page in pages(self.conn.list_quota_shares, jobQueue=job_queue)
            for share in page.get("quotaShares") or []
        ]
