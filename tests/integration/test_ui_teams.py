"""The "Batch queues" page on an Airflow 3.3 with teams: a viewer sees their own team's waiting
jobs linked to their task instances, and another team's jobs only as ``ListServiceJobs`` shows
them to anyone (name, age, position), with no link and nothing of the DAG, run or map index
that the job's task tag carries. Airflow's rule: a DAG you may not read does not exist for you.

Its own stack (module scope): ``[core] multi_team``, two DAG bundles owned by the teams
``mlteam`` and ``other``, Airflow's ``SimpleAuthManager`` with passwords for an admin and a
VIEWER of each team. Both DAGs' runs exist (their task instances are what the page links to);
their jobs wait in one queue with no free capacity, tagged as durable submission tags them.
Checked over HTTP (the plugin's route with each user's token) and in a browser signed in as
each user.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_batch_service.core.durable import TASK_TAG, TaskKey

from .stack import AirflowStack, StackError, StackUnavailable
from .support import EMULATOR_CONN_ID
from .test_ui import _css, _dump, _wait
from .test_ui import browser as browser  # the fixture, started only where used

QUEUE = "ui-teams"
SECTION = f'section.queue[data-queue="{QUEUE}"]'
TEAMS = {"ml_sweep": "mlteam", "other_sweep": "other"}
USERS = {"admin": ("admin", None), "alice": ("viewer", "mlteam"), "bob": ("viewer", "other")}
PASSWORD = "teams-test-password"

DAG_FILE = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG({dag_id!r}, schedule=None, catchup=False) as dag:
    EmptyOperator(task_id="train")
"""


class TeamsStack(AirflowStack):
    """An AirflowStack whose teams exist before the dag-processor syncs the bundles."""

    def _migrate(self) -> None:
        super()._migrate()
        import subprocess

        for team in sorted(set(TEAMS.values())):
            subprocess.run(
                [str(self.airflow), "teams", "create", team],
                env=self._env,
                cwd=self.workdir,
                check=True,
                capture_output=True,
                timeout=120,
            )


def _supports_teams() -> bool:
    import importlib.util

    return importlib.util.find_spec("airflow.models.team") is not None


@pytest.fixture(scope="module")
def teams_stack(
    tmp_path_factory: pytest.TempPathFactory, batch_emulator_server_process: Any
) -> Iterator[TeamsStack]:
    from airflow_batch_service.emulator.connection import aws_connection_json

    if not _supports_teams():
        pytest.skip("DAG teams need Airflow >= 3.3")
    workdir = tmp_path_factory.mktemp("airflow-teams")
    bundles = []
    for dag_id, team in TEAMS.items():
        folder = workdir / f"dags-{team}"
        folder.mkdir()
        (folder / f"{dag_id}.py").write_text(DAG_FILE.format(dag_id=dag_id))
        bundles.append(
            {
                "name": f"{team}_dags",
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(folder), "refresh_interval": 2},
                "team_name": team,
            }
        )
    passwords = workdir / "passwords.json"
    passwords.write_text(json.dumps({user: PASSWORD for user in USERS}))
    users = ",".join(
        f"{user}:{role}" + (f":{team}" if team else "") for user, (role, team) in USERS.items()
    )
    endpoint = batch_emulator_server_process.endpoint_url
    region = batch_emulator_server_process.region
    stack = TeamsStack(
        workdir=workdir,
        components=("api-server", "dag-processor", "scheduler"),
        extra_env={
            f"AIRFLOW_CONN_{EMULATOR_CONN_ID.upper()}": aws_connection_json(endpoint, region),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": region,
            "AIRFLOW__CORE__MULTI_TEAM": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": users,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__BATCH_SERVICE__UI_CONN_IDS": EMULATOR_CONN_ID,
        },
    )
    try:
        stack.start()
    except StackUnavailable as e:
        pytest.skip(f"real Airflow stack unavailable on this machine: {e}")
    except StackError as e:
        pytest.fail(f"the multi-team Airflow stack failed to start:\n{e}", pytrace=False)
    try:
        stack._token = token(stack, "admin")
        yield stack
    finally:
        stack.stop()
    assert not stack.alive_pids(), stack.alive_pids()


def token(stack: AirflowStack, user: str) -> str:
    got = stack.api("POST", "/auth/token", {"username": user, "password": PASSWORD})
    return str(got["access_token"])


@pytest.fixture(scope="module")
def waiting_sweeps(teams_stack: TeamsStack, batch_emulator_server_process: Any) -> dict[str, Any]:
    """One run of each team's DAG, and its tagged job waiting in a queue with no capacity left
    (a hanging job of nobody's holds the one instance)."""
    handle = batch_emulator_server_process.emulator
    handle.create_queue(QUEUE, max_capacity=1)
    handle.load_scenarios({"jobs": [{"jobName": "*", "attempts": [{"result": "HANG"}]}]})
    batch = handle.client()
    base = {
        "jobQueue": QUEUE,
        "serviceJobType": "SAGEMAKER_TRAINING",
        "serviceRequestPayload": json.dumps(
            {
                "TrainingJobName": "teams",
                "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
                "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
                "OutputDataConfig": {"S3OutputPath": "s3://bucket/teams/"},
                "ResourceConfig": {
                    "InstanceType": "ml.g5.xlarge",
                    "InstanceCount": 1,
                    "VolumeSizeInGB": 30,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            }
        ),
    }
    batch.submit_service_job(jobName="blocker", **base)
    runs: dict[str, Any] = {}
    for dag_id in TEAMS:
        teams_stack.wait_for_dag(dag_id)
        teams_stack.unpause(dag_id)
        run_id = teams_stack.trigger(dag_id)
        # The page links a job to its task instance once that exists (the scheduler makes it).
        _wait(
            f"{dag_id}'s task instance",
            lambda dag_id=dag_id, run_id=run_id: teams_stack.task_instances(dag_id, run_id),
            timeout=120,
        )
        key = TaskKey(dag_id, "train", run_id)
        job = batch.submit_service_job(
            jobName=f"{dag_id}-job", tags={TASK_TAG: key.tag_value()}, **base
        )
        runs[dag_id] = {"run_id": run_id, "job_id": job["jobId"]}
    _wait(
        "both sweeps' jobs waiting",
        lambda: (
            len(batch.list_service_jobs(jobQueue=QUEUE, jobStatus="RUNNABLE")["jobSummaryList"])
            >= 2
        ),
        timeout=60,
    )
    return runs


def _get(stack: AirflowStack, path: str, user: str, **params: Any) -> tuple[int, str]:
    """GET as ``user`` (their own token), not as the stack's admin."""
    import urllib.error
    import urllib.request

    url = stack.base_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token(stack, user)}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def _queue_page(stack: AirflowStack, user: str) -> tuple[int, str]:
    return _get(stack, "/batch-service/queues", user, conn_id=EMULATOR_CONN_ID, refresh=0)


def _row(html: str, job_id: str) -> str:
    start = html.index(f'data-job-id="{job_id}"')
    return html[start : html.index("</tr>", start)]


def test_queue_page_over_http_hides_another_teams_tasks(
    teams_stack: TeamsStack, waiting_sweeps: dict[str, Any]
) -> None:
    for user, mine, theirs in (
        ("alice", "ml_sweep", "other_sweep"),
        ("bob", "other_sweep", "ml_sweep"),
    ):
        status, html = _queue_page(teams_stack, user)
        assert status == 200, html[-2000:]
        own = _row(html, waiting_sweeps[mine]["job_id"])
        assert 'class="mine"' in own and f"../dags/{mine}/runs/" in own, own
        other = _row(html, waiting_sweeps[theirs]["job_id"])
        assert 'data-owner=""' in other and 'data-mine="false"' in other, other
        assert "<a " not in other and f"{theirs}-job" in other, other
        # Nothing of the other DAG anywhere on the page but its job's name.
        assert theirs not in html.replace(f"{theirs}-job", ""), f"{user} sees {theirs}"
        assert waiting_sweeps[theirs]["run_id"] not in html
        # And Airflow's own API agrees: that DAG does not exist for this viewer.
        refused = _get(teams_stack, f"/api/v2/dags/{theirs}", user)
        assert refused[0] in (403, 404), refused
    status, html = _queue_page(teams_stack, "admin")
    assert status == 200 and html.count('class="mine"') == 2, html[-3000:]


def test_queue_page_in_the_browser_hides_another_teams_tasks(
    teams_stack: TeamsStack, waiting_sweeps: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    driver = request.getfixturevalue("browser")
    for user, mine, theirs in (
        ("alice", "ml_sweep", "other_sweep"),
        ("bob", "other_sweep", "ml_sweep"),
    ):
        driver.switch_to.default_content()
        driver.delete_all_cookies()
        driver.get(teams_stack.base_url + "/api/v2/version")  # a page of the host, for its cookie
        driver.add_cookie({"name": "_token", "value": token(teams_stack, user), "path": "/"})
        try:
            driver.get(
                teams_stack.base_url
                + "/batch-service/queues?"
                + urllib.parse.urlencode({"conn_id": EMULATOR_CONN_ID, "refresh": 0})
            )
            _wait(f"the {QUEUE} queue for {user}", lambda: _css(driver, SECTION), timeout=60)
            rows = {
                r.get_attribute("data-job-id"): r for r in _css(driver, f"{SECTION} tr.waiting-job")
            }
            own = rows[waiting_sweeps[mine]["job_id"]]
            link = own.find_element("css selector", "a.mine")
            assert f"/dags/{mine}/runs/" in (link.get_attribute("href") or "")
            other = rows[waiting_sweeps[theirs]["job_id"]]
            assert other.find_elements("css selector", "a") == []
            assert other.get_attribute("data-owner") == ""
            assert f"{theirs}-job" in other.text and theirs not in other.text.replace(
                f"{theirs}-job", ""
            )
            assert theirs not in driver.page_source.replace(f"{theirs}-job", "")
        except BaseException:
            _dump(driver, f"queue-page-teams-{user}")
            raise
