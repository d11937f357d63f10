"""The Airflow plugin: registered by the ``airflow.plugins`` entry point in pyproject.toml.

Airflow imports this module in every process that loads plugins (scheduler, workers,
dag-processor, triggerer, api-server), so it imports nothing but ``AirflowPlugin`` and
Airflow's version: the FastAPI app (``app``) is imported and built only when the api-server
asks for ``fastapi_apps``. (The provider.yaml
``plugins:`` key would not do: under the default lazy provider discovery Airflow does not load
providers' plugins; the entry point it always reads.)

Airflow >= 3.1: a FastAPI app under ``/batch-service`` and two ``external_views``:

- "Service jobs", ``destination: task_instance``: a tab on every task instance page, an
  iframe of ``batch-service/ti?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}``
  (the UI fills the placeholders);
- "Batch queues", ``destination: nav``, under Browse: ``batch-service/queues``.

Airflow 3.0 has no ``external_views``; there the plugin registers nothing at all (no app,
no views), so 3.0 loads it without error and shows nothing.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.providers.common.compat.sdk import AirflowPlugin

URL_PREFIX = "/batch-service"
TAB_ROUTE = "batch-service-jobs"
QUEUES_ROUTE = "batch-service-queues"


def ui_supported() -> bool:
    """True on Airflow >= 3.1 (``external_views`` and TI tabs exist)."""
    parts = []
    for piece in str(AIRFLOW_VERSION).split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts) >= (3, 1)


class BatchServiceUIPlugin(AirflowPlugin):
    """Service-job timelines on task instances, and a queue capacity page."""

    name = "airflow_batch_service_ui"

    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        if not ui_supported():
            return []
        from airflow_batch_service.plugins.app import (  # lazy: FastAPI, api-server only
            create_app,
        )

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "AWS Batch service jobs"}]

    @cached_property
    def external_views(self) -> list[dict[str, Any]]:  # type: ignore[override]
        if not ui_supported():
            return []
        icon = URL_PREFIX.lstrip("/") + "/icon.svg"
        return [
            {
                "name": "Service jobs",
                "href": (
                    URL_PREFIX.lstrip("/")
                    + "/ti?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}"
                ),
                "destination": "task_instance",
                "url_route": TAB_ROUTE,
                "icon": icon,
                "icon_dark_mode": icon + "?dark=true",
            },
            {
                "name": "Batch queues",
                "href": URL_PREFIX.lstrip("/") + "/queues",
                "destination": "nav",
                "category": "browse",
                "url_route": QUEUES_ROUTE,
                "icon": icon,
                "icon_dark_mode": icon + "?dark=true",
            },
        ]
