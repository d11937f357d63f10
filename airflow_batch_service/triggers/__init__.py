"""Triggers. Import from ``airflow_batch_service.triggers.batch_service``;
``BatchServiceJobTrigger`` and ``BatchServiceJobEventTrigger`` (from ``service_job_events``) are
also available here, loaded on first use."""

from airflow_batch_service.core.lazy import lazy_names

__all__ = ["BatchServiceJobEventTrigger", "BatchServiceJobTrigger"]
__getattr__ = lazy_names(
    __name__,
    {
        "BatchServiceJobTrigger": "batch_service",
        "BatchServiceJobEventTrigger": "service_job_events",
    },
)
