"""What the "Service jobs" tab draws, as the browser paints it, for a task that did not watch its
jobs (``wait_for_completion=False``: no observed transitions, the lanes come from
DescribeServiceJob alone).

On the session's real Airflow (>= 3.1) and emulator: two submit-only jobs on a queue with room
for one, the first succeeding, the second failing by its EXIT rule. In headless Chromium, on the
tab's own page: each lane is RUNNABLE up to the describe's ``scheduledAt``, then
SCHEDULED/STARTING up to the attempt's ``startedAt``, then RUNNING (not one undivided WAITING
bar), and the end pin takes the colour of the job's final status (the FAILED job's the same red
as its failed attempt, the SUCCEEDED job's green), read from the computed style.

Skips like ``test_ui.py``: only when chromium (or chromedriver) is not installed and
``ABS_REQUIRE_BROWSER`` is not set.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from .stack import AirflowStack
from .support import EMULATOR_CONN_ID
from .test_ui import _wait
from .test_ui import browser as browser  # the fixture, started only where used

DAG_ID = "ui_drawing"
QUEUE = "ui-drawing"
VALIDATION = "Received status from SageMaker: ValidationException: no training input"
#: The light theme's --ok and --bad, as computed styles give them.
OK_RGB = "rgb(21, 128, 61)"
BAD_RGB = "rgb(198, 40, 40)"

DAG_FILE = f'''
from airflow.sdk import DAG, task

from airflow_batch_service.naming import batch_name
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

with DAG("{DAG_ID}", schedule=None, catchup=False, tags=["ui"]) as dag:

    @task
    def configs(run_id=None):
        return [
            {{
                "job_name": batch_name(f"uidraw-{{i}}-{{run_id}}"),
                "service_request_payload": {{
                    "TrainingJobName": f"uidraw{{i}}",
                    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
                    "AlgorithmSpecification": {{"TrainingImage": "img", "TrainingInputMode": "File"}},
                    "OutputDataConfig": {{"S3OutputPath": "s3://bucket/out/"}},
                    "ResourceConfig": {{"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}},
                    "StoppingCondition": {{"MaxRuntimeInSeconds": 3600}},
                }},
            }}
            for i in range(2)
        ]

    BatchSubmitServiceJobOperator.partial(
        task_id="train",
        aws_conn_id="{EMULATOR_CONN_ID}",
        job_queue="{QUEUE}",
        retry_strategy={{"attempts": 2, "evaluateOnExit": [{{"action": "EXIT", "onStatusReason": "*"}}]}},
        wait_for_completion=False,
    ).expand_kwargs(configs())
'''

SCENARIOS = {
    "jobs": [
        {"jobName": "uidraw-0-*", "attempts": [{"result": "SUCCEEDED", "seconds": 2}]},
        {
            "jobName": "uidraw-1-*",
            "attempts": [{"result": "FAILED", "statusReason": VALIDATION, "seconds": 2}],
        },
    ]
}


def _job_id(stack: AirflowStack, run_id: str, map_index: int) -> str:
    got = stack.api(
        "GET",
        f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/train"
        "/xcomEntries/return_value",
        params={"map_index": map_index},
    )
    return str(got["value"]).strip('"')


def _fill(driver: Any, lane: Any, kind: str) -> str:
    pins = lane.find_elements("css selector", f'g.marker[data-kind="{kind}"] circle')
    assert len(pins) == 1, f"{len(pins)} {kind} pins"
    return str(driver.execute_script("return getComputedStyle(arguments[0]).fill", pins[0]))


def test_unwatched_lanes_and_end_pins_in_the_browser(
    stack: AirflowStack, emulator: Any, request: pytest.FixtureRequest
) -> None:
    major, minor = (int(x) for x in stack.version().split(".")[:2])
    if (major, minor) < (3, 1):
        pytest.skip("external views need Airflow >= 3.1")
    driver = request.getfixturevalue("browser")
    emulator.configure(seconds_per_state=1)
    emulator.create_queue(QUEUE, max_capacity=1)
    emulator.load_scenarios(SCENARIOS)
    stack.add_dag_file(DAG_FILE, name=f"{DAG_ID}.py")
    stack.wait_for_dag(DAG_ID)
    stack.unpause(DAG_ID)
    run_id = stack.trigger(DAG_ID)
    for index in (0, 1):
        stack.wait_for_task(
            DAG_ID, run_id, "train", ["success"], map_index=index, fail_on=["failed"]
        )
    job_ids = [_job_id(stack, run_id, index) for index in (0, 1)]
    batch = emulator.client()

    def ended() -> dict[str, dict[str, Any]] | None:
        described = {j: batch.describe_service_job(jobId=j) for j in job_ids}
        statuses = [d["status"] for d in described.values()]
        return described if set(statuses) <= {"SUCCEEDED", "FAILED"} else None

    described = _wait("both submitted jobs to end on the emulator", ended, timeout=120)
    assert [described[j]["status"] for j in job_ids] == ["SUCCEEDED", "FAILED"]

    driver.get(
        stack.base_url
        + "/auth/token/login?"
        + urllib.parse.urlencode({"next": stack.base_url + "/"})
    )
    _wait("the JWT cookie", lambda: driver.get_cookie("_token"), timeout=60)
    fills: dict[str, dict[str, str]] = {}
    for index, job_id in enumerate(job_ids):
        driver.get(
            f"{stack.base_url}/batch-service/ti?"
            + urllib.parse.urlencode(
                {
                    "dag_id": DAG_ID,
                    "run_id": run_id,
                    "task_id": "train",
                    "map_index": index,
                    "theme": "light",
                }
            )
        )
        lane = _wait(
            f"the lane of map index {index}",
            lambda job_id=job_id: driver.find_element(
                "css selector", f'section.lane[data-job-id="{job_id}"]'
            ),
        )
        source = lane.find_element("css selector", '[data-fact="source"]').text
        assert source == "times from the job description", source  # unwatched: no XCom
        d = described[job_id]
        (attempt,) = d["attempts"]
        rects = lane.find_elements("css selector", "rect.seg")
        assert [
            (r.get_attribute("data-status"), int(r.get_attribute("data-ms"))) for r in rects
        ] == [
            ("RUNNABLE", d["scheduledAt"] - d["createdAt"]),
            ("STARTING", attempt["startedAt"] - d["scheduledAt"]),
            ("RUNNING", d["stoppedAt"] - attempt["startedAt"]),
        ]
        # Painted side by side: RUNNABLE ends where SCHEDULED/STARTING begins.
        boxes = [r.rect for r in rects]
        assert abs(boxes[0]["x"] + boxes[0]["width"] - boxes[1]["x"]) <= 1, boxes
        attempt_kind = "attempt_succeeded" if d["status"] == "SUCCEEDED" else "attempt_failed"
        fills[d["status"]] = {
            "end": _fill(driver, lane, "end"),
            "attempt": _fill(driver, lane, attempt_kind),
        }
    assert fills["SUCCEEDED"] == {"end": OK_RGB, "attempt": OK_RGB}, fills
    assert fills["FAILED"] == {"end": BAD_RGB, "attempt": BAD_RGB}, fills
