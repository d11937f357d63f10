"""Hooks. Import ``BatchServiceJobHook`` from ``airflow_batch_service.hooks.batch_service``;
the name is also available here, loaded on first use so importing the package stays cheap."""

from __future__ import annotations

from typing import Any

__all__ = ["BatchServiceJobHook"]


def __getattr__(name: str) -> Any:
    if name == "BatchServiceJobHook":
        from airflow_batch_service.hooks.batch_service import (  # lazy: package stays boto3-free
            BatchServiceJobHook,
        )

        return BatchServiceJobHook
    raise AttributeError(name)
