"""Hooks. Import ``BatchServiceJobHook`` from ``airflow_batch_service.hooks.batch_service``;
the name is also available here, loaded on first use so importing the package stays cheap."""

from airflow_batch_service.core.lazy import lazy_names

__all__ = ["BatchServiceJobHook"]
__getattr__ = lazy_names(__name__, {"BatchServiceJobHook": "batch_service"})
