"""Sensors. Import from ``airflow_batch_service.sensors.batch_service``; ``BatchServiceJobSensor``
is also available here, loaded on first use."""

from airflow_batch_service.core.lazy import lazy_names

__all__ = ["BatchServiceJobSensor"]
__getattr__ = lazy_names(__name__, {"BatchServiceJobSensor": "batch_service"})
