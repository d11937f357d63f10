"""The plugin's FastAPI app, mounted by the api-server under ``/batch-service``.

Routes (HTML unless noted):

- ``GET /ti?dag_id&run_id&task_id&map_index``: the "Service jobs" tab of a task instance
  (``map_index`` ``-1``, a number, or ``all``: every map index of the task).
- ``GET /queues?conn_id&refresh``: the queue page.
- ``GET /icon.svg``: the icon of both entries (no data, no authorization).

Authorization (plugin apps get none by themselves): every data route depends on Airflow's own
``airflow.api_fastapi.core_api.security`` checks, which read the user from the JWT (the
``Authorization: Bearer`` header, or the ``_token`` cookie the UI's iframe sends) through the
configured auth manager:

- the tab: ``requires_access_dag("GET", TASK_INSTANCE)`` and ``("GET", XCOM)`` for the
  ``dag_id`` asked for (what reading the task instance and its XComs in the UI takes);
- the queue page: ``requires_access_view(CLUSTER_ACTIVITY)`` (the read-only view of the
  installation's capacity, as Airflow's own cluster-activity page), and the chosen connection
  must be listed in ``[batch_service] ui_conn_ids`` (default ``aws_default``) or readable by
  the user (``is_authorized_connection(GET)``): the page calls AWS with the api-server's
  credentials for that connection. Waiting jobs of this deployment link to their task
  instances only for viewers who may read that DAG.

No token: 401; a token without the permission: 403 (as Airflow's own API answers).

What the routes show is gathered elsewhere: ``tab_data`` (the tab's lanes), ``queue_data``
(the queue views), ``access`` (the connection and DAG checks the route dependencies cannot
make), through ``services`` (one hook per connection, AWS answers cached as ``cache`` says);
the HTML comes from ``render_tab`` and ``render_queues``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView, DagAccessEntity
from airflow.api_fastapi.core_api.security import (
    get_user,
    requires_access_dag,
    requires_access_view,
)
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from airflow_batch_service.plugins import render, render_queues, render_tab
from airflow_batch_service.plugins.access import choose_connection
from airflow_batch_service.plugins.queue_data import queue_views
from airflow_batch_service.plugins.queues import QueueView
from airflow_batch_service.plugins.services import Services
from airflow_batch_service.plugins.tab_data import lanes_for_task_instance
from airflow_batch_service.plugins.timeline import JobLane
from airflow_batch_service.plugins.values import error_text

__all__ = ["Services", "create_app"]

#: Default auto-refresh of the queue page, seconds.
QUEUE_REFRESH = 10

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="{color}" '
    'stroke-width="2" stroke-linecap="round"><rect x="3" y="4" width="12" height="4" rx="1"/>'
    '<rect x="7" y="10" width="14" height="4" rx="1"/><rect x="3" y="16" width="9" height="4" rx="1"/></svg>'
)


def _theme(request: Request) -> str | None:
    value = request.query_params.get("theme")
    return value if value in ("light", "dark") else None


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def _task_instances(
    svc: Services, dag_id: str, run_id: str, task_id: str, wanted: int | None
) -> list[Any]:
    tis = svc.metadata.task_instances(dag_id, run_id, task_id, wanted)
    if not tis and wanted == -1:
        tis = svc.metadata.task_instances(dag_id, run_id, task_id, None)  # a mapped task
    return list(tis)


def create_app(services: Services | None = None) -> FastAPI:
    """The FastAPI app (Airflow >= 3.1 api-server). ``services`` is for tests."""
    app = FastAPI(
        title="airflow-batch-service UI",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services or Services()

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        words = {401: "Not signed in", 403: "Not allowed", 404: "Not found"}.get(
            exc.status_code, "Error"
        )
        return _html(
            render.message_page(
                f"{exc.status_code} {words}", str(exc.detail), theme=_theme(request)
            ),
            exc.status_code,
        )

    @app.get("/icon.svg", include_in_schema=False)
    def icon(dark: bool = False) -> Response:
        color = "#e6e8eb" if dark else "#1f2937"
        return Response(
            ICON.format(color=color),
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get(
        "/ti",
        response_class=HTMLResponse,
        dependencies=[
            Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)),
            Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),
        ],
    )
    def task_instance_tab(
        request: Request, dag_id: str, run_id: str, task_id: str, map_index: str = "-1"
    ) -> HTMLResponse:
        svc: Services = request.app.state.services
        theme = _theme(request)
        wanted: int | None
        if map_index == "all":
            wanted = None
        else:
            try:
                wanted = int(map_index)
            except ValueError:  # "{MAP_INDEX}" left unreplaced, or empty
                wanted = -1
        tis = _task_instances(svc, dag_id, run_id, task_id, wanted)
        if not tis and " " in run_id:
            # Airflow 3.1 puts {RUN_ID} into the tab's URL unencoded, so the "+" of a manual
            # run's "...+00:00" arrives as a space (run ids hold no spaces: run_id_pattern).
            run_id = run_id.replace(" ", "+")
            tis = _task_instances(svc, dag_id, run_id, task_id, wanted)
        if not tis:
            raise HTTPException(404, f"No task instance {dag_id} / {task_id} / {run_id}")
        notes: list[str] = []
        lanes: list[JobLane] = []
        provider_tis = [ti for ti in tis if ti.is_provider_task]
        if not provider_tis:
            body = render_tab.tab_page(
                title=f"Service jobs of {task_id}",
                lanes=[],
                notes=[
                    "This task is not a task of airflow-batch-service: it runs no AWS Batch service job."
                ],
                theme=theme,
            )
            return _html(body)
        for ti in provider_tis:
            ti_lanes, ti_notes = lanes_for_task_instance(svc, ti)
            lanes.extend(ti_lanes)
            notes.extend(ti_notes)
        mapped = len(tis) > 1 or any(ti.map_index >= 0 for ti in tis)
        all_url = None
        if mapped and wanted is not None:
            params = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": "all"}
            if theme:
                params["theme"] = theme
            all_url = "ti?" + urlencode(params)
        title = f"Service jobs of {task_id}" + (
            f" [{wanted}]" if wanted is not None and wanted >= 0 else ""
        )
        if wanted is None:
            title += " (every map index)"
        return _html(
            render_tab.tab_page(
                title=title, lanes=lanes, notes=notes, all_indexes_url=all_url, theme=theme
            )
        )

    @app.get(
        "/queues",
        response_class=HTMLResponse,
        dependencies=[Depends(requires_access_view(AccessView.CLUSTER_ACTIVITY))],
    )
    def queues_page(
        request: Request,
        user: Any = Depends(get_user),  # noqa: B008 (FastAPI's dependency idiom)
        conn_id: str | None = None,
        refresh: int | None = None,
    ) -> HTMLResponse:
        svc: Services = request.app.state.services
        theme = _theme(request)
        offered, conn_id = choose_connection(user, conn_id, svc.metadata.aws_conn_ids)
        views: list[QueueView] = []
        errors: list[str] = []
        if conn_id is not None:
            try:
                views = queue_views(svc, conn_id, user)
            except Exception as exc:
                errors.append(f"Could not list the queues through {conn_id!r}: {error_text(exc)}")
        every = QUEUE_REFRESH if refresh is None else max(0, int(refresh))
        body = render_queues.queues_page(
            conn_ids=offered,
            conn_id=conn_id,
            views=views,
            errors=errors,
            generated_ms=svc.now_ms(),
            refresh=(every or None) if conn_id is not None else None,
            theme=theme,
        )
        return _html(body)

    return app
