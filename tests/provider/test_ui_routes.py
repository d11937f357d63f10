"""The UI plugin's routes over HTTP (FastAPI's TestClient), with Airflow's real authorization.

The app is the one the api-server mounts, with Airflow's ``SimpleAuthManager`` signing and
checking the JWTs (the metadata DB is migrated: the DAG check looks up the DAG's team). The
metadata reads and the AWS hook are replaced by fakes, so these tests need no stack and no AWS;
``tests/integration/test_ui.py`` runs the same pages in a real Airflow with the emulator.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_batch_service.plugins.ui import BatchServiceUIPlugin, ui_supported

needs_31 = pytest.mark.skipif(not ui_supported(), reason="the UI plugin needs Airflow >= 3.1")

DAG, TASK, RUN = "sweep", "train", "manual__2026-01-01T00:00:00+00:00"
TAG = f"{DAG}:{TASK}:{RUN}:0"
ISE = "Received status from SageMaker: InternalServerError: We encountered an internal error."
QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/ml"
ENV_ARN = "arn:aws:batch:us-east-1:123456789012:service-environment/ml-env"


def _job(
    job_id: str, *, tag: str = TAG, created: int = 1_000, status: str = "SUCCEEDED"
) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "jobArn": f"arn:aws:batch:us-east-1:123456789012:service-job/{job_id}",
        "jobName": "sweep-lr-0-1",
        "jobQueue": QUEUE_ARN,
        "status": status,
        "statusReason": "Received status from SageMaker: Training job completed",
        "createdAt": created,
        "scheduledAt": created + 9_000,
        "startedAt": created + 11_000,
        "stoppedAt": created + 14_000,
        "retryStrategy": {
            "attempts": 2,
            "evaluateOnExit": [
                {
                    "action": "RETRY",
                    "onStatusReason": "Received status from SageMaker: InternalServerError*",
                },
                {"action": "EXIT", "onStatusReason": "*"},
            ],
        },
        "attempts": [
            {
                "startedAt": created + 4_000,
                "stoppedAt": created + 6_000,
                "statusReason": ISE,
                "serviceResourceId": {
                    "name": "TrainingJobArn",
                    "value": "arn:aws:sagemaker:us-east-1:1:training-job/AWSBatchA",
                },
            },
            {
                "startedAt": created + 11_000,
                "stoppedAt": created + 14_000,
                "statusReason": "Received status from SageMaker: Training job completed",
                "serviceResourceId": {
                    "name": "TrainingJobArn",
                    "value": "arn:aws:sagemaker:us-east-1:1:training-job/AWSBatchB",
                },
            },
        ],
        "latestAttempt": {
            "serviceResourceId": {
                "name": "TrainingJobArn",
                "value": "arn:aws:sagemaker:us-east-1:1:training-job/AWSBatchB",
            }
        },
        "tags": {"airflow-batch-service:task": tag},
    }


class FakeHook:
    """Counts calls; answers like the Batch API (already stripped of ResponseMetadata)."""

    def __init__(self, jobs: dict[str, dict[str, Any]]) -> None:
        self.jobs = jobs
        self.calls: list[str] = []

    def describe_service_job(self, job_id: str) -> dict[str, Any]:
        self.calls.append("DescribeServiceJob")
        return self.jobs[job_id.rsplit("/", 1)[-1]]

    def list_service_jobs(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls.append("ListServiceJobs")
        status = kwargs.get("job_status")
        for job in self.jobs.values():
            if status and job["status"] != status:
                continue
            if kwargs.get("filters") and job["jobName"] != kwargs["filters"][0]["values"][0]:
                continue
            yield {k: job[k] for k in ("jobId", "jobArn", "jobName", "status", "createdAt")}

    def describe_service_job_queues(self) -> list[dict[str, Any]]:
        self.calls.append("DescribeJobQueues")
        return [
            {
                "jobQueueName": "ml",
                "jobQueueArn": QUEUE_ARN,
                "state": "ENABLED",
                "status": "VALID",
                "jobQueueType": "SAGEMAKER_TRAINING",
                "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": ENV_ARN}],
            }
        ]

    def describe_service_environments(self, names: list[str]) -> list[dict[str, Any]]:
        self.calls.append("DescribeServiceEnvironments")
        return [
            {
                "serviceEnvironmentName": "ml-env",
                "serviceEnvironmentArn": ENV_ARN,
                "capacityLimits": [{"maxCapacity": 2, "capacityUnit": "NUM_INSTANCES"}],
            }
        ]

    def get_job_queue_snapshot(self, job_queue: str) -> dict[str, Any]:
        self.calls.append("GetJobQueueSnapshot")
        waiting = [j for j in self.jobs.values() if j["status"] == "RUNNABLE"]
        return {
            "frontOfQueue": {
                "jobs": [
                    {"jobArn": j["jobArn"], "earliestTimeAtPosition": j["createdAt"]}
                    for j in waiting
                ]
            },
            "queueUtilization": {
                "totalCapacityUsage": [{"capacityUnit": "ml.g5.xlarge", "quantity": 2.0}]
            },
        }

    def describe_scheduling_policy(self, arn: str) -> dict[str, Any]:
        return {}

    def list_quota_shares(self, job_queue: str) -> list[dict[str, Any]]:
        return []


class FakeMetadata:
    def __init__(self, tis: list[Any], known: set[tuple[str, str, str, int]] | None = None) -> None:
        self.tis = tis
        self.known = known or set()

    def task_instances(
        self, dag_id: str, run_id: str, task_id: str, map_index: int | None
    ) -> list[Any]:
        return [
            ti
            for ti in self.tis
            if (ti.dag_id, ti.run_id, ti.task_id) == (dag_id, run_id, task_id)
            and (map_index is None or ti.map_index == map_index)
        ]

    def existing_tasks(self, keys: Any) -> set[tuple[str, str, str, int]]:
        return {k for k in keys if k in self.known}

    def aws_conn_ids(self) -> list[str]:
        return ["aws_default", "team_b_aws"]


@pytest.fixture(scope="module")
def auth(airflow_home: Any) -> Iterator[dict[str, str]]:
    """SimpleAuthManager with signed tokens for an admin, a viewer and a user without a role."""
    import os

    if not ui_supported():
        pytest.skip("the UI plugin needs Airflow >= 3.1")

    os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = "ui-plugin-test-secret-" + "x" * 32
    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"
    from airflow.api_fastapi.app import create_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    purge_cached_app()
    manager = create_auth_manager()
    tokens = {
        name: manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))
        for name, role in (("admin", "admin"), ("viewer", "viewer"), ("nobody", None))
    }
    yield tokens
    purge_cached_app()
    os.environ.pop("AIRFLOW__API_AUTH__JWT_SECRET", None)
    os.environ.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", None)


def _ti(**overrides: Any) -> Any:
    from airflow_batch_service.plugins.airflow_data import TaskInstanceInfo, TryInfo

    values: dict[str, Any] = dict(
        dag_id=DAG,
        task_id=TASK,
        run_id=RUN,
        map_index=0,
        try_number=2,
        state="success",
        operator="BatchSubmitServiceJobOperator",
        start_ms=30_000,
        end_ms=60_000,
        rendered={
            "aws_conn_id": "emu",
            "region_name": "us-east-1",
            "job_name": "sweep-lr-0-1",
            "job_queue": "ml",
        },
        xcoms={
            "return_value": "job-2",
            "batch_service_job_details": {
                "region_name": "us-east-1",
                "aws_domain": "aws.amazon.com",
                "job_id": "job-2",
            },
            "batch_service_timeline": [
                {
                    "jobId": "job-2",
                    "jobName": "sweep-lr-0-1",
                    "transitions": [
                        {"status": "RUNNABLE", "atMs": 31_000, "exact": True, "reason": None},
                        {"status": "SCHEDULED", "atMs": 33_000, "exact": False, "reason": None},
                        {
                            "status": "RUNNABLE",
                            "atMs": 35_000,
                            "exact": False,
                            "reason": "Received status from SageMaker: CapacityError: no capacity",
                        },
                        {"status": "RUNNING", "atMs": 42_000, "exact": True, "reason": None},
                        {"status": "SUCCEEDED", "atMs": 45_000, "exact": True, "reason": None},
                    ],
                }
            ],
        },
        history=[TryInfo(1, "failed", 0, 20_000)],
    )
    values.update(overrides)
    return TaskInstanceInfo(**values)


@pytest.fixture
def world(auth: dict[str, str]) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from airflow_batch_service.plugins.app import Services, create_app

    jobs = {
        "job-1": _job("job-1", created=1_000),  # try 1's job, found by its task tag
        "job-2": {
            **_job("job-2", created=31_000),
            "attempts": _job("job-2", created=31_000)["attempts"][1:],
        },
        "stranger": _job("stranger", tag="other:t:r:-1", created=2_000),
        "w1": {**_job("w1", created=50_000, status="RUNNABLE"), "jobName": "sweep-lr-0-01"},
        "w2": {
            **_job("w2", tag="other_dag:t:r:-1", created=51_000, status="RUNNABLE"),
            "jobName": "x",
        },
    }
    hook = FakeHook(jobs)
    metadata = FakeMetadata(
        [_ti(), _ti(task_id="plain", operator="BashOperator", xcoms={}, rendered={})],
        known={(DAG, TASK, RUN, 0)},
    )
    jobs["w1"]["tags"] = {"airflow-batch-service:task": TAG}
    services = Services(
        metadata=metadata, hook_factory=lambda conn, region: hook, now_ms=lambda: 60_000
    )
    client = TestClient(create_app(services))
    return {"client": client, "hook": hook, "tokens": auth, "services": services}


def _get(world: dict[str, Any], path: str, user: str | None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {world['tokens'][user]}"} if user else {}
    return world["client"].get(path, params=params, headers=headers)


TI_PARAMS = {"dag_id": DAG, "run_id": RUN, "task_id": TASK, "map_index": "0"}


@pytest.mark.parametrize(
    "path,params", [("/ti", TI_PARAMS), ("/queues", {"conn_id": "aws_default"})]
)
def test_refused_without_a_token_or_permission(
    world: dict[str, Any], path: str, params: dict[str, str]
) -> None:
    anonymous = _get(world, path, None, **params)
    assert anonymous.status_code == 401
    assert "Not signed in" in anonymous.text and anonymous.headers["content-type"].startswith(
        "text/html"
    )
    forged = world["client"].get(path, params=params, headers={"Authorization": "Bearer not-a-jwt"})
    assert forged.status_code == 403
    nobody = _get(world, path, "nobody", **params)
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
    page = _get(world, "/ti", "viewer", **TI_PARAMS)
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
    sensor = _ti(
        task_id="wait",
        operator="BatchServiceJobSensor",
        history=[],
        try_number=1,
        rendered={"aws_conn_id": "emu", "region_name": "us-east-1", "job_id": "job-1"},
        xcoms={"return_value": {"jobId": "job-1", "outcome": "SUCCEEDED"}},
    )
    svc.metadata.tis += [sensor, _ti(map_index=1, xcoms={"return_value": "job-2"}, history=[])]
    page = _get(world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id="wait", map_index="0")
    assert page.status_code == 200
    assert 'data-job-id="job-1"' in page.text and "watched" in page.text
    every = _get(world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id=TASK, map_index="all")
    assert every.status_code == 200
    assert 'data-map-index="0"' in every.text and 'data-map-index="1"' in every.text
    assert "(every map index)" in every.text


def test_tab_of_a_task_that_is_not_ours(world: dict[str, Any]) -> None:
    page = _get(world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id="plain", map_index="0")
    assert page.status_code == 200 and "not a task of airflow-batch-service" in page.text


def test_tab_of_an_unknown_task_instance(world: dict[str, Any]) -> None:
    page = _get(
        world, "/ti", "viewer", dag_id=DAG, run_id=RUN, task_id="nope", map_index="{MAP_INDEX}"
    )
    assert page.status_code == 404 and "No task instance" in page.text


def test_tab_survives_aws_errors(world: dict[str, Any]) -> None:
    def broken(job_id: str) -> dict[str, Any]:
        raise RuntimeError("EndpointConnectionError: could not connect")

    world["hook"].describe_service_job = broken
    world["hook"].list_service_jobs = lambda **kw: iter(())
    page = _get(world, "/ti", "viewer", **TI_PARAMS)
    assert page.status_code == 200
    assert "DescribeServiceJob failed: EndpointConnectionError" in page.text
    # the observed transitions still draw the lane
    assert 'data-status="RUNNABLE"' in page.text


def test_queue_page_permissions_per_connection(world: dict[str, Any]) -> None:
    # Listed in [batch_service] ui_conn_ids (default aws_default): any viewer.
    assert _get(world, "/queues", "viewer", conn_id="aws_default", refresh=0).status_code == 200
    # Any other connection: only who may read connections.
    refused = _get(world, "/queues", "viewer", conn_id="team_b_aws")
    assert refused.status_code == 403 and "ui_conn_ids" in refused.text
    assert _get(world, "/queues", "admin", conn_id="team_b_aws", refresh=0).status_code == 200
    # The picker offers the viewer only what they may use; the admin everything.
    viewer = _get(world, "/queues", "viewer").text
    assert 'value="aws_default"' in viewer and 'value="team_b_aws"' not in viewer
    admin = _get(world, "/queues", "admin").text
    assert 'value="team_b_aws"' in admin and "Choose the aws connection" in admin


def test_queue_page_content_and_cache(world: dict[str, Any]) -> None:
    hook = world["hook"]
    page = _get(world, "/queues", "viewer", conn_id="aws_default")
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
    assert _get(world, "/queues", "viewer", conn_id="aws_default").status_code == 200
    assert hook.calls == first


def test_queue_page_reports_aws_errors(world: dict[str, Any]) -> None:
    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("AccessDeniedException: not allowed to DescribeJobQueues")

    world["hook"].describe_service_job_queues = broken
    page = _get(world, "/queues", "viewer", conn_id="aws_default")
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
    from fastapi.testclient import TestClient
    from sqlalchemy import delete

    from airflow_batch_service.plugins.app import Services, create_app

    try:
        from airflow.models.dag import DagModel
        from airflow.models.dagbundle import DagBundleModel
        from airflow.models.team import Team
    except ImportError:
        pytest.skip("DAG teams need Airflow >= 3.3")
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils.session import create_session

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
            **_job(job_id, tag=f"{dag_id}:train:{RUN}:0", status="RUNNABLE"),
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
        page = _get(teams_world, "/queues", user, conn_id="aws_default", refresh=0)
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
        refused = _get(
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
