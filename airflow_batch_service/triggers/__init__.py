"""Triggers. Import from ``airflow_batch_service.triggers.batch_service``;
``BatchServiceJobTrigger`` is also available here, loaded on first use."""

from __future__ import annotations

from typing import Any

__all__ = ["BatchServiceJobTrigger"]


def __getattr__(name: str) -> Any:
    if name == "BatchServiceJobTrigger":
        from airflow_batch_service.triggers.batch_service import (  # lazy: siblings stay cheap
            BatchServiceJobTrigger,
        )

        return BatchServiceJobTrigger
    raise AttributeError(name)
