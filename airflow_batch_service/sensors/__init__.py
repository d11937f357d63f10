"""Sensors. Import from ``airflow_batch_service.sensors.batch_service``; ``BatchServiceJobSensor``
is also available here, loaded on first use."""

from __future__ import annotations

from typing import Any

__all__ = ["BatchServiceJobSensor"]


def __getattr__(name: str) -> Any:
    if name == "BatchServiceJobSensor":
        from airflow_batch_service.sensors.batch_service import (  # lazy: siblings stay cheap
            BatchServiceJobSensor,
        )

        return BatchServiceJobSensor
    raise AttributeError(name)
