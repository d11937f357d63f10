"""The UI plugin in a real Airflow, in a real browser (headless Chromium from Debian's packages,
driven by Selenium, pointed at the installed browser and driver: nothing is downloaded).

On Airflow >= 3.1, on the session's stack with the emulator: a 6-job sweep on a 2-instance
queue, where map index 0's job is requeued for capacity, fails an attempt that rule 1 (RETRY)
retries, then succeeds. While the sweep runs, the queue page ("Batch queues", Browse menu) shows
the capacity in use and the waiting jobs linked to their task instances; once it is done, the
"Service jobs" tab of map index 0 shows its lanes, bars and reasons. Both are checked through
the page's DOM, and screenshots are saved (``docs/img/ui-*.png``, shown by ``docs/ui.md``).

On Airflow 3.0 the plugin must be absent without error: the api-server healthy, no plugin
import error, no view registered.

Browser tests skip only when chromium (or chromedriver) is genuinely not installed and
``ABS_REQUIRE_BROWSER`` is not set (CI sets it, and installs ``chromium chromium-driver``).
The stack itself is the session's (``conftest.py``): these tests add ~40 s, not a new stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .stack import AirflowStack
from .support import EMULATOR_CONN_ID

#: Where the screenshots go: a temp directory, so a test run leaves the working tree as it was;
#: ``ABS_UI_SCREENSHOTS=docs/img`` refreshes the docs' screenshots (docs/ui.md shows them).
SCREENSHOTS = Path(
    os.environ.get("ABS_UI_SCREENSHOTS") or Path(tempfile.gettempdir()) / "abs-ui-screenshots"
)
DAG_ID = "ui_sweep"
QUEUE = "ui-sweep"
SWEEP = 6
ISE = "Received status from SageMaker: InternalServerError: We encountered an internal error. Please try again."

DAG_FILE = f'''
from airflow.sdk import DAG, task

from airflow_batch_service.naming import batch_name
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

with DAG("{DAG_ID}", schedule=None, catchup=False, tags=["ui"]) as dag:

    @task
    def configs(run_id=None):
        return [
            {{
                "job_name": batch_name(f"uisweep-{{i}}-{{run_id}}"),
                "service_request_payload": {{
                    "TrainingJobName": f"uisw{{i}}",
                    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
                    "AlgorithmSpecification": {{"TrainingImage": "img", "TrainingInputMode": "File"}},
                    "OutputDataConfig": {{"S3OutputPath": "s3://bucket/out/"}},
                    "ResourceConfig": {{"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}},
                    "StoppingCondition": {{"MaxRuntimeInSeconds": 3600}},
                }},
            }}
            for i in range({SWEEP})
        ]

    BatchSubmitServiceJobOperator.partial(
        task_id="train",
        aws_conn_id="{EMULATOR_CONN_ID}",
        job_queue="{QUEUE}",
        retry_strategy={{
            "attempts": 2,
            "evaluateOnExit": [
                {{"action": "RETRY", "onStatusReason": "Received status from SageMaker: InternalServerError*"}},
                {{"action": "EXIT", "onStatusReason": "*"}},
            ],
        }},
        wait_for_completion=True,
        deferrable=True,
        poll_interval=1,
        stream_logs=False,
    ).expand_kwargs(configs())
'''

QUEUE_PAGE = "ui-queue-page-read"
SCENARIOS = {
    "jobs": [
        {
            "jobName": "uisweep-0-*",
            "attempts": [
                {"result": "CAPACITY"},
                {"result": "FAILED", "statusReason": ISE, "seconds": 3},
                {"result": "SUCCEEDED", "seconds": 4},
            ],
        },
        # The others hold their instance (RUNNING, at a gate) until the test has read the queue
        # page, so jobs wait for capacity while it looks, however slow the browser.
        {
            "jobName": "uisweep-*",
            "attempts": [
                {"result": "SUCCEEDED", "seconds": 6, "holdUntilReleased": {"RUNNING": QUEUE_PAGE}}
            ],
        },
    ]
}


def _required() -> bool:
    return os.environ.get("ABS_REQUIRE_BROWSER", "").lower() in ("1", "true", "yes")


def _ui_supported(stack: AirflowStack) -> bool:
    major, minor = (int(x) for x in stack.version().split(".")[:2])
    return (major, minor) >= (3, 1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver, both from the system (Debian packages)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    if not chromium or not driver_path:
        missing = "chromium" if not chromium else "chromedriver"
        if _required():
            pytest.fail(
                f"ABS_REQUIRE_BROWSER is set but {missing} is not installed "
                "(apt-get install -y chromium chromium-driver)"
            )
        pytest.skip(f"{missing} is not installed")
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: no telemetry, no download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1440,1000",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(what: str, probe: Callable[[], Any], timeout: float = 60, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            last = probe()
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def _login(driver: Any, stack: AirflowStack) -> None:
    """Sign in as a person would on this stack. It runs Airflow's SimpleAuthManager with
    ``simple_auth_manager_all_admins`` (every caller is an admin, no password): its login page
    is ``/auth/token/login``, which sets the JWT cookie (``_token``) and sends us on to the UI."""
    driver.get(
        stack.base_url
        + "/auth/token/login?"
        + urllib.parse.urlencode({"next": stack.base_url + "/"})
    )
    _wait("the JWT cookie", lambda: driver.get_cookie("_token"), timeout=60)
    _wait("the Airflow UI", lambda: _css(driver, "a[href*='dags']"), timeout=60)


def _plugin_frame(driver: Any, url: str, ready_css: str, timeout: float = 60) -> Any:
    """Open an Airflow page holding a plugin iframe, switch into the frame, wait for content;
    returns the frame's ``src``."""
    driver.switch_to.default_content()
    driver.get(url)

    def frame() -> Any:
        frames = [
            f
            for f in driver.find_elements("css selector", "iframe")
            if "batch-service" in (f.get_attribute("src") or "")
        ]
        return frames[0] if frames else None

    element = _wait(f"the plugin iframe on {url}", frame, timeout)
    src = element.get_attribute("src") or ""
    driver.switch_to.frame(element)
    _wait(
        f"{ready_css} in the plugin page",
        lambda: driver.find_elements("css selector", ready_css),
        timeout,
    )
    return src


def _shot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    return path


def _dump(driver: Any, name: str) -> None:
    """On a failure: the page's HTML and a screenshot, outside the repository."""
    with contextlib.suppress(Exception):
        where = Path(tempfile.gettempdir()) / "abs-ui-failures"
        where.mkdir(parents=True, exist_ok=True)
        (where / f"{name}.html").write_text(driver.page_source)
        driver.switch_to.default_content()
        driver.save_screenshot(str(where / f"{name}.png"))
        print(f"\nfailure page saved under {where}")


def _css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def test_ui_plugin_absent_without_error_on_airflow_30(stack: AirflowStack) -> None:
    if _ui_supported(stack):
        pytest.skip("Airflow >= 3.1 shows the plugin (test_ui_sweep_in_the_browser)")
    health = stack.api("GET", "/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy", health
    plugins = stack.api("GET", "/api/v2/plugins")["plugins"]
    ours = [p for p in plugins if p["name"] == "airflow_batch_service_ui"]
    assert len(ours) == 1, plugins
    assert ours[0]["fastapi_apps"] == [] and ours[0].get("external_views", []) == []
    errors = stack.api("GET", "/api/v2/plugins/importErrors", ok=(200, 404))
    if isinstance(errors, dict):
        assert not [e for e in errors.get("import_errors", []) if "batch" in json.dumps(e)], errors
    # Nothing is mounted: the path is not ours (the UI's catch-all, or a 404).
    got = stack.api("GET", "/batch-service/icon.svg", ok=(200, 404))
    assert not (isinstance(got, str) and got.startswith("<svg")), got
    api_log = stack.procs["api-server"].log_path.read_text(errors="replace")
    assert "airflow_batch_service.plugins" not in api_log, api_log[-3000:]


def test_ui_sweep_in_the_browser(
    stack: AirflowStack, emulator: Any, request: pytest.FixtureRequest
) -> None:
    if not _ui_supported(stack):
        pytest.skip("external views need Airflow >= 3.1")
    driver = request.getfixturevalue("browser")  # started only where there is something to see
    emulator.configure(seconds_per_state=1.5)
    emulator.create_queue(QUEUE, max_capacity=2)
    emulator.load_scenarios(SCENARIOS)
    plugins = stack.api("GET", "/api/v2/plugins")["plugins"]
    ours = next(p for p in plugins if p["name"] == "airflow_batch_service_ui")
    assert {v["destination"] for v in ours["external_views"]} == {"task_instance", "nav"}

    stack.add_dag_file(DAG_FILE, name=f"{DAG_ID}.py")
    stack.wait_for_dag(DAG_ID)
    stack.unpause(DAG_ID)
    _login(driver, stack)
    run_id = stack.trigger(DAG_ID)
    batch = emulator.client()

    def waiting_jobs() -> int:
        return len(batch.list_service_jobs(jobQueue=QUEUE, jobStatus="RUNNABLE")["jobSummaryList"])

    _wait("jobs waiting for capacity", lambda: waiting_jobs() >= 3, timeout=120)

    # -- the queue page, during the sweep ------------------------------------------------
    try:
        _plugin_frame(driver, stack.base_url + "/plugin/batch-service-queues", "form.pick")
        select = _css(driver, "select#conn_id")[0]
        from selenium.webdriver.support.select import Select

        Select(select).select_by_value(EMULATOR_CONN_ID)
        _css(driver, "button#show")[0].click()
        section = f'section.queue[data-queue="{QUEUE}"]'
        _wait("the sweep's queue", lambda: _css(driver, section), timeout=30)
        total = _css(driver, f'{section} .capacity-row[data-unit="all instance types"]')[0]
        assert total.get_attribute("data-limit") == "2"
        assert float(total.get_attribute("data-used") or 0) >= 1
        rows = _css(driver, f"{section} tr.waiting-job")
        assert rows, driver.page_source[-3000:]
        count = int(_css(driver, f"{section} .waiting-count")[0].text)
        assert count == len(rows) >= 1
        mine = [r for r in rows if r.get_attribute("data-mine") == "true"]
        assert mine, "no waiting job was linked to its task instance"
        link = mine[0].find_element("css selector", "a.mine")
        href = link.get_attribute("href") or ""
        assert (
            f"/dags/{DAG_ID}/runs/{urllib.parse.quote(run_id, safe='')}/tasks/train/mapped/" in href
        ), href
        assert link.get_attribute("target") == "_top"
        assert int(mine[0].get_attribute("data-position") or 0) >= 1
        used = total.get_attribute("data-used")
        driver.switch_to.default_content()
        shot = _shot(driver, "ui-queue-page.png")
        print(f"\nqueue page: {count} waiting, {used} of 2 instances in use; {shot}")
    except BaseException:
        _dump(driver, "queue-page")
        raise
    emulator.open_gate(QUEUE_PAGE)

    # -- the tab, once the sweep is done ---------------------------------------------------
    # The tab needs map index 0 finished (the others may still be running).
    stack.wait_for_task(
        DAG_ID, run_id, "train", ["success"], map_index=0, fail_on=["failed"], timeout=300
    )
    timeline = stack.api(
        "GET",
        f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/train"
        "/xcomEntries/batch_service_timeline",
        params={"map_index": 0},
        ok=(200, 404),
    )
    observed = isinstance(timeline, dict) and "value" in timeline
    tab_url = (
        f"{stack.base_url}/dags/{DAG_ID}/runs/{urllib.parse.quote(run_id, safe='')}"
        "/tasks/train/mapped/0/plugin/batch-service-jobs"
    )
    try:
        src = _plugin_frame(driver, tab_url, "section.lane")
        assert "batch-service/ti?" in src and "map_index=0" in src, src
        lanes = _css(driver, "section.lane")
        assert len(lanes) == 1, driver.page_source[-3000:]
        lane = lanes[0]
        assert lane.get_attribute("data-outcome") == "SUCCEEDED"
        assert lane.get_attribute("data-try") == "1"
        statuses = [
            r.get_attribute("data-status") for r in lane.find_elements("css selector", "rect.seg")
        ]
        assert statuses.count("RUNNING") == 2, statuses
        attempts = lane.find_elements("css selector", "tr.attempt")
        assert [a.get_attribute("data-outcome") for a in attempts] == ["RETRIED", "SUCCEEDED"]
        first = attempts[0].text
        assert "InternalServerError" in first and "rule 1 RETRY" in first, first
        assert "queued attempt 2" in first, first
        kinds = [
            m.get_attribute("data-kind") for m in lane.find_elements("css selector", "g.marker")
        ]
        assert "attempt_retried" in kinds and kinds[-1] == "end", kinds
        requeues = lane.find_element("css selector", '[data-fact="requeues"] b').text
        if observed:
            assert "RUNNABLE" in statuses and "SCHEDULED" in statuses, statuses
            assert requeues == "1" and kinds.count("capacity") == 1, (requeues, kinds)
            assert kinds.index("capacity") < kinds.index("attempt_retried"), kinds
        else:
            # The wait recorded no transitions (no batch_service_timeline XCom): the lane comes
            # from the describe, which keeps no trace of a capacity requeue; it must say so.
            print("\nno batch_service_timeline XCom: the capacity requeue cannot be shown")
            assert "not recorded" in lane.text
        links = [a.get_attribute("href") for a in lane.find_elements("css selector", ".links a")]
        assert any("#service-jobs/detail/" in (h or "") for h in links), links
        assert any("/sagemaker/home" in (h or "") for h in links), links
        assert "SUCCEEDED after 2 attempt(s)" in lane.text
        driver.switch_to.default_content()
        shot = _shot(driver, "ui-task-tab.png")
        print(f"task tab: lanes ok, observed={observed}; {shot}")

        # The same tab in Airflow's dark theme: the page follows the parent's theme class.
        driver.execute_script("localStorage.setItem('theme', 'dark')")
        _plugin_frame(driver, tab_url, "section.lane")
        _wait(
            "the dark theme",
            lambda: (
                driver.execute_script("return document.documentElement.getAttribute('data-theme')")
                == "dark"
            ),
            timeout=20,
        )
        background = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(20, 22, 26)", background
        driver.switch_to.default_content()
        _shot(driver, "ui-task-tab-dark.png")
        driver.execute_script("localStorage.setItem('theme', 'light')")

        # The tab's own page at a narrow width, as the docs show it.
        driver.set_window_size(760, 1200)
        driver.get(
            f"{stack.base_url}/batch-service/ti?"
            + urllib.parse.urlencode(
                {
                    "dag_id": DAG_ID,
                    "run_id": run_id,
                    "task_id": "train",
                    "map_index": 0,
                    "theme": "light",
                }
            )
        )
        _wait("the lane", lambda: _css(driver, "section.lane"))
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 760, f"the tab scrolls sideways at 760 px ({width} px)"
        _shot(driver, "ui-task-tab-narrow.png")
    except BaseException:
        _dump(driver, "task-tab")
        raise
    finally:
        driver.set_window_size(1440, 1000)
