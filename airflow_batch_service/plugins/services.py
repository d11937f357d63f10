"""What the routes use: the metadata reader, one hook per connection, a clock and the cache.

One :class:`Services` per app (``app.state.services``), so a test hands the app fakes for the
metadata DB and for AWS, and a fixed clock, and the routes run unchanged. It also holds the
one AWS read both pages share, a job's describe, cached as long as it can stay true.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_batch_service.hooks.batch_service import BatchServiceJobHook
from airflow_batch_service.plugins.airflow_data import AirflowMetadata
from airflow_batch_service.plugins.cache import FINISHED_TTL, LIVE_TTL, TTLCache


def default_hook(conn_id: str, region: str | None) -> Any:
    return BatchServiceJobHook(aws_conn_id=conn_id, region_name=region)


class Services:
    """What the routes use; tests replace ``metadata``, ``hook_factory`` and ``now_ms``."""

    def __init__(
        self,
        metadata: Any = None,
        hook_factory: Callable[[str, str | None], Any] | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.metadata = metadata if metadata is not None else AirflowMetadata()
        self.hook_factory = hook_factory or default_hook
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.cache = TTLCache()
        self._hooks: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def hook(self, conn_id: str, region: str | None = None) -> Any:
        key = (conn_id, region)
        with self._lock:
            if key not in self._hooks:
                self._hooks[key] = self.hook_factory(conn_id, region)
            return self._hooks[key]

    def describe(self, conn_id: str, region: str | None, job_id: str) -> dict[str, Any]:
        def ttl(value: Mapping[str, Any]) -> float:
            return FINISHED_TTL if value.get("status") in ("SUCCEEDED", "FAILED") else LIVE_TTL

        return self.cache.get(
            ("describe", conn_id, region, job_id),
            ttl,
            lambda: self.hook(conn_id, region).describe_service_job(job_id),
        )
