"""The production topology, on one machine: PostgreSQL, Redis, CeleryExecutor with a worker,
two schedulers, the dag-processor, the api-server and two triggerers.

``DistributedStack`` is the integration tests' ``AirflowStack`` (same REST helpers, log
readers and by-pid cleanup) with what differs in production:

- the metadata database is PostgreSQL (``services.PostgresServer``), whose JSON columns refuse
  what SQLite accepts (``NaN``, ``Infinity``, ``\\u0000``);
- ``CeleryExecutor`` with Redis as the broker (``services.RedisServer``) and the database as
  the result backend; workers are ``celery-worker``, ``celery-worker-2``...;
- two schedulers (``scheduler``, ``scheduler-2``) and two triggerers (``triggerer``,
  ``triggerer-2``). Each triggerer reports its own hostname (``abs-triggerer``,
  ``abs-triggerer-2``: ``[core] hostname_callable``) so a test can tell from the ``job`` and
  ``trigger`` tables which one runs a trigger;
- short heartbeats and thresholds, so takeovers happen in seconds, not minutes
  (:data:`TIMINGS` names each option).
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil
from integration.stack import AirflowStack, StackError

from .services import PostgresServer, RedisServer

#: The Airflow options that make faults show in seconds; the docs' production page explains
#: what each does and what production values are.
TIMINGS: dict[str, str] = {
    # A triggerer heartbeats every second; one silent for 10 s is unhealthy and its triggers
    # are adopted by the other (the default is 30 s).
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
    # 60 triggers each: a 100-job sweep must split over the two (the default is 1,000).
    "AIRFLOW__TRIGGERER__CAPACITY": "60",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
    # A task whose worker died stops heartbeating; after 20 s the scheduler fails that try
    # and, with retries left, queues the next one (the default is 300 s).
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    # Tasks of a dead scheduler's executor are adopted after this (default 300 s).
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
}

COMPONENTS: tuple[str, ...] = (
    "api-server",
    "scheduler",
    "scheduler-2",
    "dag-processor",
    "triggerer",
    "triggerer-2",
    "celery-worker",
)

HOSTNAME_MODULE = '''
"""The component's hostname: ABS_HOSTNAME when set (two triggerers on one machine), else the
machine's own."""
import os
import socket


def hostname():
    return os.environ.get("ABS_HOSTNAME") or socket.getfqdn()
'''


def base_command(name: str) -> str:
    """``triggerer-2`` -> ``triggerer``; ``dag-processor`` stays itself."""
    return re.sub(r"-\d+$", "", name)


@dataclass
class DistributedStack(AirflowStack):
    """See the module docstring. ``postgres`` and ``redis`` are started by :meth:`start`."""

    components: tuple[str, ...] = COMPONENTS
    parallelism: int = 32
    worker_concurrency: int = 16
    postgres: PostgresServer = field(default_factory=PostgresServer)
    redis: RedisServer = field(default_factory=RedisServer)

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "abs_hostname.hostname",
                **TIMINGS,
            }
        )
        env.update(self.extra_env)
        return env

    def component_env(self, name: str) -> dict[str, str]:
        env = dict(self._env)
        if base_command(name) == "triggerer":
            env["ABS_HOSTNAME"] = f"abs-{name}"
        return env

    def start(self) -> DistributedStack:
        self.preflight()
        self.pylib.mkdir(parents=True, exist_ok=True)
        (self.pylib / "abs_hostname.py").write_text(HOSTNAME_MODULE)
        t0 = time.monotonic()
        try:
            self.postgres.start()
            self.redis.start()
        except BaseException:
            self.postgres.stop()
            self.redis.stop()
            raise
        self.timings["services"] = time.monotonic() - t0
        super().start()
        try:
            self.wait_for_triggerers(2, timeout=self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _argv(self, name: str) -> list[str]:
        base = base_command(name)
        if base == "celery-worker":
            return [
                str(self.airflow), "celery", "worker",
                "--concurrency", str(self.worker_concurrency),
                "--celery-hostname", f"{name}@%h",
                "--pid", str(self.workdir / f"{name}.pid"),
                "--skip-serve-logs", "--without-mingle", "--without-gossip",
            ]  # fmt: skip
        argv = super()._argv(base)
        return argv

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.redis.stop()
            self.postgres.stop()

    # ------------------------------------------------------------------ processes
    def pid(self, name: str) -> int:
        comp = self.procs[name]
        assert comp.proc is not None
        return comp.proc.pid

    def pause(self, name: str) -> None:
        """SIGSTOP a component and its children (a GC pause, a CPU-starved pod)."""
        self._signal(self.pid(name), signal.SIGSTOP, group=True)

    def resume(self, name: str) -> None:
        self._signal(self.pid(name), signal.SIGCONT, group=True)

    def kill(self, name: str) -> None:
        """SIGKILL a component and everything it started (a node lost): nothing cleans up."""
        comp = self.procs.pop(name)  # down on purpose: no longer a component that must live
        self._retired.append(comp)
        assert comp.proc is not None
        # Its descendants too: a task process runs in a process group of its own, and a lost
        # node takes every process on it.
        try:
            children = psutil.Process(comp.proc.pid).children(recursive=True)
        except psutil.Error:
            children = []
        self._signal(comp.proc.pid, signal.SIGKILL, group=True)
        for child in children:
            self._signal(child.pid, signal.SIGKILL)
        comp.proc.wait(timeout=30)

    def start_component(self, name: str) -> None:
        """Start (again) one component; a dead one's record is kept for the final sweep."""
        old = self.procs.pop(name, None)
        if old is not None:
            self._retired.append(old)
        self._spawn(name)

    @contextlib.contextmanager
    def supervised(self) -> Iterator[list[str]]:
        """Within the block, a component that exits is started again at once, as its
        supervisor would in production; yields the names restarted so far (a list that
        grows). Meanwhile a dead component is not an error of the stack."""
        stop = threading.Event()
        restarted: list[str] = []

        def loop() -> None:
            while not stop.wait(0.5):
                restarted.extend(self.start_exited())

        thread = threading.Thread(target=loop, name="stack-supervisor", daemon=True)
        self._supervising = True
        thread.start()
        try:
            yield restarted
        finally:
            stop.set()
            thread.join(timeout=30)
            self._supervising = False

    _supervising: bool = False

    def _check_alive(self) -> None:
        if not self._supervising:
            super()._check_alive()

    def start_exited(self) -> list[str]:
        """Start every component that exited (what Kubernetes' or systemd's restart policy
        does); returns their names."""
        dead = [n for n in self.components if self.down(n)]
        for name in dead:
            self.start_component(name)
        return dead

    def down(self, name: str) -> bool:
        """Whether ``name`` is not running (killed by a test, or crashed)."""
        comp = self.procs.get(name)
        return comp is None or comp.proc is None or comp.proc.poll() is not None

    # ------------------------------------------------------------------ database views
    def live_triggerers(self) -> dict[str, int]:
        """Hostname -> job id of the triggerers whose heartbeat is within the threshold."""
        rows = self.postgres.query(
            "SELECT hostname, id FROM job WHERE job_type = 'TriggererJob' AND state = 'running'"
            " AND latest_heartbeat > now() - interval '10 seconds'"
        )
        return {str(h): int(i) for h, i in rows}

    def wait_for_triggerers(self, count: int, timeout: float = 120) -> dict[str, int]:
        seen: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            seen = self.live_triggerers()
            if len(seen) >= count:
                return seen
            time.sleep(0.5)
        raise StackError(
            f"awaited {count} live triggerers for {timeout:.0f}s, saw {seen}\n"
            + self.diagnostics(["triggerer", "triggerer-2"])
        )

    def trigger_owners(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``task_id[_map_index]`` -> the hostname of the triggerer that runs its trigger now
        (``None``: not assigned) for the run's deferred task instances."""
        rows = self.postgres.query(
            "SELECT ti.task_id, ti.map_index, j.hostname FROM task_instance ti"
            " JOIN trigger t ON t.id = ti.trigger_id"
            " LEFT JOIN job j ON j.id = t.triggerer_id"
            " WHERE ti.dag_id = %s AND ti.run_id = %s AND ti.state = 'deferred'",
            dag_id,
            run_id,
        )
        return {
            (str(task) if int(mi) < 0 else f"{task}_{mi}"): (None if h is None else str(h))
            for task, mi, h in rows
        }
