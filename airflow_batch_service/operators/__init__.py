"""Operators. Import from ``airflow_batch_service.operators.batch_service``;
``BatchSubmitServiceJobOperator`` is also available here, loaded on first use."""

from airflow_batch_service.core.lazy import lazy_names

__all__ = ["BatchSubmitServiceJobOperator"]
__getattr__ = lazy_names(__name__, {"BatchSubmitServiceJobOperator": "batch_service"})
