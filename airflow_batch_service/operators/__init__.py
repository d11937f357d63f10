"""Operators. Import from ``airflow_batch_service.operators.batch_service``;
``BatchSubmitServiceJobOperator`` is also available here, loaded on first use."""

from __future__ import annotations

from typing import Any

__all__ = ["BatchSubmitServiceJobOperator"]


def __getattr__(name: str) -> Any:
    if name == "BatchSubmitServiceJobOperator":
        from airflow_batch_service.operators.batch_service import (  # lazy: siblings stay cheap
            BatchSubmitServiceJobOperator,
        )

        return BatchSubmitServiceJobOperator
    raise AttributeError(name)
