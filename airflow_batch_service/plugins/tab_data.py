"""The "Service jobs" tab's data: every service job a task instance submitted or watched.

A job of the current try is named by this provider's XComs (the ``batch_service_timeline``
the wait recorded, ``return_value``, ``summary``, ``job_arn``, the link's job id) or by a
sensor's rendered ``job_id``. Airflow clears XComs before every try, so the jobs of earlier
tries of a submit task are found the way durable submission finds them: ListServiceJobs by the
rendered job name on the rendered queue, kept when their task tag (``core.task_tag``) is this
task instance's. Each job becomes a lane (``timeline.build_lane``), with the console links
the task's own extra links give.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink

from airflow_batch_service._shared.durable_lookup import jobs_named
from airflow_batch_service.core.task_tag import TASK_TAG, TaskKey
from airflow_batch_service.links.batch_service import (
    BatchServiceJobDetailsLink,
    SageMakerTrainingJobLink,
    TrainingJobLogsLink,
)
from airflow_batch_service.plugins.cache import LIVE_TTL
from airflow_batch_service.plugins.segments import timeline_entries
from airflow_batch_service.plugins.services import Services
from airflow_batch_service.plugins.task_instances import TaskInstanceInfo
from airflow_batch_service.plugins.timeline import JobLane, LaneInput, build_lane
from airflow_batch_service.plugins.values import error_text

#: Earlier-try lookup: at most this many same-named jobs are described.
LOOKUP_LIMIT = 10


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


def _current_jobs(ti: TaskInstanceInfo, link_info: Mapping[str, Any]) -> dict[str, str]:
    """Job id -> where the current try names it (first source wins)."""
    rendered, xcoms = ti.rendered, ti.xcoms
    current: dict[str, str] = dict.fromkeys(
        timeline_entries(xcoms.get("batch_service_timeline")), "timeline"
    )
    sources: list[tuple[str, Any]] = [
        (key, xcoms.get(key)) for key in ("return_value", "summary", "job_arn")
    ]
    sources += [("link", link_info.get("job_id")), ("job_id", rendered.get("job_id"))]
    for source, value in sources:
        found = _job_id(value)
        if found:
            current.setdefault(found, source)
    return current


def lanes_for_task_instance(
    services: Services, ti: TaskInstanceInfo
) -> tuple[list[JobLane], list[str]]:
    """Every service job this task instance submitted or watched, in every try (module doc),
    as lanes in try order, and notes on what could not be looked up."""
    notes: list[str] = []
    rendered, xcoms = ti.rendered, ti.xcoms
    conn_id = str(rendered.get("aws_conn_id") or "aws_default")
    details = xcoms.get("batch_service_job_details")
    link_info: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    region = rendered.get("region_name") or link_info.get("region_name") or None
    role = (
        "watched" if (ti.operator or "").endswith("Sensor") or "job_id" in rendered else "submitted"
    )

    observed = timeline_entries(xcoms.get("batch_service_timeline"))
    current = _current_jobs(ti, link_info)

    earlier: dict[str, dict[str, Any]] = {}
    job_name, job_queue = rendered.get("job_name"), rendered.get("job_queue")
    if role == "submitted" and job_name and job_queue and (len(ti.tries()) > 1 or not current):
        tag = TaskKey(ti.dag_id, ti.task_id, ti.run_id, ti.map_index).tag_value()
        try:
            earlier = services.cache.get(
                ("by-name", conn_id, region, str(job_queue), str(job_name), tag),
                LIVE_TTL,
                lambda: _jobs_by_task_tag(
                    services, conn_id, region, str(job_queue), str(job_name), tag
                ),
            )
        except Exception as exc:
            notes.append(f"Earlier tries' jobs could not be looked up: {error_text(exc)}")
    elif role == "submitted" and len(ti.tries()) > 1 and not (job_name and job_queue):
        notes.append(
            "Earlier tries' jobs cannot be looked up: the rendered job name or queue is unknown."
        )

    links_for = console_links(region, link_info.get("aws_domain"))
    now = services.now_ms()
    lanes: list[JobLane] = []
    for job_id in list(dict.fromkeys([*current, *earlier])):
        describe: dict[str, Any] | None = earlier.get(job_id)
        error = None
        if describe is None:
            try:
                describe = services.describe(conn_id, region, job_id)
            except Exception as exc:
                error = f"DescribeServiceJob failed: {error_text(exc)}"
        created = (describe or {}).get("createdAt")
        try_number = (
            ti.try_number if job_id in current and job_id in observed else ti.try_at(created)
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
    """The describes of the newest :data:`LOOKUP_LIMIT` jobs named ``job_name`` that carry
    task tag ``tag``, by job id."""
    found: dict[str, dict[str, Any]] = {}
    for summary in jobs_named(services.hook(conn_id, region), job_queue, job_name)[:LOOKUP_LIMIT]:
        if summary.get("jobName") != job_name:
            continue
        describe = services.describe(conn_id, region, str(summary["jobId"]))
        if (describe.get("tags") or {}).get(TASK_TAG) == tag:
            found[str(describe["jobId"])] = describe
    return found
