"""The UI plugin's routes over HTTP (FastAPI's TestClient), with Airflow's real authorization.

The app is the one the api-server mounts, with Airflow's ``SimpleAuthManager`` signing and
checking the JWTs (the metadata DB is migrated: the DAG check looks up the DAG's team). The
metadata reads and the AWS hook are replaced by fakes (``support_ui``), so these tests need no
stack and no AWS; ``tests/integration/test_ui.py`` runs the same pages in a real Airflow with
the emulator.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.utils.session import create_session
from sqlalchemy import delete

from airflow_batch_service.plugins.ui import BatchServiceUIPlugin, ui_supported

from .support_ui import (
    DAG,
    RUN,
    TASK,
    TI_PARAMS,
    FakeHook,
    FakeMetadata,
    fake_ui_world,  # noqa: F401  (the ``world`` fixture)
    get_page,
    needs_31,
    service_job,
    signed_tokens,  # noqa: F401  (the ``auth`` fixture)
    task_instance_info,
)


@pytest.mark.parametrize(
    "path,params", [("/ti", TI_PARAMS), ("/queues", {"conn_id": "aws_default"})]
)
def test_refused_without_a_token_or_permission(
    world: dict[str, Any], path: str, params: dict[str, str]
) -> None:
    anonymous = get_page(world, path, None, **params)
    assert anonymous.status_code == 401
    assert "Not signed in" in anonymous.text and anonymous.headers["content-type"].startswith(
        "text/html"
    )
    forged = world["client"].get(path, params=params, headers={"Authorization": "Bearer not-a-jwt"})
    assert forged.status_code == 403
    nobody = get_page(world, path, "nobody", **params)
    assert nobody.status_code == 403 and "Forbidden" in nobody.text
    assert world["hook"].calls == []  # nothing was asked of AWS for a refused request


def test_cookie_token_is_accepted(world: dict[str, Any]) -> None:
    """The UI's iframe sends no header: the ``_token`` cookie is the identity."""
    client = world["client"]
    client.cookies.set("_token", world["tokens"]["viewer"])
    try:
        assert client.get("/ti", params=TI_PARAMS).status_code == 200
    finally:
        client.cookies.clear()


def test_tab_shows_every_try(world: dict[str, Any]) -> None:
    page = get_page(world, "/ti", "viewer", **TI_PARAMS)
    assert page.status_code == 200, page.text
    html = page.text
    assert page.headers["cache-control"] == "no-store"
    # try 2's job (XComs, observed) and try 1's job (found by its task tag), not the stranger
    assert 'data-job-id="job-2"' in html and 'data-job-id="job-1"' in html
    assert 'data-job-id="stranger"' not in html
    assert html.index('data-job-id="job-1"') < html.index('data-job-id="job-2"')
    assert 'data-try="1"' in html and 'data-try="2"' in html
    assert "2 service jobs over 2 tries" in html
    # job-2 was watched: its capacity requeue shows; job-1 (describe only) says it is not recorded
    assert 'data-kind="capacity"' in html and "not recorded for this try" in html
    assert "rule 1 RETRY" in html and "InternalServerError" in html
    assert (
        "https://console.aws.amazon.com/batch/home?region=us-east-1#service-jobs/detail/job-2"
        in html
    )
    assert "every map index" in html


def test_tab_url_with_the_run_id_unencoded(world: dict[str, Any]) -> None:
    """Airflow 3.1 fills the tab's ``run_id={RUN_ID}`` without encoding it: the "+" of
    "...+00:00" arrives as a space. The tab still finds the task instance (seen in a browser
    on 3.1.8: "404 No task instance" before the fix)."""
    raw = f"/ti?dag_id={DAG}&run_id={RUN}&task_id={TASK}&map_index=0"
    assert "+" in raw
    page = world["client"].get(
        raw, headers={"Authorization": f"Bearer {world['tokens']['viewer']}"}
    )
    assert page.status_code == 200, page.text
    assert 'data-job-id="job-2"' in page.text
    assert f"run_id={RUN.replace('+', '%2B').replace(':', '%3A')}" in page.text  # "every map index"


def test_tab_of_a_sensor_and_of_every_map_index(world: dict[str, Any]) -> None:
    svc = world["services"]
    sensor = task_instance_info(
        task_id="wait",
        operator="BatchServiceJobSensor",
        history=[],
        try_number=1,
        rendered={"aws_conn_id": "emu", "region_name": "us-east-1", "job_id": "job-1"},
        xcoms={"return_value": {"jobId": "job-1", "outcome": "SUCCEEDED"}},
    )
    svc.metadata.tis += [
        sensor,
        task_instance_info(map_index=1, xcoms={"return_value": "job-2"}, history=[]),
    ]
    page = get_page(world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id="wait", map_index="0")
    assert page.status_code == 200
    assert 'data-job-id="job-1"' in page.text and "watched" in page.text
    every = get_page(world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id=TASK, map_index="all")
    assert every.status_code == 200
    assert 'data-map-index="0"' in every.text and 'data-map-index="1"' in every.text
    assert "(every map index)" in every.text


def test_tab_of_a_task_that_is_not_ours(world: dict[str, Any]) -> None:
    page = get_page(world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id="plain", map_index="0")
    assert page.status_code == 200 and "not a task of airflow-batch-service" in page.text


def test_tab_of_an_unknown_task_instance(world: dict[str, Any]) -> None:
    page = get_page(
        world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id="nope", map_index="{MAP_INDEX}"
    )
    assert page.status_code == 404 and "No task instance" in page.text


def test_tab_survives_aws_errors(world: dict[str, Any]) -> None:
    def broken(job_id: str) -> dict[str, Any]:
        raise RuntimeError("EndpointConnectionError: could not connect")

    world["hook"].describe_service_job = broken
    world["hook"].list_service_jobs = lambda **kw: iter(())
    page = get_page(world, "/ti", "viewer", **TI_PARAMS)
    assert page.status_code == 200
    assert "DescribeServiceJob failed: EndpointConnectionError" in page.text
    # the observed transitions still draw the lane
    assert 'data-status="RUNNABLE"' in page.text


def test_queue_page_permissions_per_connection(world: dict[str, Any]) -> None:
    # Listed in [batch_service] ui_conn_ids (default aws_default): any viewer.
    assert get_page(world, "/queues", "viewer", conn_id="aws_default", refresh=0).status_code == 200
    # Any other connection: only who may read connections.
    refused = get_page(world, "/queues", "viewer", conn_id="team_b_aws")
    assert refused.status_code == 403 and "ui_conn_ids" in refused.text
    assert get_page(world, "/queues", "admin", conn_id="team_b_aws", refresh=0).status_code == 200
    # The picker offers the viewer only what they may use; the admin everything.
    viewer = get_page(world, "/queues", "viewer").text
    assert 'value="aws_default"' in viewer and 'value="team_b_aws"' not in viewer
    admin = get_page(world, "/queues", "admin").text
    assert 'value="team_b_aws"' in admin and "Choose the aws connection" in admin


def test_queue_page_content_and_cache(world: dict[str, Any]) -> None:
    hook = world["hook"]
    page = get_page(world, "/queues", "viewer", conn_id="aws_default")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-queue="ml"' in html
    assert 'data-unit="all instance types" data-used="2" data-limit="2"' in html
    assert 'class="waiting-count">2<' in html
    assert 'data-job-id="w1"' in html and 'data-job-id="w2"' in html
    assert f"../dags/{DAG}/runs/" in html and "/tasks/train/mapped/0" in html
    assert "not a task of this deployment" in html  # w2 is tagged, but no such task here
    assert '<meta http-equiv="refresh" content="10">' in html
    first = list(hook.calls)
    assert first.count("GetJobQueueSnapshot") == 1 and first.count("DescribeServiceJob") == 2
    # A second view within the cache's life costs no AWS call at all.
    assert get_page(world, "/queues", "viewer", conn_id="aws_default").status_code == 200
    assert hook.calls == first


def test_queue_page_reports_aws_errors(world: dict[str, Any]) -> None:
    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("AccessDeniedException: not allowed to DescribeJobQueues")

    world["hook"].describe_service_job_queues = broken
    page = get_page(world, "/queues", "viewer", conn_id="aws_default")
    assert page.status_code == 200 and "AccessDeniedException" in page.text


def test_icon_is_public(world: dict[str, Any]) -> None:
    icon = world["client"].get("/icon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


@needs_31
def test_plugin_registration() -> None:
    plugin = BatchServiceUIPlugin()
    views = {v["name"]: v for v in plugin.external_views}
    tab = views["Service jobs"]
    assert tab["destination"] == "task_instance"
    assert tab["href"].startswith("batch-service/ti?") and "{MAP_INDEX}" in tab["href"]
    assert views["Batch queues"]["destination"] == "nav"
    assert [a["url_prefix"] for a in plugin.fastapi_apps] == ["/batch-service"]
    points = importlib.metadata.entry_points(group="airflow.plugins")
    assert any(p.value == "airflow_batch_service.plugins.ui:BatchServiceUIPlugin" for p in points)


@pytest.mark.skipif(ui_supported(), reason="Airflow >= 3.1 has the views")
def test_plugin_is_inert_on_airflow_30() -> None:
    """3.0 has no external views: the plugin loads and registers nothing (no app either)."""
    plugin = BatchServiceUIPlugin()
    assert plugin.external_views == [] and plugin.fastapi_apps == []
    points = importlib.metadata.entry_points(group="airflow.plugins")
    assert any(p.value == "airflow_batch_service.plugins.ui:BatchServiceUIPlugin" for p in points)


@pytest.fixture
def teams_world(auth: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Two teams' DAGs on one queue, as Airflow 3.3 records them (a team owns a DAG bundle,
    the bundle holds the DAG), and a VIEWER of each team; the jobs of both wait in one queue."""
    from fastapi.testclient import TestClient  # lazy: with the app, Airflow >= 3.1 only

    from airflow_batch_service.plugins.app import Services, create_app  # lazy: Airflow >= 3.1

    try:
        from airflow.models.dag import DagModel  # lazy: teams' models, Airflow >= 3.3
        from airflow.models.dagbundle import DagBundleModel  # lazy: Airflow >= 3.3
        from airflow.models.team import Team  # lazy: Airflow >= 3.3
    except ImportError:
        pytest.skip("DAG teams need Airflow >= 3.3")
    from airflow.api_fastapi.app import get_auth_manager  # lazy: Airflow >= 3.1
    from airflow.api_fastapi.auth.managers.simple.user import (  # lazy: Airflow >= 3.1
        SimpleAuthManagerUser,
    )

    dags = {"ml_sweep": "mlteam", "other_sweep": "other"}
    with create_session() as session:
        for dag_id, team in dags.items():
            team_row = Team(name=team)
            bundle = DagBundleModel(name=f"{team}_bundle")
            bundle.teams.append(team_row)
            session.add_all([team_row, bundle])
            session.flush()
            session.add(DagModel(dag_id=dag_id, bundle_name=bundle.name, fileloc=f"/{dag_id}.py"))
    jobs = {
        job_id: {
            **service_job(job_id, tag=f"{dag_id}:train:{RUN}:0", status="RUNNABLE"),
            "jobName": name,
        }
        for job_id, dag_id, name in (("wa", "ml_sweep", "job-a"), ("wb", "other_sweep", "job-b"))
    }
    hook = FakeHook(jobs)
    metadata = FakeMetadata([], known={(d, "train", RUN, 0) for d in dags})
    services = Services(
        metadata=metadata, hook_factory=lambda conn, region: hook, now_ms=lambda: 60_000
    )
    manager = get_auth_manager()
    tokens = {
        user: manager.generate_jwt(
            SimpleAuthManagerUser(username=user, role="viewer", teams=[team])
        )
        for user, team in (("alice", "mlteam"), ("bob", "other"))
    }
    try:
        yield {"client": TestClient(create_app(services)), "tokens": {**auth, **tokens}}
    finally:
        with create_session() as session:
            session.execute(delete(DagModel).where(DagModel.dag_id.in_(list(dags))))
            for team in dags.values():
                bundle = session.get(DagBundleModel, f"{team}_bundle")
                if bundle is not None:
                    bundle.teams.clear()
                    session.delete(bundle)
                session.execute(delete(Team).where(Team.name == team))


@needs_31
def test_queue_page_shows_another_teams_jobs_without_their_tasks(
    teams_world: dict[str, Any],
) -> None:
    """A VIEWER of one team sees the other team's waiting job as any ListServiceJobs caller
    would (name, age, position), with no link and nothing of its DAG, run or map index; and
    their own team's job linked. Airflow's own check agrees: the tab refuses the other DAG."""
    pages = {}
    for user in ("alice", "bob", "admin"):
        page = get_page(teams_world, "/queues", user, conn_id="aws_default", refresh=0)
        assert page.status_code == 200, page.text
        pages[user] = page.text
    for user, mine, theirs, their_job in (
        ("alice", "ml_sweep", "other_sweep", "wb"),
        ("bob", "other_sweep", "ml_sweep", "wa"),
    ):
        html = pages[user]
        assert f'href="../dags/{mine}/runs/' in html, html
        assert theirs not in html, f"{user} sees {theirs}'s task"
        row = html[html.index(f'data-job-id="{their_job}"') :]
        row = row[: row.index("</tr>")]
        assert 'data-owner=""' in row and 'data-mine="false"' in row and "<a " not in row
        assert f"job-{their_job[1]}" in row  # the name, as ListServiceJobs gives it to anyone
        refused = get_page(
            teams_world,
            "/ti",
            user,
            dag_id=theirs,
            run_id=RUN,
            task_id="train",
            map_index="0",
        )
        assert refused.status_code == 403, refused.text
    assert pages["admin"].count('class="mine"') == 2
