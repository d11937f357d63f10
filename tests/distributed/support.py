"""What the distributed lane's tests share: DAG bodies, who runs which trigger, and counts.

The DAG files come from ``integration.support.dag_source`` (the same head and payload as the
single-machine tests); the jobs are held at named gates in the emulator, so a fault is always
injected while the waits are where the test says, however slow the machine.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from integration.support import dag_source, hold_jobs, job_name, until

from .cluster import DistributedStack


#: The operator's deferred wait, which owns its job (``terminate_on_kill``).
def operator_tasks(count: int, name: str, poll: float, prefix: str = "train") -> str:
    return "\n".join(
        f"BatchSubmitServiceJobOperator(task_id='{prefix}_{i}', aws_conn_id=CONN, job_queue=QUEUE, "
        f"job_name='{name}-{prefix[0]}{i}', service_request_payload=PAYLOAD, "
        f"wait_for_completion=True, deferrable=True, poll_interval={poll}, retries=1, "
        f"retry_delay=timedelta(seconds=1))"
        for i in range(count)
    )


def sensor_tasks(count: int, name: str, poll: float) -> str:
    """``submit_i`` submits without waiting; ``wait_i`` is the sensor's deferred wait on it."""
    return "\n".join(
        f"BatchSubmitServiceJobOperator(task_id='submit_{i}', aws_conn_id=CONN, job_queue=QUEUE, "
        f"job_name='{name}-s{i}', service_request_payload=PAYLOAD, wait_for_completion=False) "
        f">> BatchServiceJobSensor(task_id='wait_{i}', aws_conn_id=CONN, "
        f"job_id=\"{{{{ ti.xcom_pull(task_ids='submit_{i}') }}}}\", deferrable=True, "
        f"poke_interval={poll}, timeout=1800)"
        for i in range(count)
    )


def write_dag(stack: DistributedStack, dag_id: str, body: str) -> None:
    stack.add_dag_file(dag_source(dag_id, body), f"{dag_id}.py")
    stack.wait_for_dag(dag_id)


def host_component(hostname: str) -> str:
    """``abs-triggerer-2`` -> ``triggerer-2`` (``cluster.DistributedStack.component_env``)."""
    return hostname.removeprefix("abs-")


def deferred_and_running(
    stack: DistributedStack, dag_id: str, run_id: str, tasks: list[str], timeout: float = 300
) -> dict[str, str]:
    """Wait until every one of ``tasks`` is deferred, its trigger is assigned to a live
    triggerer and has started there; returns ``task -> triggerer hostname``."""

    def check() -> dict[str, str] | None:
        owners = stack.trigger_owners(dag_id, run_id)
        if any(owners.get(t) is None for t in tasks):
            return None
        if not all(" starting" in stack.trigger_log(dag_id, run_id, t) for t in tasks):
            return None
        return {t: str(owners[t]) for t in tasks}

    got = until(
        f"{len(tasks)} tasks deferred with their triggers started", check, timeout, stack,
        dag_id, run_id,
    )  # fmt: skip
    return dict(got)


def busiest(owners: dict[str, str]) -> str:
    """The hostname of the triggerer that runs the most of these triggers."""
    return Counter(owners.values()).most_common(1)[0][0]


def triggerer_log(stack: DistributedStack, dag_id: str, run_id: str, task: str, job: int) -> str:
    """What triggerer job ``job`` logged for ``task`` (its own ``.log.trigger.<job>.log``)."""
    files = [
        p
        for p in stack.task_log_files(dag_id, run_id, task)
        if p.name.endswith(f".log.trigger.{job}.log")
    ]
    return "\n".join(p.read_text(errors="replace") for p in files)


def component_says(
    stack: DistributedStack, component: str, needle: str, dag_id: str, task: str
) -> bool:
    """Whether ``component``'s own log has a line with ``needle`` about ``dag_id``'s ``task``
    (a trigger's lines carry ``dag_id=`` and ``task_id=`` there)."""
    return any(
        needle in line and f"dag_id={dag_id} " in line and f"task_id={task} " in line
        for line in stack.component_log(component).splitlines()
    )


def jobs_named(emulator: Any, prefix: str) -> list[dict[str, Any]]:
    client = emulator.client()
    pages = client.get_paginator("list_service_jobs").paginate(
        jobQueue=emulator.queue_name, filters=[{"name": "JOB_NAME", "values": [f"{prefix}*"]}]
    )
    return [job for page in pages for job in page["jobSummaryList"]]


__all__ = ["hold_jobs", "job_name", "until"]
