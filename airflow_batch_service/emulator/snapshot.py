"""What the world shows about itself: GetJobQueueSnapshot, and the capacity report tests and
the demo read (not an AWS API).

Apart from ``world`` because these only read its books; nothing here changes a job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_batch_service.emulator.attempts import ms
from airflow_batch_service.emulator.jobs import ServiceJob
from airflow_batch_service.emulator.resources import ServiceQueue
from airflow_batch_service.emulator.scheduler import Usage

if TYPE_CHECKING:
    from airflow_batch_service.emulator.world import World

#: frontOfQueue lists at most this many jobs (documented).
FRONT_OF_QUEUE = 100
#: fairshareUtilization.topCapacityUtilization lists at most this many shares (documented).
TOP_SHARES = 20


def _since(world: World, job: ServiceJob, share: str | None = None) -> int:
    """earliestTimeAtPosition (**choice**): when the job last moved in the order, i.e.
    the later of its entering RUNNABLE and the last time a job ahead of it (by its order
    key) joined or left the RUNNABLE jobs (of its quota share, for ``share``)."""
    key = world.position_key(job)
    since = job.entered
    for at, other, other_share in world.moves.get(job.queue_arn, ()):
        if at >= since and other < key and (share is None or other_share == share):
            since = at
    return ms(since)


def snapshot(world: World, queue: ServiceQueue, now: float) -> dict[str, Any]:
    """GetJobQueueSnapshot for a SAGEMAKER_TRAINING queue (botocore's output shape). The
    caller has brought the world up to ``now``."""
    kind = world.catalog.policy_kind(queue.scheduling_policy_arn)
    order = world.order(queue, kind, list(world.runnable.get(queue.arn, {}).values()))
    stamp = ms(now)
    out: dict[str, Any] = {
        "frontOfQueue": {
            "jobs": [
                {"jobArn": j.job_arn, "earliestTimeAtPosition": _since(world, j)}
                for j in order[:FRONT_OF_QUEUE]
            ],
            "lastUpdatedAt": stamp,
        }
    }
    if kind == "quotashare":
        heads: dict[str, ServiceJob] = {}
        for job in order:
            heads.setdefault(job.share, job)
        out["frontOfQuotaShares"] = {
            "quotaShares": {
                name: [{"jobArn": j.job_arn, "earliestTimeAtPosition": _since(world, j, name)}]
                for name, j in heads.items()
            },
            "lastUpdatedAt": stamp,
        }
    out["queueUtilization"] = _utilization(world, queue, kind, stamp)
    return out


def _utilization(world: World, queue: ServiceQueue, kind: str | None, stamp: int) -> dict[str, Any]:
    total = Usage()
    for holders in world.holders.values():
        for job in holders.values():
            if job.queue_arn == queue.arn:
                total.add(job.demand)
    shares = sorted(
        (
            (name, u)
            for (qarn, name), u in world.share_usage.items()
            if qarn == queue.arn and u.total > 0
        ),
        key=lambda item: (-item[1].total, item[0]),
    )
    top = shares[:TOP_SHARES]
    out: dict[str, Any] = {"totalCapacityUsage": total.to_api(), "lastUpdatedAt": stamp}
    if kind == "fairshare":
        out["fairshareUtilization"] = {
            "activeShareCount": len(shares),
            "topCapacityUtilization": [
                {"shareIdentifier": name, "capacityUsage": u.to_api()} for name, u in top
            ],
        }
    elif kind == "quotashare":
        out["quotaShareUtilization"] = {
            "topCapacityUtilization": [
                {"quotaShareName": name, "capacityUsage": u.to_api()} for name, u in top
            ],
        }
    return out


def capacity_report(world: World) -> dict[str, Any]:
    """What the emulator's scheduler holds now and the most it ever held, per service
    environment and per queue (for tests and the demo; not an AWS API)."""
    envs = {}
    for arn, env in world.catalog.environments.items():
        used = world.env_usage.get(arn, Usage())
        peak = world.peak_env.get(arn, {"instances": 0.0, "jobs": 0})
        envs[env.name] = {
            "capacityLimits": env.capacity_limits,
            "instancesInUse": used.total,
            "capacityUsage": used.to_api(),
            "activeJobs": len(world.holders.get(arn, {})),
            "peakInstances": peak["instances"],
            "peakActiveJobs": int(peak["jobs"]),
        }
    queues = {
        q.name: {
            "activeJobs": world.queue_active.get(q.arn, 0),
            "peakActiveJobs": world.peak_queue.get(q.arn, 0),
            "runnableJobs": len(world.runnable.get(q.arn, {})),
        }
        for q in world.catalog.queues.values()
    }
    return {"environments": envs, "queues": queues}
