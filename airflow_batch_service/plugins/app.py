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

AWS calls go through :class:`~airflow_batch_service.hooks.batch_service.BatchServiceJobHook`,
cached per api-server process: queue and environment descriptions for 60 s, snapshots and the
RUNNABLE list for 5 s, a finished job's describe for an hour, a job's tags for good (they never
change). A queue-page view therefore costs, per queue, GetJobQueueSnapshot and
ListServiceJobs(RUNNABLE) at most every 5 s, plus one DescribeServiceJob per front-of-queue job
never seen before (at most :data:`FRONT_DESCRIBES`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from airflow_batch_service.plugins import render
from airflow_batch_service.plugins.airflow_data import (
    AirflowMetadata,
    TaskInstanceInfo,
    ui_conn_ids,
    user_can_read_connection,
    user_can_read_dags,
)
from airflow_batch_service.plugins.queues import (
    TASK_TAG,
    QueueView,
    build_queue_view,
    parse_task_tag,
)
from airflow_batch_service.plugins.timeline import JobLane, LaneInput, build_lane, timeline_entries

#: Seconds a snapshot / RUNNABLE list / unfinished job describe is reused.
LIVE_TTL = 5.0
#: Seconds queue, environment, policy and quota-share descriptions are reused.
CONFIG_TTL = 60.0
#: Seconds a finished job's describe is reused (it no longer changes).
FINISHED_TTL = 3600.0
#: Front-of-queue jobs whose tags are read per queue (one describe each, once per job).
FRONT_DESCRIBES = 10
#: Earlier-try lookup: at most this many same-named jobs are described.
LOOKUP_LIMIT = 10
#: Default auto-refresh of the queue page, seconds.
QUEUE_REFRESH = 10

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="{color}" '
    'stroke-width="2" stroke-linecap="round"><rect x="3" y="4" width="12" height="4" rx="1"/>'
    '<rect x="7" y="10" width="14" height="4" rx="1"/><rect x="3" y="16" width="9" height="4" rx="1"/></svg>'
)


class TTLCache:
    """A small thread-safe cache of loaded values, each with its own time to live."""

    def __init__(self, max_items: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items
        self._clock = clock
        self.loads = 0

    def get(self, key: Any, ttl: float | Callable[[Any], float], load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        value = load()
        self.loads += 1
        life = ttl(value) if callable(ttl) else ttl
        with self._lock:
            self._items[key] = (now + life, value)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _default_hook(conn_id: str, region: str | None) -> Any:
    from airflow_batch_service.hooks.batch_service import BatchServiceJobHook

    return BatchServiceJobHook(aws_conn_id=conn_id, region_name=region)


class Services:
    """What the routes use; tests replace ``metadata`` and ``hook_factory``."""

    def __init__(
        self,
        metadata: Any = None,
        hook_factory: Callable[[str, str | None], Any] | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.metadata = metadata if metadata is not None else AirflowMetadata()
        self.hook_factory = hook_factory or _default_hook
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.cache = TTLCache()
        self._hooks: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def hook(self, conn_id: str, region: str | None = None) -> Any:
        key = (conn_id, region)
        with self._lock:
            if key not in self._hooks:
                self._hooks[key] = self.hook_factory(conn_id, region)
            return self._hooks[key]

    def describe(self, conn_id: str, region: str | None, job_id: str) -> dict[str, Any]:
        def ttl(value: Mapping[str, Any]) -> float:
            return FINISHED_TTL if value.get("status") in ("SUCCEEDED", "FAILED") else LIVE_TTL

        return self.cache.get(
            ("describe", conn_id, region, job_id),
            ttl,
            lambda: self.hook(conn_id, region).describe_service_job(job_id),
        )


def _error_text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 400 else text[:400] + "..."


def _job_id(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
    if isinstance(value, Mapping) and value.get("jobId"):
        return str(value["jobId"])
    return None


def _partition(region: str | None) -> str:
    region = region or ""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def console_links(
    region: str | None, aws_domain: str | None
) -> Callable[[str, str | None], list[tuple[str, str]]]:
    """The URL formats of ``links.batch_service`` (the task's extra links), for any job."""
    from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink

    from airflow_batch_service.links.batch_service import (
        BatchServiceJobDetailsLink,
        SageMakerTrainingJobLink,
        TrainingJobLogsLink,
    )

    domain = aws_domain or BaseAwsLink.get_aws_domain(_partition(region))

    def links_for(job_id: str, training_job_name: str | None) -> list[tuple[str, str]]:
        if not region or not domain:
            return []
        out = [
            (
                "Batch service job",
                BatchServiceJobDetailsLink().format_link(
                    region_name=region, aws_domain=domain, job_id=job_id
                ),
            )
        ]
        if training_job_name:
            kwargs = {
                "region_name": region,
                "aws_domain": domain,
                "training_job_name": training_job_name,
            }
            out.append(("SageMaker training job", SageMakerTrainingJobLink().format_link(**kwargs)))
            out.append(("Training job logs", TrainingJobLogsLink().format_link(**kwargs)))
        return [(name, url) for name, url in out if url]

    return links_for


# ------------------------------------------------------------------------------- the tab


def _try_of(created_ms: int | None, ti: TaskInstanceInfo) -> int:
    tries = ti.tries()
    if created_ms is not None:
        for t in tries:
            if (
                t.start_ms is not None
                and t.start_ms <= created_ms
                and (t.end_ms is None or created_ms <= t.end_ms)
            ):
                return t.try_number
        earlier = [t for t in tries if t.start_ms is not None and t.start_ms <= created_ms]
        if earlier:
            return earlier[-1].try_number
    return ti.try_number


def lanes_for_task_instance(
    services: Services, ti: TaskInstanceInfo
) -> tuple[list[JobLane], list[str]]:
    """Every service job this task instance submitted or watched, in every try (module doc of
    ``plugins`` and ``docs/ui.md``: XComs of the current try, the durable task tag for earlier
    tries of a submit task, the rendered ``job_id`` of a sensor)."""
    from airflow_batch_service._shared.durable import TaskKey

    notes: list[str] = []
    rendered, xcoms = ti.rendered, ti.xcoms
    conn_id = str(rendered.get("aws_conn_id") or "aws_default")
    link_info = (
        xcoms.get("batch_service_job_details")
        if isinstance(xcoms.get("batch_service_job_details"), Mapping)
        else {}
    )
    region = rendered.get("region_name") or (link_info or {}).get("region_name") or None
    role = (
        "watched" if (ti.operator or "").endswith("Sensor") or "job_id" in rendered else "submitted"
    )

    observed = timeline_entries(xcoms.get("batch_service_timeline"))
    current: dict[str, str] = {}  # job id -> why we know it
    for job in observed:
        current.setdefault(job, "timeline")
    sources: list[tuple[str, Any]] = [
        (key, xcoms.get(key)) for key in ("return_value", "summary", "job_arn")
    ]
    sources += [("link", (link_info or {}).get("job_id")), ("job_id", rendered.get("job_id"))]
    for source, value in sources:
        found = _job_id(value)
        if found:
            current.setdefault(found, source)

    earlier: dict[str, dict[str, Any]] = {}
    job_name, job_queue = rendered.get("job_name"), rendered.get("job_queue")
    if role == "submitted" and job_name and job_queue and (len(ti.tries()) > 1 or not current):
        key = TaskKey(ti.dag_id, ti.task_id, ti.run_id, ti.map_index).tag_value()
        try:
            earlier = services.cache.get(
                ("by-name", conn_id, region, str(job_queue), str(job_name), key),
                LIVE_TTL,
                lambda: _jobs_by_task_tag(
                    services, conn_id, region, str(job_queue), str(job_name), key
                ),
            )
        except Exception as exc:
            notes.append(f"Earlier tries' jobs could not be looked up: {_error_text(exc)}")
    elif role == "submitted" and len(ti.tries()) > 1 and not (job_name and job_queue):
        notes.append(
            "Earlier tries' jobs cannot be looked up: the rendered job name or queue is unknown."
        )

    links_for = console_links(region, (link_info or {}).get("aws_domain"))
    now = services.now_ms()
    lanes: list[JobLane] = []
    for job_id in list(dict.fromkeys([*current, *earlier])):
        describe: dict[str, Any] | None = earlier.get(job_id)
        error = None
        if describe is None:
            try:
                describe = services.describe(conn_id, region, job_id)
            except Exception as exc:
                error = f"DescribeServiceJob failed: {_error_text(exc)}"
        created = (describe or {}).get("createdAt")
        try_number = (
            ti.try_number if job_id in current and job_id in observed else _try_of(created, ti)
        )
        lanes.append(
            build_lane(
                LaneInput(
                    job_id=job_id,
                    describe=describe,
                    transitions=observed.get(job_id, ()),
                    try_number=try_number,
                    map_index=ti.map_index,
                    role=role,
                    error=error,
                ),
                now_ms=now,
                links_for=links_for,
            )
        )
    lanes.sort(key=lambda lane: (lane.try_number or 0, lane.start_ms))
    return lanes, notes


def _jobs_by_task_tag(
    services: Services, conn_id: str, region: str | None, job_queue: str, job_name: str, tag: str
) -> dict[str, dict[str, Any]]:
    hook = services.hook(conn_id, region)
    summaries = list(
        hook.list_service_jobs(
            job_queue=job_queue, filters=[{"name": "JOB_NAME", "values": [job_name]}]
        )
    )
    summaries.sort(key=lambda s: s.get("createdAt") or 0, reverse=True)
    found: dict[str, dict[str, Any]] = {}
    for summary in summaries[:LOOKUP_LIMIT]:
        if summary.get("jobName") != job_name:
            continue
        describe = services.describe(conn_id, region, str(summary["jobId"]))
        if (describe.get("tags") or {}).get(TASK_TAG) == tag:
            found[str(describe["jobId"])] = describe
    return found


# ------------------------------------------------------------------------------- queues


def _runnable_jobs(hook: Any, job_queue: str) -> list[dict[str, Any]]:
    return list(hook.list_service_jobs(job_queue=job_queue, job_status="RUNNABLE", max_items=100))


def _job_tags(hook: Any, job_id: str) -> dict[str, Any]:
    return dict(hook.describe_service_job(job_id).get("tags") or {})


def queue_views(services: Services, conn_id: str, user: Any) -> list[QueueView]:
    hook = services.hook(conn_id, None)
    cache = services.cache
    queues = cache.get(("queues", conn_id), CONFIG_TTL, hook.describe_service_job_queues)
    env_names = sorted(
        {
            str(o.get("serviceEnvironment"))
            for q in queues
            for o in q.get("serviceEnvironmentOrder") or []
        }
    )
    environments = (
        cache.get(
            ("envs", conn_id, tuple(env_names)),
            CONFIG_TTL,
            lambda: hook.describe_service_environments(env_names),
        )
        if env_names
        else []
    )
    now = services.now_ms()
    prepared = []
    owners: dict[str, Any] = {}
    for queue in sorted(queues, key=lambda q: str(q.get("jobQueueName"))):
        arn = str(queue.get("jobQueueArn") or queue.get("jobQueueName"))
        errors: list[str] = []
        order = sorted(
            queue.get("serviceEnvironmentOrder") or [], key=lambda o: o.get("order") or 0
        )
        wanted = {str(o.get("serviceEnvironment")) for o in order}
        envs = [
            e
            for e in environments
            if e.get("serviceEnvironmentArn") in wanted or e.get("serviceEnvironmentName") in wanted
        ]
        snapshot: dict[str, Any] | None = None
        runnable: list[dict[str, Any]] = []
        quota_shares = None
        try:
            snapshot = cache.get(
                ("snapshot", conn_id, arn), LIVE_TTL, partial(hook.get_job_queue_snapshot, arn)
            )
        except Exception as exc:
            errors.append(f"GetJobQueueSnapshot failed: {_error_text(exc)}")
        try:
            runnable = cache.get(
                ("runnable", conn_id, arn),
                LIVE_TTL,
                partial(_runnable_jobs, hook, arn),
            )
        except Exception as exc:
            errors.append(f"ListServiceJobs failed: {_error_text(exc)}")
        policy_arn = queue.get("schedulingPolicyArn")
        if policy_arn:
            try:
                policy = hook.describe_scheduling_policy(str(policy_arn)) or {}
                if policy.get("quotaSharePolicy") is not None:
                    quota_shares = cache.get(
                        ("quota-shares", conn_id, arn),
                        CONFIG_TTL,
                        partial(hook.list_quota_shares, arn),
                    )
            except Exception as exc:
                errors.append(f"Quota shares could not be read: {_error_text(exc)}")
        tags: dict[str, dict[str, Any]] = {}
        front = [
            str(j.get("jobArn"))
            for j in ((snapshot or {}).get("frontOfQueue") or {}).get("jobs") or []
        ]
        if not front:
            front = [
                str(s.get("jobArn"))
                for s in sorted(runnable, key=lambda s: s.get("createdAt") or 0)
            ]
        for job_arn in front[:FRONT_DESCRIBES]:
            try:
                tags[job_arn] = cache.get(
                    ("tags", conn_id, job_arn),
                    FINISHED_TTL * 24,
                    partial(_job_tags, hook, job_arn),
                )
            except Exception as exc:
                errors.append(
                    f"DescribeServiceJob {job_arn.rsplit('/', 1)[-1]} failed: {_error_text(exc)}"
                )
                break
            owner = parse_task_tag(tags[job_arn].get(TASK_TAG))
            if owner is not None:
                owners[job_arn] = owner
        prepared.append((queue, envs, snapshot, runnable, tags, quota_shares, errors))

    known = services.metadata.existing_tasks(o.key for o in owners.values()) if owners else set()
    visible = (
        user_can_read_dags(user, sorted({o.dag_id for o in owners.values()})) if owners else set()
    )
    return [
        build_queue_view(
            queue,
            environments=envs,
            snapshot=snapshot,
            runnable=runnable,
            tags=tags,
            quota_shares=quota_shares,
            known_tasks=known,
            visible_dags=visible,
            now_ms=now,
            errors=errors,
        )
        for queue, envs, snapshot, runnable, tags, quota_shares, errors in prepared
    ]


# ------------------------------------------------------------------------------- the app


def _theme(request: Request) -> str | None:
    value = request.query_params.get("theme")
    return value if value in ("light", "dark") else None


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def create_app(services: Services | None = None) -> FastAPI:
    """The FastAPI app (Airflow >= 3.1 api-server). ``services`` is for tests."""
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        AccessView,
        DagAccessEntity,
    )
    from airflow.api_fastapi.core_api.security import (
        get_user,
        requires_access_dag,
        requires_access_view,
    )

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

    def _task_instances(
        svc: Services, dag_id: str, run_id: str, task_id: str, wanted: int | None
    ) -> list[Any]:
        tis = svc.metadata.task_instances(dag_id, run_id, task_id, wanted)
        if not tis and wanted == -1:
            tis = svc.metadata.task_instances(dag_id, run_id, task_id, None)  # a mapped task
        return list(tis)

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
            body = render.tab_page(
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
            from urllib.parse import urlencode

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
            render.tab_page(
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
        user: Any = Depends(get_user),  # noqa: B008 (get_user is imported in create_app)
        conn_id: str | None = None,
        refresh: int | None = None,
    ) -> HTMLResponse:
        svc: Services = request.app.state.services
        theme = _theme(request)
        allowed = ui_conn_ids()
        try:
            offered_extra = [c for c in svc.metadata.aws_conn_ids() if c not in allowed]
        except Exception:
            offered_extra = []
        offered = allowed + [c for c in offered_extra if user_can_read_connection(user, c)]
        if conn_id is None and len(offered) == 1:
            conn_id = offered[0]
        if (
            conn_id is not None
            and conn_id not in allowed
            and not user_can_read_connection(user, conn_id)
        ):
            raise HTTPException(
                403,
                f"Connection {conn_id!r} is not in [batch_service] ui_conn_ids and you may not read it",
            )
        if conn_id is not None and conn_id not in offered:
            offered.append(conn_id)
        views: list[QueueView] = []
        errors: list[str] = []
        if conn_id is not None:
            try:
                views = queue_views(svc, conn_id, user)
            except Exception as exc:
                errors.append(f"Could not list the queues through {conn_id!r}: {_error_text(exc)}")
        every = QUEUE_REFRESH if refresh is None else max(0, int(refresh))
        body = render.queues_page(
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
