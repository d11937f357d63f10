"""A real Airflow 3 stack for integration tests: api-server, scheduler, dag-processor, triggerer.

Everything runs from a throw-away ``AIRFLOW_HOME`` with sqlite and the LocalExecutor, bound to
127.0.0.1 on free ports, with the ``airflow`` command of the running interpreter's venv
(``sys.executable``'s bin dir), so the same harness drives whichever Airflow that venv holds.

The harness talks to Airflow through the public REST API (``/api/v2``) and reads task logs from
the files under ``AIRFLOW_HOME/logs``; it never imports Airflow into the test process (pytest
runs with ``AIRFLOW__CORE__UNIT_TEST_MODE=True``, which must not leak into the real stack, so
every inherited ``AIRFLOW*`` variable is dropped from the children's environment).

Cleanup is by pid: each component starts in its own session (process group). ``stop()`` first
records every descendant (Airflow 3.3 puts each task process in a group of its own, so a group
signal alone misses them), sends SIGTERM to the groups and the recorded pids, waits a grace
period, then SIGKILLs whatever is left. Finally it looks for any process that still carries this
stack's unique ``AIRFLOW_HOME`` in its environment (a descendant that escaped both nets) and kills
it by pid; ``leftovers`` records what that sweep found so a test can assert it stayed empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPONENTS: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})


class StackError(RuntimeError):
    """The stack could not be started or did not answer; carries the components' log tails."""


class StackUnavailable(StackError):
    """A prerequisite is missing (no ``airflow`` command, no loopback): tests should skip."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def airflow_bin(python: str | os.PathLike[str] = sys.executable) -> Path:
    """The ``airflow`` console script next to ``python`` (not whatever is first on PATH)."""
    return Path(python).parent / "airflow"


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    log_file: Any = None


@dataclass
class AirflowStack:
    """One Airflow installation's processes, started from a fresh ``AIRFLOW_HOME`` under ``workdir``.

    ``extra_env`` is added to every component's environment (connections as ``AIRFLOW_CONN_*``,
    settings the DAGs read). ``components`` picks which long-running processes to start.
    """

    workdir: Path
    python: str = sys.executable
    extra_env: Mapping[str, str] = field(default_factory=dict)
    components: tuple[str, ...] = COMPONENTS
    parallelism: int = 4
    startup_timeout: float = 240.0
    stop_grace: float = 20.0

    host: str = "127.0.0.1"
    port: int = 0
    home: Path = field(init=False)
    dags_folder: Path = field(init=False)
    procs: dict[str, Component] = field(init=False, default_factory=dict)
    restarts: list[str] = field(init=False, default_factory=list)
    _retired: list[Component] = field(init=False, default_factory=list)
    leftovers: list[str] = field(init=False, default_factory=list)
    timings: dict[str, float] = field(init=False, default_factory=dict)
    _marker: str = field(init=False, default="")
    _env: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.home = self.workdir / "airflow-home"
        self.dags_folder = self.workdir / "dags"
        self.proc_logs = self.workdir / "process-logs"
        # On every component's PYTHONPATH: modules the triggerer must import by classpath
        # (custom triggers) go here, not in the dags folder.
        self.pylib = self.workdir / "pylib"

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def airflow(self) -> Path:
        return airflow_bin(self.python)

    def environment(self) -> dict[str, str]:
        """The children's environment: ours minus every inherited ``AIRFLOW*`` variable, plus the stack's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.pop("PYTEST_CURRENT_TEST", None)
        bindir = str(Path(self.python).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.pylib), env.get("PYTHONPATH", "")) if p
        )
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(self.parallelism),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW__API__HOST": self.host,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                # New files are listed every 2 s; a file is re-parsed at most every 30 s (tests
                # write a new file per DAG rather than editing one).
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                # The log servers bind every interface; they are not started (--skip-serve-logs)
                # and the api-server reads task logs from local files. Free ports all the same.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            }
        )
        env.update(self.extra_env)
        env["ABS_AIRFLOW_STACK_MARKER"] = self._marker
        return env

    def preflight(self) -> None:
        """Raise :class:`StackUnavailable` when this machine cannot run a stack at all."""
        if not self.airflow.exists():
            raise StackUnavailable(f"no airflow command next to {self.python} ({self.airflow})")
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((self.host, 0))
        except OSError as e:
            raise StackUnavailable(f"cannot bind {self.host}: {e}") from e

    def start(self) -> AirflowStack:
        self.preflight()
        t0 = time.monotonic()
        self._marker = secrets.token_hex(8)
        self.port = self.port or free_port(self.host)
        for d in (self.home, self.dags_folder, self.proc_logs, self.pylib):
            d.mkdir(parents=True, exist_ok=True)
        self._env = self.environment()
        try:
            self._migrate()
            self.timings["db_migrate"] = time.monotonic() - t0
            for name in self.components:
                self._spawn(name)
            self._wait_healthy(deadline=time.monotonic() + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["startup"] = time.monotonic() - t0
        return self

    def _migrate(self) -> None:
        log = self.proc_logs / "db-migrate.log"
        with log.open("wb") as out:
            try:
                rc = subprocess.run(
                    [str(self.airflow), "db", "migrate"],
                    env=self._env,
                    cwd=self.workdir,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=self.startup_timeout,
                    start_new_session=True,
                ).returncode
            except subprocess.TimeoutExpired as e:
                raise StackError(f"airflow db migrate timed out:\n{_tail(log)}") from e
        if rc != 0:
            raise StackError(f"airflow db migrate failed (rc={rc}):\n{_tail(log)}")

    def _argv(self, name: str) -> list[str]:
        base = [str(self.airflow), name]
        if name == "api-server":
            return [*base, "--host", self.host, "--port", str(self.port), "--workers", "1"]
        if name in ("scheduler", "triggerer"):
            return [*base, "--skip-serve-logs"]
        return base

    def _spawn(self, name: str) -> None:
        comp = Component(name, self._argv(name), self.proc_logs / f"{name}.log")
        comp.log_file = comp.log_path.open("ab")
        comp.proc = subprocess.Popen(
            comp.argv,
            env=self.component_env(name),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=comp.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = comp

    def component_env(self, name: str) -> dict[str, str]:
        """One component's environment (a subclass may give a process its own settings)."""
        return self._env

    def ensure_running(self) -> list[str]:
        """Restart any component that died (an earlier test crashed it); returns their names.

        The test that crashed it has already failed with the component's log; restarting keeps
        that failure from turning every later test into an error.
        """
        dead = [
            n for n, c in self.procs.items() if c.proc is not None and c.proc.poll() is not None
        ]
        for name in dead:
            self._retired.append(self.procs.pop(name))
            self._spawn(name)
        if dead:
            self.restarts.extend(dead)
            self._wait_healthy(deadline=time.monotonic() + self.startup_timeout)
        return dead

    def _check_alive(self) -> None:
        for comp in self.procs.values():
            assert comp.proc is not None
            rc = comp.proc.poll()
            if rc is not None:
                raise StackError(
                    f"airflow {comp.name} exited with rc={rc} (pid {comp.proc.pid}):\n"
                    f"{_tail(comp.log_path)}"
                )

    def _wait_healthy(self, deadline: float) -> None:
        want = {
            "scheduler": "scheduler" in self.components,
            "triggerer": "triggerer" in self.components,
            "dag_processor": "dag-processor" in self.components,
        }
        last: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                health = self.api("GET", "/api/v2/monitor/health", timeout=5)
            except (OSError, StackError) as e:
                last = e
                time.sleep(0.5)
                continue
            last = health
            ok = (health.get("metadatabase") or {}).get("status") == "healthy"
            for key, needed in want.items():
                if needed:
                    ok = ok and ((health.get(key) or {}).get("status") == "healthy")
            if ok:
                return
            time.sleep(0.5)
        raise StackError(
            f"stack not healthy within {self.startup_timeout:.0f}s; last health: {last}\n"
            + self.diagnostics()
        )

    def _descendants(self) -> list[int]:
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil is an Airflow dependency
            return []
        pids: list[int] = []
        for comp in self.procs.values():
            if comp.proc is None:
                continue
            with contextlib.suppress(psutil.Error):
                pids.extend(c.pid for c in psutil.Process(comp.proc.pid).children(recursive=True))
        return pids

    def _marked_pids(self) -> list[int]:
        """Pids of live processes whose environment carries this stack's marker."""
        if not self._marker:
            return []
        needle = f"ABS_AIRFLOW_STACK_MARKER={self._marker}".encode()
        found: list[int] = []
        me = os.getpid()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                environ = (entry / "environ").read_bytes()
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if needle in environ.split(b"\0") and ") Z " not in stat:
                found.append(int(entry.name))
        return found

    @staticmethod
    def _signal(pid: int, sig: int, group: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    def stop(self) -> None:
        """Stop every process this stack started, by pid; safe to call twice and after a failure."""
        t0 = time.monotonic()
        started = [c for c in [*self._retired, *self.procs.values()] if c.proc is not None]
        extra = self._descendants()
        for comp in started:
            assert comp.proc is not None
            if comp.proc.poll() is None:
                self._signal(comp.proc.pid, signal.SIGTERM, group=True)
        for pid in extra:
            self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for comp in started:
            assert comp.proc is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                comp.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for comp in started:
            assert comp.proc is not None
            # The group may outlive its leader: always SIGKILL the group, then reap the leader.
            self._signal(comp.proc.pid, signal.SIGKILL, group=True)
            with contextlib.suppress(subprocess.TimeoutExpired):
                comp.proc.wait(timeout=5)
        for pid in extra:
            self._signal(pid, signal.SIGKILL)
        # A last sweep for anything that escaped both the groups and the descendant list.
        for _ in range(3):
            stray = self._marked_pids()
            if not stray:
                break
            for pid in stray:
                self.leftovers.append(f"pid {pid}: {self._cmdline(pid)}")
                self._signal(pid, signal.SIGKILL)
            time.sleep(0.2)
        for comp in started:
            if comp.log_file is not None:
                comp.log_file.close()
                comp.log_file = None
        self.timings["stop"] = time.monotonic() - t0

    @staticmethod
    def _cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
        except OSError:
            return "?"

    def alive_pids(self) -> list[int]:
        """Every process of this stack still alive (components, descendants, marked strays)."""
        pids = {c.proc.pid for c in self.procs.values() if c.proc and c.proc.poll() is None}
        pids.update(self._descendants())
        pids.update(self._marked_pids())
        return sorted(pids)

    def __enter__(self) -> AirflowStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ REST
    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float = 30,
        ok: Iterable[int] = (200, 201, 204),
    ) -> Any:
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        data = None if body is None else json.dumps(body).encode()
        status, raw = self._send(method, url, data, timeout)
        if status == 401 and not path.startswith("/auth/"):
            # Airflow 3.1 wants a token even with every user an admin (3.0 and 3.3 do not):
            # the simple auth manager hands one out without credentials in that mode.
            self._token = self.api("GET", "/auth/token")["access_token"]
            status, raw = self._send(method, url, data, timeout)
        if status not in set(ok):
            raise StackError(f"{method} {path} -> HTTP {status}: {raw[:2000]!r}")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    _token: str | None = None

    def _send(self, method: str, url: str, data: bytes | None, timeout: float) -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def version(self) -> str:
        return str(self.api("GET", "/api/v2/version")["version"])

    # ------------------------------------------------------------------ DAGs and runs
    def add_module(self, name: str, source: str) -> Path:
        """Write an importable module (``name.py``) on the stack's PYTHONPATH."""
        dest = self.pylib / f"{name}.py"
        dest.write_text(textwrap.dedent(source))
        return dest

    def add_dag_file(self, source: str | Path, name: str | None = None) -> Path:
        """Copy a DAG file (a path) into the dags folder, or write one (source text and ``name``)."""
        if isinstance(source, Path):
            dest = self.dags_folder / (name or source.name)
            shutil.copyfile(source, dest)
        else:
            if not name:
                raise ValueError("name is required when source is text")
            dest = self.dags_folder / name
            dest.write_text(textwrap.dedent(source))
        return dest

    def import_errors(self) -> list[dict[str, Any]]:
        got = self.api("GET", "/api/v2/importErrors")
        return list(got.get("import_errors", []))

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """Wait until the dag-processor has serialized ``dag_id``; fail fast on an import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            got = self.api("GET", f"/api/v2/dags/{dag_id}", ok=(200, 404))
            if isinstance(got, dict) and got.get("dag_id") == dag_id:
                details = self.api("GET", f"/api/v2/dags/{dag_id}/details", ok=(200, 404))
                if isinstance(details, dict) and details.get("dag_id") == dag_id:
                    return got
            errors = self.import_errors()
            if errors:
                raise AssertionError(f"DAG import errors while waiting for {dag_id}: {errors}")
            time.sleep(1)
        raise AssertionError(
            f"DAG {dag_id} not parsed within {timeout:.0f}s\n" + self.diagnostics(["dag-processor"])
        )

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(
        self, dag_id: str, *, conf: Mapping[str, Any] | None = None, run_id: str | None = None
    ) -> str:
        """Trigger a manual run (``logical_date`` null, as the UI does) and return its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        got = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        return str(got["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The run as the API shows it (on 3.0 it may 404 for a moment right after the trigger)."""
        return dict(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        got = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances",
            params={"limit": 1000},  # the API pages by 50 by default: a sweep has more
        )
        return list(got.get("task_instances", []))

    def task_instance(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> dict[str, Any]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}"
        if map_index >= 0:
            path += f"/{map_index}"
        return dict(self.api("GET", path))

    def _poll(
        self,
        what: str,
        probe: Callable[[], tuple[bool, Any]],
        timeout: float,
        dag_id: str,
        run_id: str,
        interval: float = 1.0,
    ) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            done, last = probe()
            if done:
                return last
            time.sleep(interval)
        raise AssertionError(
            f"{what}: still {last!r} after {timeout:.0f}s\n" + self.run_diagnostics(dag_id, run_id)
        )

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        states: Iterable[str] = ("success",),
        timeout: float = 180,
    ) -> dict[str, Any]:
        """Wait until the run reaches one of ``states``; a different terminal state fails at once."""
        wanted = set(states)

        def probe() -> tuple[bool, Any]:
            # 404 right after the trigger is normal on 3.0 (the POST answers before it commits).
            run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}", ok=(200, 404))
            if not isinstance(run, dict) or "state" not in run:
                return False, "not found (yet)"
            state = run.get("state")
            if state in wanted:
                return True, run
            if state in TERMINAL_RUN_STATES:
                raise AssertionError(
                    f"run {dag_id}/{run_id} ended {state!r}, wanted {sorted(wanted)}\n"
                    + self.run_diagnostics(dag_id, run_id)
                )
            return False, state

        return dict(self._poll(f"run {dag_id}/{run_id}", probe, timeout, dag_id, run_id))

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Iterable[str],
        timeout: float = 180,
        *,
        map_index: int = -1,
        fail_on: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Wait until the task instance is in one of ``states``; any of ``fail_on`` fails at once."""
        wanted, bad = set(states), set(fail_on)

        path = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}"
        if map_index >= 0:
            path += f"/{map_index}"

        def probe() -> tuple[bool, Any]:
            ti = self.api("GET", path, ok=(200, 404))
            if not isinstance(ti, dict) or "state" not in ti:
                return False, "not found (yet)"
            state = ti.get("state")
            if state in wanted:
                return True, ti
            if state in bad:
                raise AssertionError(
                    f"task {task_id} of {dag_id}/{run_id} reached {state!r}, wanted {sorted(wanted)}\n"
                    + self.run_diagnostics(dag_id, run_id)
                )
            return False, state

        return dict(self._poll(f"task {task_id}", probe, timeout, dag_id, run_id, interval=0.5))

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str = "failed") -> Any:
        """Mark a task instance (what the UI's "mark failed/success" does).

        On a running task the worker's next heartbeat is refused and the supervisor terminates
        the task process (the operator's ``on_kill`` runs); on a deferred task the trigger row
        goes away and the triggerer cancels it (3.3 also calls ``BaseTrigger.on_kill``).
        """
        return self.api(
            "PATCH",
            f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}",
            {"new_state": state},
        )

    def xcom(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str = "return_value",
        map_index: int | None = None,
    ) -> Any:
        """A task's (or one mapped instance's) XCom value (``None`` while it does not exist)."""
        query = "" if map_index is None else f"?map_index={map_index}"
        got = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
            + query,
            ok=(200, 404),
        )
        if not isinstance(got, dict) or "value" not in got:
            return None
        value = got["value"]
        # Without ?deserialize (disabled by default on 3.0) a value may come back JSON-encoded.
        if isinstance(value, str) and value[:1] in ('"', "{", "["):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        return value

    def crash_task(self, dag_id: str, run_id: str, task_id: str) -> int:
        """SIGKILL the running task's process (a worker dying mid-task); returns its pid.

        The supervisor sees its child die without reporting a state and fails the try: 3.3
        retries it if the task has retries left; 3.0.6 fails the task outright, retries or not.
        """
        ti = self.task_instance(dag_id, run_id, task_id)
        pid = ti.get("pid")
        if ti.get("state") != "running" or not pid:
            raise AssertionError(f"task {task_id} is not running with a pid: {ti}")
        if int(pid) not in self.alive_pids():
            raise AssertionError(f"pid {pid} of task {task_id} is not a process of this stack")
        os.kill(int(pid), signal.SIGKILL)
        return int(pid)

    def kill_task(self, dag_id: str, run_id: str, task_id: str) -> Any:
        return self.set_task_state(dag_id, run_id, task_id, "failed")

    def clear_task(self, dag_id: str, run_id: str, task_id: str) -> Any:
        return self.api(
            "POST",
            f"/api/v2/dags/{dag_id}/clearTaskInstances",
            {"dry_run": False, "dag_run_id": run_id, "task_ids": [task_id], "only_failed": False},
        )

    # ------------------------------------------------------------------ logs
    def task_log_files(
        self, dag_id: str, run_id: str, task_id: str, try_number: int | None = None
    ) -> list[Path]:
        base = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if not base.is_dir():
            return []
        pattern = f"attempt={try_number}.log*" if try_number else "attempt=*.log*"
        return sorted(p for p in base.rglob(pattern) if p.is_file())

    def trigger_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """What the triggerer logged for this task (``attempt=N.log.trigger.<job>.log`` files).

        Non-empty means the task really deferred and its trigger ran in the triggerer (both
        3.0.6 and 3.3.2 write a "trigger ... starting" line there).
        """
        files = [
            p for p in self.task_log_files(dag_id, run_id, task_id) if ".log.trigger." in p.name
        ]
        return "\n".join(
            _render_log_line(line)
            for p in files
            for line in p.read_text(errors="replace").splitlines()
        )

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int | None = None
    ) -> str:
        """The task's log text: every attempt (or one), worker and triggerer files, in order.

        Airflow 3 writes JSON lines; each is rendered as ``level event key=value...`` so tests
        can search for messages, with the raw line kept when it is not JSON.
        """
        out: list[str] = []
        for path in self.task_log_files(dag_id, run_id, task_id, try_number):
            out.append(f"==> {path.relative_to(self.home / 'logs')} <==")
            for line in path.read_text(errors="replace").splitlines():
                out.append(_render_log_line(line))
        return "\n".join(out)

    def component_log(self, name: str) -> str:
        """What a component wrote to its output so far (every run of it, appended)."""
        return self.procs[name].log_path.read_text(errors="replace")

    # ------------------------------------------------------------------ diagnostics
    def diagnostics(self, names: Iterable[str] | None = None, lines: int = 30) -> str:
        chosen = list(names) if names is not None else list(self.procs)
        parts = []
        for name in chosen:
            comp = self.procs.get(name)
            if comp is None:
                continue
            state = (
                "not started" if comp.proc is None else f"pid {comp.proc.pid} rc={comp.proc.poll()}"
            )
            parts.append(
                f"--- airflow {name} ({state}), last {lines} lines ---\n{_tail(comp.log_path, lines)}"
            )
        return "\n".join(parts)

    def run_diagnostics(self, dag_id: str, run_id: str) -> str:
        parts = []
        with contextlib.suppress(Exception):
            for ti in self.task_instances(dag_id, run_id):
                parts.append(
                    f"task {ti.get('task_id')} state={ti.get('state')} try={ti.get('try_number')}"
                )
                log = self.task_log(dag_id, run_id, str(ti.get("task_id")))
                parts.append("\n".join(log.splitlines()[-25:]))
        parts.append(self.diagnostics(["scheduler", "triggerer"], lines=20))
        return "\n".join(parts)


def _q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


# Keys Airflow repeats on every task-log line; dropped from the rendered text.
_LOG_CONTEXT_KEYS = frozenset(
    {
        "logger",
        "try_number",
        "dag_id",
        "task_id",
        "map_index",
        "run_id",
        "ti_id",
        "filename",
        "lineno",
    }
)


def _render_log_line(line: str) -> str:
    if not line.startswith("{"):
        return line
    try:
        rec = json.loads(line)
    except ValueError:
        return line
    if not isinstance(rec, dict):
        return line
    event = rec.pop("event", "")
    level = rec.pop("level", "")
    rec.pop("timestamp", None)
    rest = " ".join(f"{k}={v}" for k, v in rec.items() if k not in _LOG_CONTEXT_KEYS)
    return f"{level} {event} {rest}".strip()
