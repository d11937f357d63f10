"""The UI plugin's pure view models and rendering (no Airflow, no boto3 in the code under test,
but for ``airflow_data.env_aws_conn_ids``).

Real responses come from the in-process emulator with a frozen clock: one job that is requeued
for capacity, fails an attempt that a RETRY rule retries, then succeeds, polled the way the wait
polls it (recording each state change it sees, as the ``batch_service_timeline`` XCom does).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from emulator.helpers import ISE  # tests/emulator/helpers.py, as tests/provider/support has it

from airflow_batch_service.core.task_tag import TASK_TAG, TaskKey
from airflow_batch_service.plugins import render, render_queues, render_tab
from airflow_batch_service.plugins.airflow_data import env_aws_conn_ids
from airflow_batch_service.plugins.queues import CapacityBar, build_queue_view, capacity_bars
from airflow_batch_service.plugins.segments import timeline_entries
from airflow_batch_service.plugins.task_instances import TaskInstanceInfo, TryInfo
from airflow_batch_service.plugins.timeline import LaneInput, build_lane

RETRY_STRATEGY = {
    "attempts": 2,
    "evaluateOnExit": [
        {
            "action": "RETRY",
            "onStatusReason": "Received status from SageMaker: InternalServerError*",
        },
        {"action": "EXIT", "onStatusReason": "*"},
    ],
}
#: A small payload (one instance), as the boto3 call sends it: JSON text.
PAYLOAD_JSON = json.dumps(
    {"TrainingJobName": "t", "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1}}
)


def _submit_tagged_try(batch: Any, name: str, queue: str, map_index: int) -> str:
    """Submit with boto3 as the sweep's mapped ``train`` task ``map_index`` would (the task tag
    the pages group jobs by) and the UI tests' retry strategy: the job id."""
    return batch.submit_service_job(
        jobName=name,
        jobQueue=queue,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload=PAYLOAD_JSON,
        retryStrategy=RETRY_STRATEGY,
        tags={TASK_TAG: f"sweep:train:manual__2026-01-01T00:00:00+00:00:{map_index}"},
    )["jobId"]


@pytest.fixture
def story(batch_emulator: Any) -> dict[str, Any]:
    """A job requeued for capacity, retried by rule 1, then succeeded; polled every 0.5 s."""
    emu = batch_emulator
    emu.configure(seconds_per_state=1, freeze_clock=True)
    emu.load_scenarios(
        {
            "jobs": [
                {
                    "jobName": "story",
                    "attempts": [
                        {"result": "CAPACITY"},
                        {"result": "FAILED", "statusReason": ISE, "seconds": 2},
                        {"result": "SUCCEEDED", "seconds": 3},
                    ],
                }
            ]
        }
    )
    batch = emu.client()
    job_id = _submit_tagged_try(batch, "story", emu.queue_name, 0)
    transitions: list[dict[str, Any]] = []
    for _ in range(60):
        d = batch.describe_service_job(jobId=job_id)
        now = emu.advance(0)
        if not transitions or transitions[-1]["status"] != d["status"]:
            transitions.append(
                {
                    "status": d["status"],
                    "atMs": round(now * 1000),
                    "exact": False,
                    "reason": d.get("statusReason"),
                }
            )
        if d["status"] in ("SUCCEEDED", "FAILED"):
            break
        emu.advance(0.5)
    d.pop("ResponseMetadata", None)
    return {"describe": d, "transitions": transitions, "job_id": job_id}


def test_observed_lane_shows_requeue_retry_and_success(story: dict[str, Any]) -> None:
    lane = build_lane(
        LaneInput(
            job_id=story["job_id"],
            describe=story["describe"],
            transitions=story["transitions"],
            try_number=1,
        ),
        now_ms=story["describe"]["stoppedAt"] + 1000,
        links_for=lambda job_id, training: [
            ("Batch service job", f"https://x/{job_id}/{training}")
        ],
    )
    assert lane.outcome == "SUCCEEDED" and lane.source == "observed"
    assert lane.capacity_requeues == 1 and lane.capacity_requeues_known
    statuses = [s.status for s in lane.segments]
    # RUNNABLE -> SCHEDULED -> (capacity) RUNNABLE -> ... RUNNING -> (retry) RUNNABLE -> ... RUNNING
    assert statuses[statuses.index("SCHEDULED") + 1] == "RUNNABLE"
    assert statuses.count("RUNNING") == 2 and statuses[-1] == "RUNNING"
    kinds = [m.kind for m in lane.markers]
    assert kinds.count("capacity") == 1
    assert "attempt_retried" in kinds and "attempt_succeeded" in kinds and kinds[-1] == "end"
    assert kinds.index("capacity") < kinds.index("attempt_retried")
    first, second = lane.attempts
    assert (first.outcome, second.outcome) == ("RETRIED", "SUCCEEDED")
    assert first.reason == ISE
    assert first.rule is not None and first.rule.startswith("rule 1 RETRY")
    assert "queued attempt 2" in (first.decision or "")
    assert lane.links and lane.links[0][1].endswith(second.training_job_name or "?")
    assert "SUCCEEDED after 2 attempt(s)" in lane.headline
    # Segments are contiguous and cover the lane.
    for a, b in zip(lane.segments, lane.segments[1:], strict=False):
        assert a.end_ms == b.start_ms
    assert lane.segments[-1].end_ms == story["describe"]["stoppedAt"]
    assert lane.time_in()["RUNNING"] == 5000  # 2 s failed attempt + 3 s successful one


def test_capacity_requeue_seen_without_its_scheduled_state() -> None:
    """Polls that miss the short SCHEDULED still see RUNNABLE gain a capacity reason."""
    capacity = "Received status from SageMaker: CapacityError: Unable to provision"
    transitions = [
        {"status": "RUNNABLE", "atMs": 0, "exact": True, "reason": None},
        {"status": "RUNNABLE", "atMs": 4000, "exact": False, "reason": capacity},
        {"status": "RUNNING", "atMs": 9000, "exact": True, "reason": capacity},
    ]
    describe = {
        "jobId": "j",
        "status": "RUNNING",
        "createdAt": 0,
        "statusReason": capacity,
        "attempts": [{"startedAt": 9000}],
    }
    lane = build_lane(
        LaneInput(job_id="j", describe=describe, transitions=transitions), now_ms=10_000
    )
    assert lane.capacity_requeues == 1
    assert [m.kind for m in lane.markers] == ["capacity"]


def test_describe_only_lane_for_an_earlier_try(story: dict[str, Any]) -> None:
    d = story["describe"]
    lane = build_lane(
        LaneInput(job_id=story["job_id"], describe=d, try_number=1),
        now_ms=d["stoppedAt"] + 1000,
    )
    assert lane.source == "describe"
    # Before attempt 1 the job was RUNNABLE, SCHEDULED (the capacity bounce), RUNNABLE again,
    # SCHEDULED, STARTING, with no time in the response: one WAITING. scheduledAt (the latest
    # scheduling) splits the wait before attempt 2.
    assert [s.status for s in lane.segments] == [
        "WAITING",
        "RUNNING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
    ]
    first, second = d["attempts"]
    runnable, starting = lane.segments[2:4]
    assert (runnable.start_ms, runnable.end_ms) == (first["stoppedAt"], d["scheduledAt"])
    assert (starting.start_ms, starting.end_ms) == (d["scheduledAt"], second["startedAt"])
    assert all(s.exact for s in lane.segments)
    # The capacity bounce left no trace in the describe: say so rather than claim zero.
    assert lane.capacity_requeues == 0 and not lane.capacity_requeues_known
    assert [a.outcome for a in lane.attempts] == ["RETRIED", "SUCCEEDED"]
    html = render_tab.lane_html(lane)
    assert "not recorded for this try" in html


def _run_to_the_end(emu: Any, batch: Any, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Advance the frozen clock until every job has ended; their final describes."""
    for _ in range(200):
        described = {j: batch.describe_service_job(jobId=j) for j in job_ids}
        if all(d["status"] in ("SUCCEEDED", "FAILED") for d in described.values()):
            for d in described.values():
                d.pop("ResponseMetadata", None)
            return described
        emu.advance(0.5)
    raise AssertionError(f"jobs did not end: { {j: d['status'] for j, d in described.items()} }")


def test_unwatched_lanes_split_the_wait_at_scheduled_at(batch_emulator: Any) -> None:
    """A submit-only task (no wait, so no observed transitions) on a queue with room for one
    job: the second job waits in RUNNABLE for the first one's capacity. Each lane, built from
    DescribeServiceJob alone, is RUNNABLE from submit to scheduledAt, then SCHEDULED/STARTING to
    the attempt's startedAt, then RUNNING: not one undivided WAITING bar."""
    emu = batch_emulator
    emu.configure(seconds_per_state=1, freeze_clock=True)
    emu.create_queue("one", max_capacity=1)
    emu.load_scenarios({"jobs": [{"jobName": "sw*", "attempts": [{"result": "SUCCEEDED"}]}]})
    batch = emu.client()
    ids = [_submit_tagged_try(batch, f"sw{i}", "one", i) for i in range(2)]
    described = _run_to_the_end(emu, batch, ids)
    lanes = [
        build_lane(
            LaneInput(job_id=j, describe=described[j], map_index=i, role="submitted"),
            now_ms=described[j]["stoppedAt"] + 1000,
        )
        for i, j in enumerate(ids)
    ]
    for lane in lanes:
        d = described[lane.job_id]
        (attempt,) = d["attempts"]
        assert lane.source == "describe" and lane.outcome == "SUCCEEDED"
        assert [(s.status, s.start_ms, s.end_ms) for s in lane.segments] == [
            ("RUNNABLE", d["createdAt"], d["scheduledAt"]),
            ("STARTING", d["scheduledAt"], attempt["startedAt"]),
            ("RUNNING", attempt["startedAt"], d["stoppedAt"]),
        ]
        assert lane.segments[1].note == "SCHEDULED, then STARTING"
        html = render_tab.lane_html(lane)
        assert re.findall(r'<rect class="seg [^"]*" data-status="(\w+)"', html) == [
            "RUNNABLE",
            "STARTING",
            "RUNNING",
        ]
    # The second job waited for the first one's instance: its RUNNABLE bar says so.
    first, second = (described[j] for j in ids)
    assert second["scheduledAt"] >= first["stoppedAt"]
    assert lanes[1].time_in()["RUNNABLE"] > lanes[0].time_in()["RUNNABLE"]


def test_unwatched_lane_of_a_job_terminated_before_it_ran(batch_emulator: Any) -> None:
    """Terminated while STARTING: the attempt has a stoppedAt and no startedAt. The lane is
    RUNNABLE to scheduledAt, then SCHEDULED (maybe STARTING) to the end, rather than empty."""
    emu = batch_emulator
    emu.configure(seconds_per_state=1, freeze_clock=True)
    emu.load_scenarios({"jobs": [{"jobName": "stop", "attempts": [{"result": "HANG"}]}]})
    batch = emu.client()
    job_id = _submit_tagged_try(batch, "stop", emu.queue_name, 0)
    for _ in range(40):
        if batch.describe_service_job(jobId=job_id)["status"] == "STARTING":
            break
        emu.advance(0.25)
    batch.terminate_service_job(jobId=job_id, reason="stopped by the test")
    d = _run_to_the_end(emu, batch, [job_id])[job_id]
    assert d["status"] == "FAILED" and "startedAt" not in d["attempts"][0]
    lane = build_lane(LaneInput(job_id=job_id, describe=d), now_ms=d["stoppedAt"] + 1000)
    assert [(s.status, s.start_ms, s.end_ms) for s in lane.segments] == [
        ("RUNNABLE", d["createdAt"], d["scheduledAt"]),
        ("SCHEDULED", d["scheduledAt"], d["stoppedAt"]),
    ]
    assert "ended before it ran" in lane.segments[1].label()


def _pin_fill(html: str, kind: str) -> str:
    """The ``fill`` the page's stylesheet gives the circle of the ``kind`` pin, resolved as a
    browser would: among the rules ``.a.b circle { fill: ... }`` whose classes the pin's group
    has, the most specific, then the last."""
    groups = re.findall(r'<g class="([^"]*)"[^>]*data-kind="' + re.escape(kind) + '"', html)
    assert groups, f"no {kind} pin drawn"
    classes = set(groups[0].split())
    best: tuple[int, int, str] | None = None
    for order, (selectors, body) in enumerate(re.findall(r"([^{}]+)\{([^{}]*)\}", render.CSS)):
        fill = re.search(r"(?:^|;)\s*fill:\s*([^;]+?)\s*(?:;|$)", body)
        if not fill:
            continue
        for selector in selectors.split(","):
            match = re.fullmatch(r"\s*((?:\.[\w-]+)+) circle\s*", selector)
            if not match:
                continue
            needed = set(match.group(1).lstrip(".").split("."))
            if needed <= classes and (best is None or (len(needed), order) >= best[:2]):
                best = (len(needed), order, fill.group(1))
    assert best is not None, f"no stylesheet rule fills the {kind} pin ({classes})"
    return best[2]


def test_end_pin_follows_the_final_status(batch_emulator: Any, story: dict[str, Any]) -> None:
    """A FAILED job's end pin is drawn in the failure colour, like its failed attempt; a
    SUCCEEDED job's in the success colour."""
    emu = batch_emulator
    reason = "Received status from SageMaker: ValidationException: no input"
    emu.load_scenarios(
        {"jobs": [{"jobName": "bad", "attempts": [{"result": "FAILED", "statusReason": reason}]}]}
    )
    batch = emu.client()
    job_id = _submit_tagged_try(batch, "bad", emu.queue_name, 1)
    d = _run_to_the_end(emu, batch, [job_id])[job_id]
    assert d["status"] == "FAILED"
    failed = build_lane(LaneInput(job_id=job_id, describe=d), now_ms=d["stoppedAt"] + 1000)
    succeeded = build_lane(
        LaneInput(
            job_id=story["job_id"], describe=story["describe"], transitions=story["transitions"]
        ),
        now_ms=story["describe"]["stoppedAt"] + 1000,
    )
    assert failed.outcome == "FAILED" and succeeded.outcome == "SUCCEEDED"
    assert [m.kind for m in failed.markers] == ["attempt_failed", "end"]
    failed_html, succeeded_html = render_tab.lane_html(failed), render_tab.lane_html(succeeded)
    assert _pin_fill(failed_html, "end") == "var(--bad)"
    assert _pin_fill(failed_html, "end") == _pin_fill(failed_html, "attempt_failed")
    assert _pin_fill(succeeded_html, "end") == "var(--ok)"
    assert _pin_fill(succeeded_html, "attempt_succeeded") == "var(--ok)"
    assert _pin_fill(succeeded_html, "attempt_retried") == "var(--bad)"
    end = failed.markers[-1]
    assert (end.outcome, end.tone) == ("FAILED", "bad")
    assert succeeded.markers[-1].tone == "ok"
    assert _pin_fill(succeeded_html, "capacity") == "var(--RUNNABLE)"


def test_in_progress_lane_is_ongoing(batch_emulator: Any) -> None:
    emu = batch_emulator
    emu.configure(seconds_per_state=1, freeze_clock=True)
    emu.load_scenarios({"jobs": [{"jobName": "long", "attempts": [{"result": "HANG"}]}]})
    batch = emu.client()
    job_id = _submit_tagged_try(batch, "long", emu.queue_name, 1)
    emu.advance(10)
    d = batch.describe_service_job(jobId=job_id)
    now = int(emu.advance(0) * 1000)
    lane = build_lane(LaneInput(job_id=job_id, describe=d), now_ms=now)
    assert lane.outcome == "IN_PROGRESS" and lane.status == "RUNNING"
    assert lane.segments[-1].ongoing and lane.segments[-1].end_ms == now
    assert [a.outcome for a in lane.attempts] == ["RUNNING"]
    assert "so far" in lane.segments[-1].label()


def test_preempted_runs_are_counted_and_listed() -> None:
    describe = {
        "jobId": "j",
        "jobName": "p",
        "status": "SUCCEEDED",
        "createdAt": 0,
        "stoppedAt": 10_000,
        "attempts": [
            {
                "startedAt": 6000,
                "stoppedAt": 10_000,
                "statusReason": "Received status from SageMaker: Training job completed",
                "serviceResourceId": {"name": "TrainingJobArn", "value": "arn:x:training-job/b"},
            }
        ],
        "preemptionSummary": {
            "preemptedAttemptCount": 1,
            "recentPreemptedAttempts": [
                {
                    "startedAt": 1000,
                    "stoppedAt": 3000,
                    "statusReason": "PREEMPTION_IN_PROGRESS: Cross-share preemption triggered to reclaim borrowed capacity",
                    "serviceResourceId": {
                        "name": "TrainingJobArn",
                        "value": "arn:x:training-job/a",
                    },
                }
            ],
        },
    }
    lane = build_lane(LaneInput(job_id="j", describe=describe), now_ms=20_000)
    assert lane.preemptions == 1
    assert [a.outcome for a in lane.attempts] == ["PREEMPTED", "SUCCEEDED"]
    assert [m.kind for m in lane.markers] == ["preempted", "attempt_succeeded", "end"]
    assert [s.note for s in lane.segments if s.status == "RUNNING"] == ["preempted", None]


def test_failed_by_exit_rule_explains_the_rule() -> None:
    describe = {
        "jobId": "j",
        "jobName": "bad",
        "status": "FAILED",
        "createdAt": 0,
        "stoppedAt": 5000,
        "statusReason": "Received status from SageMaker: ValidationException: no input",
        "retryStrategy": RETRY_STRATEGY,
        "attempts": [
            {
                "startedAt": 2000,
                "stoppedAt": 5000,
                "statusReason": "Received status from SageMaker: ValidationException: no input",
            }
        ],
    }
    lane = build_lane(LaneInput(job_id="j", describe=describe), now_ms=9000)
    assert lane.outcome == "FAILED"
    assert lane.attempts[0].rule == 'rule 2 EXIT ("*")'
    assert "EXIT rule matched" in lane.headline
    assert "failed for good" in (lane.attempts[0].decision or "")


def test_lane_without_describe_or_transitions_is_an_error_lane() -> None:
    lane = build_lane(
        LaneInput(job_id="gone", error="DescribeServiceJob failed: not found"), now_ms=5
    )
    assert lane.outcome == "UNKNOWN" and lane.error and not lane.segments
    assert "DescribeServiceJob failed" in render_tab.lane_html(lane)


def test_timeline_entries_is_lenient() -> None:
    value = [
        {
            "jobId": "a",
            "jobName": "n",
            "transitions": [{"status": "RUNNABLE", "atMs": 1, "exact": True}],
        },
        {"jobId": "b", "transitions": "nonsense"},
        "junk",
    ]
    assert timeline_entries(value) == {"a": [{"status": "RUNNABLE", "atMs": 1, "exact": True}]}
    assert timeline_entries(None) == {} and timeline_entries("x") == {}
    assert timeline_entries({"jobId": "c", "transitions": []}) == {"c": []}


def test_render_lane_draws_bars_markers_and_links(story: dict[str, Any]) -> None:
    lane = build_lane(
        LaneInput(
            job_id=story["job_id"], describe=story["describe"], transitions=story["transitions"]
        ),
        now_ms=story["describe"]["stoppedAt"],
        links_for=lambda job_id, training: [("Batch service job", "https://console/<x>&y")],
    )
    html = render_tab.tab_page(title="Service jobs of train [0]", lanes=[lane])
    assert html.count('class="seg seg-') == len(lane.segments)
    assert 'data-kind="capacity"' in html and 'data-kind="attempt_retried"' in html
    assert "rule 1 RETRY" in html and "InternalServerError" in html
    assert "https://console/&lt;x&gt;&amp;y" in html  # escaped
    assert 'target="_blank"' in html
    assert "prefers-color-scheme: dark" in html and ":root[data-theme=dark]" in html
    assert render.page("t", "", theme="dark").count('data-theme="dark" data-theme-forced="1"') == 1


# ----------------------------------------------------------------------------- queues


def test_task_label() -> None:
    """The queue page names a task as a person reads it (the tag's own reading, and its
    edges, are ``core.task_tag``'s: tests/core/test_task_tag.py)."""
    run = "manual__2026-01-01T00:00:00+00:00"
    assert render_queues.task_label(TaskKey("d", "t", run, 3)) == f"d / t[3] / {run}"
    assert render_queues.task_label(TaskKey("d", "t", "r")) == "d / t / r"


def test_try_at_picks_the_try_running_when_the_job_was_created() -> None:
    ti = TaskInstanceInfo(
        dag_id="d",
        task_id="t",
        run_id="r",
        map_index=-1,
        try_number=3,
        state="running",
        operator="BatchSubmitServiceJobOperator",
        start_ms=50,
        history=[TryInfo(1, "failed", 0, 10), TryInfo(2, "failed", 20, 30)],
    )
    assert [t.try_number for t in ti.tries()] == [1, 2, 3]
    assert ti.try_at(5) == 1 and ti.try_at(25) == 2 and ti.try_at(60) == 3
    assert ti.try_at(35) == 2  # between tries: the latest that had started
    assert ti.try_at(None) == 3 and ti.try_at(-1) == 3


def test_capacity_bars_num_instances_and_instance_types() -> None:
    assert capacity_bars({"ml.g5.xlarge": 2}, {"NUM_INSTANCES": 2}) == (
        CapacityBar("all instance types", 2, 2),
        CapacityBar("ml.g5.xlarge", 2, None),
    )
    bars = capacity_bars({"ml.p4d.24xlarge": 1}, {"ml.p4d.24xlarge": 4, "ml.g5.xlarge": 8})
    assert [(b.label, b.used, b.limit) for b in bars] == [
        ("ml.g5.xlarge", 0, 8),
        ("ml.p4d.24xlarge", 1, 4),
    ]
    assert bars[1].text() == "1 of 4 instances in use"
    assert CapacityBar("x", 3, 3).full


def test_queue_view_from_a_real_snapshot(batch_emulator: Any) -> None:
    emu = batch_emulator
    emu.configure(seconds_per_state=1, freeze_clock=True)
    emu.load_scenarios({"jobs": [{"jobName": "w*", "attempts": [{"result": "HANG"}]}]})
    emu.create_queue("small", fair_share=True, max_capacity=1)
    batch = emu.client()
    ids = [
        batch.submit_service_job(
            jobName=f"w{i}",
            jobQueue="small",
            serviceJobType="SAGEMAKER_TRAINING",
            serviceRequestPayload=PAYLOAD_JSON,
            shareIdentifier="a" if i % 2 else "b",
            tags={TASK_TAG: f"sweep:train:r1:{i}"} if i != 2 else {"team": "other"},
        )["jobId"]
        for i in range(4)
    ]
    emu.advance(10)
    snapshot = batch.get_job_queue_snapshot(jobQueue="small")
    runnable = batch.list_service_jobs(jobQueue="small", jobStatus="RUNNABLE")["jobSummaryList"]
    queue = batch.describe_job_queues(jobQueues=["small"])["jobQueues"][0]
    envs = batch.describe_service_environments()["serviceEnvironments"]
    env = [e for e in envs if e["serviceEnvironmentName"] == "small-env"]
    tags = {}
    for s in runnable:
        tags[s["jobArn"]] = batch.describe_service_job(jobId=s["jobId"]).get("tags") or {}
    now = int(emu.advance(0) * 1000)
    view = build_queue_view(
        queue,
        environments=env,
        snapshot=snapshot,
        runnable=runnable,
        tags=tags,
        known_tasks={("sweep", "train", "r1", 1), ("sweep", "train", "r1", 3)},
        visible_dags={"sweep"},
        now_ms=now,
    )
    assert view.policy == "fair share" and view.environments == ("small-env",)
    total = view.capacity[0]
    assert (total.label, total.used, total.limit, total.full) == ("all instance types", 1, 1, True)
    assert view.waiting_total == 3
    assert [w.position for w in view.waiting] == [1, 2, 3]
    assert all(w.age_ms is not None and w.age_ms >= 9000 for w in view.waiting)
    by_id = {w.job_id: w for w in view.waiting}
    running = set(ids) - set(by_id)
    assert len(running) == 1
    owners = {w.job_id: (w.owner, w.owner_known, w.owner_visible) for w in view.waiting}
    assert owners[ids[2]] == (None, False, False)  # untagged (not submitted by the provider)
    for i in (1, 3):
        if ids[i] in owners:
            assert owners[ids[i]] == (TaskKey("sweep", "train", "r1", i), True, True)
    assert view.shares and view.shares[0].kind == "fair share"
    html = render_queues.queues_page(
        conn_ids=["c"], conn_id="c", views=[view], generated_ms=now, refresh=10
    )
    assert 'class="waiting-job"' in html and 'data-mine="true"' in html
    assert "../dags/sweep/runs/r1/tasks/train/mapped/" in html and 'target="_top"' in html
    assert '<meta http-equiv="refresh" content="10">' in html
    assert 'data-used="1" data-limit="1"' in html


def test_queue_view_hides_dags_the_viewer_may_not_read() -> None:
    arn = "arn:aws:batch:us-east-1:1:service-job/x"
    view = build_queue_view(
        {"jobQueueName": "q"},
        environments=[
            {
                "serviceEnvironmentName": "e",
                "capacityLimits": [{"maxCapacity": 2, "capacityUnit": "NUM_INSTANCES"}],
            }
        ],
        snapshot={"frontOfQueue": {"jobs": [{"jobArn": arn, "earliestTimeAtPosition": 1000}]}},
        runnable=[{"jobArn": arn, "jobId": "x", "jobName": "n", "createdAt": 0}],
        tags={arn: {TASK_TAG: "secret_dag:t:r:-1"}},
        known_tasks={("secret_dag", "t", "r", -1)},
        visible_dags=set(),
        now_ms=5000,
    )
    job = view.waiting[0]
    # A DAG the viewer may not read does not exist for them: the job is what ListServiceJobs
    # shows anyone (name, age, position), with nothing of the task its tag names.
    assert (job.owner, job.owner_known, job.owner_visible) == (None, False, False)
    assert (job.position, job.job_name, job.age_ms) == (1, "n", 5000)
    html = render_queues.queue_html(view)
    assert "secret_dag" not in html and 'data-mine="false"' in html
    # The same job for a viewer of that DAG is linked.
    readable = build_queue_view(
        {"jobQueueName": "q"},
        environments=[],
        snapshot={"frontOfQueue": {"jobs": [{"jobArn": arn, "earliestTimeAtPosition": 1000}]}},
        runnable=[{"jobArn": arn, "jobId": "x", "jobName": "n", "createdAt": 0}],
        tags={arn: {TASK_TAG: "secret_dag:t:r:-1"}},
        known_tasks={("secret_dag", "t", "r", -1)},
        visible_dags={"secret_dag"},
        now_ms=5000,
    )
    assert 'href="../dags/secret_dag/runs/r/tasks/t"' in render_queues.queue_html(readable)


def test_quota_share_view() -> None:
    view = build_queue_view(
        {"jobQueueName": "q", "schedulingPolicyArn": "p"},
        environments=[
            {
                "serviceEnvironmentName": "e",
                "capacityLimits": [{"maxCapacity": 8, "capacityUnit": "ml.g5.xlarge"}],
            }
        ],
        snapshot={
            "queueUtilization": {
                "totalCapacityUsage": [{"capacityUnit": "ml.g5.xlarge", "quantity": 3}],
                "quotaShareUtilization": {
                    "topCapacityUtilization": [
                        {
                            "quotaShareName": "research",
                            "capacityUsage": [{"capacityUnit": "ml.g5.xlarge", "quantity": 3}],
                        }
                    ]
                },
            }
        },
        quota_shares=[
            {
                "quotaShareName": "research",
                "capacityLimits": [{"maxCapacity": 2, "capacityUnit": "ml.g5.xlarge"}],
                "resourceSharingConfiguration": {"strategy": "LEND_AND_BORROW", "borrowLimit": 50},
                "preemptionConfiguration": {"inSharePreemption": "ENABLED"},
                "state": "ENABLED",
            },
            {
                "quotaShareName": "prod",
                "capacityLimits": [{"maxCapacity": 6, "capacityUnit": "ml.g5.xlarge"}],
                "resourceSharingConfiguration": {"strategy": "RESERVE"},
            },
        ],
        now_ms=0,
    )
    assert view.policy == "quota share"
    assert [(b.label, b.used, b.limit) for b in view.capacity] == [("ml.g5.xlarge", 3, 8)]
    shares = {s.name: s for s in view.shares}
    assert shares["research"].bars[0].used == 3 and shares["research"].bars[0].limit == 2
    assert shares["research"].detail == "LEND_AND_BORROW, borrows up to 50%, in-share preemption"
    assert shares["prod"].bars[0].used == 0 and shares["prod"].detail == "RESERVE"


def test_env_aws_conn_ids() -> None:
    env = {
        "AIRFLOW_CONN_BATCH_EMULATOR": json.dumps({"conn_type": "aws", "extra": {}}),
        "AIRFLOW_CONN_AWS_PROD": "aws://key:secret@",
        "AIRFLOW_CONN_PG": "postgres://x",
        "AIRFLOW_CONN_BROKEN": "{not json",
        "OTHER": "aws://",
    }
    assert sorted(env_aws_conn_ids(env)) == ["aws_prod", "batch_emulator"]


def test_view_model_modules_import_neither_airflow_nor_boto3() -> None:
    code = (
        "import sys\n"
        "from airflow_batch_service.plugins import (\n"
        "    cache, queues, render, render_queues, render_tab, segments, task_instances,\n"
        "    timeline, values,\n"
        ")\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('airflow', 'boto3', 'botocore', 'fastapi')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
