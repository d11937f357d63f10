"""Server mode: moto's WSGI app plus the emulator, on loopback.

:func:`serve` runs in the foreground (the CLI). :class:`EmulatorServer` starts that CLI in a
child process and hands back a :class:`RemoteEmulator`. A child process, not a thread: moto's
state is per process, and a thread would share (and have wiped by ``mock_aws``) the state of
any in-process emulator in the same test session.
"""

from __future__ import annotations

import collections
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_batch_service.emulator.function_runs import RUNS, wait_until_done
from airflow_batch_service.emulator.gates import wait_until_waiting

READY_PREFIX = "airflow-batch-service emulator listening on "
LOOPBACK = "127.0.0.1"


def serve(
    host: str = LOOPBACK, port: int = 4566, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve until SIGTERM/SIGINT. Set ``settings.STARTUP`` before calling."""
    # Each import below loads moto, which only the serving child process needs: the parent
    # that starts it (EmulatorServer, the demo, the CLI's --help) imports this module.
    from moto.core.base_backend import BackendDict  # lazy: moto, in the serving process only
    from moto.moto_server.werkzeug_app import (  # lazy: moto, in the serving process only
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # lazy: comes with moto's server

    from airflow_batch_service.emulator import (  # lazy: imports moto
        settings as settings_module,
    )
    from airflow_batch_service.emulator.http_control import (  # lazy: imports moto
        ControlMiddleware,
    )
    from airflow_batch_service.emulator.install import install  # lazy: imports moto

    settings_module.SERVING = True
    install()
    BackendDict.reset()  # so the startup settings are what the first request sees
    app = ControlMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True)
    url = f"http://{host}:{server.server_port}"

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if on_ready is not None:
        on_ready(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        RUNS.reset()  # no function run outlives the server


class RemoteEmulator:
    """The control handle of a running server: the same methods as ``Emulator``, over HTTP."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1") -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region

    def _call(self, method: str, route: str, body: Mapping[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.endpoint_url}/_emulator/{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            message = json.loads(err.read() or b"{}").get("message", str(err))
            raise ValueError(message) from None

    def create_queue(
        self, name: str, fair_share: bool = False, quota_share: bool = False, max_capacity: int = 10
    ) -> str:
        body = {
            "name": name,
            "region": self.region,
            "fairShare": fair_share,
            "quotaShare": quota_share,
            "maxCapacity": max_capacity,
        }
        return str(self._call("POST", "queues", body)["jobQueueArn"])

    def configure(
        self,
        seconds_per_state: float | None = None,
        client_token_mode: str | None = None,
        freeze_clock: bool | None = None,
        api_quotas: str | None = None,
        run_functions: bool | None = None,
    ) -> dict[str, Any]:
        body = {
            "secondsPerState": seconds_per_state,
            "clientTokenMode": client_token_mode,
            "freezeClock": freeze_clock,
            "apiQuotas": api_quotas,
            "runFunctions": run_functions,
        }
        return dict(self._call("POST", "configure", body))

    def load_scenarios(self, document: Mapping[str, Any] | str | Path) -> dict[str, Any]:
        if isinstance(document, Mapping):
            body: Mapping[str, Any] = document
        else:
            text = str(document)
            body = json.loads(text if text.lstrip().startswith("{") else Path(text).read_text())
        return dict(self._call("POST", "scenarios", body))

    def set_faults(
        self, faults: Mapping[str, Any] | None, seed: int | None = None
    ) -> dict[str, Any]:
        return dict(self._call("POST", "faults", {"faults": dict(faults or {}), "seed": seed}))

    def clear_faults(self) -> None:
        self.set_faults({})

    def release(self) -> int:
        """Let every held call go on (``POST /_emulator/release``); returns how many."""
        return int(self._call("POST", "release", {})["released"])

    def open_gate(self, name: str) -> list[str]:
        """Open a named gate (``POST /_emulator/gates``); returns the jobs it released."""
        return list(self._call("POST", "gates", {"open": name})["released"])

    def gates(self) -> dict[str, Any]:
        """Open gates and the jobs waiting at shut ones (``GET /_emulator/gates``)."""
        return dict(self._call("GET", "gates"))

    def wait_at_gate(self, gate: str, count: int = 1, timeout: float = 120.0) -> list[str]:
        """Block until ``count`` jobs wait at ``gate``; their ids (``gates.wait_until_waiting``)."""
        return wait_until_waiting(self.gates, gate, count, timeout)

    def function_runs(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """The ``@task.batch_service`` function runs (``GET /_emulator/function-runs``)."""
        runs = self._call("GET", "function-runs")["runs"]
        return [run for run in runs if job_id is None or run["jobId"] == job_id]

    def wait_for_function_runs(
        self, job_id: str | None = None, count: int = 1, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """Block until ``count`` runs (of ``job_id``) exist and none still runs; returns them
        (``function_runs.wait_until_done``)."""
        return wait_until_done(self.function_runs, job_id, count, timeout)

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "stats"))

    def reset_stats(self) -> None:
        self._call("DELETE", "stats")

    def advance(self, seconds: float) -> float:
        return float(self._call("POST", "clock", {"advance": seconds})["now"])

    def settings(self) -> dict[str, Any]:
        return dict(self._call("GET", "settings"))

    def reset(self) -> None:
        """``POST /moto-api/reset``: all state goes; the server's startup settings come back."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST"
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

    def client(self, service: str = "batch", **kwargs: Any) -> Any:
        import boto3  # lazy: a server's parent (the demo, a test session) may never need boto3

        kwargs.setdefault("region_name", self.region)
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        kwargs.setdefault("aws_access_key_id", "testing")
        kwargs.setdefault("aws_secret_access_key", "testing")
        return boto3.client(service, **kwargs)


class EmulatorServer:
    """A real HTTP emulator on loopback (a child process). ``port=0`` picks a free port.

    Unlike the console script, it starts with the API quotas **off** (``api_quotas="aws"``
    turns them on): it serves tests, benchmarks and demos that pace themselves.

    >>> with EmulatorServer(queues=["q"]) as server:
    ...     batch = server.emulator.client()
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        region: str = "us-east-1",
        queues: Sequence[str] = (),
        seconds_per_state: float | None = None,
        scenarios: Mapping[str, Any] | str | Path | None = None,
        client_token_mode: str | None = None,
        faults: Mapping[str, Any] | None = None,
        fault_seed: int | None = None,
        freeze_clock: bool = False,
        api_quotas: str = "off",
        run_functions: bool = True,
        startup_timeout: float = 60.0,
    ) -> None:
        self.host, self.port, self.region = host, port, region
        self.queues = list(queues)
        self.seconds_per_state = seconds_per_state
        self.scenarios = scenarios
        self.client_token_mode = client_token_mode
        self.faults = faults
        self.fault_seed = fault_seed
        self.freeze_clock = freeze_clock
        self.api_quotas = api_quotas
        self.run_functions = run_functions
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.endpoint_url: str | None = None
        self.emulator: RemoteEmulator | None = None

    def _command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "airflow_batch_service.cli",
            "emulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--region",
            self.region,
            "--api-quotas",
            self.api_quotas,
            "--quiet",
        ]
        for queue in self.queues:
            cmd += ["--queue", queue]
        if self.seconds_per_state is not None:
            cmd += ["--seconds-per-state", str(self.seconds_per_state)]
        if self.client_token_mode is not None:
            cmd += ["--client-token-mode", self.client_token_mode]
        if self.freeze_clock:
            cmd.append("--freeze-clock")
        if not self.run_functions:
            cmd.append("--no-run-functions")
        if self.fault_seed is not None:
            cmd += ["--fault-seed", str(self.fault_seed)]
        if self.scenarios is not None:
            cmd += ["--scenarios", self._file("scenarios.json", self.scenarios)]
        if self.faults is not None:
            cmd += ["--faults", self._file("faults.json", self.faults)]
        return cmd

    def _file(self, name: str, content: Mapping[str, Any] | str | Path) -> str:
        if not isinstance(content, Mapping):
            return str(content)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="batch-emulator-")
        path = Path(self._tmp.name) / name
        path.write_text(json.dumps(content))
        return str(path)

    def start(self) -> EmulatorServer:
        if self._process is not None:
            return self
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(
            self._command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        assert self._process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self._process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.startup_timeout
        output: list[str] = []
        try:
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                line = self._process.stdout.readline()
                if not line:
                    break
                output.append(line)
                if line.startswith(READY_PREFIX):
                    self._drain(self._process.stdout)
                    self.endpoint_url = line[len(READY_PREFIX) :].strip()
                    self.emulator = RemoteEmulator(self.endpoint_url, self.region)
                    return self
        finally:
            selector.close()
        self.stop()
        raise RuntimeError("the emulator server did not start:\n" + "".join(output))

    def _drain(self, stream: Any) -> None:
        """Keep reading the child's output so a full pipe never blocks it; keep the tail."""
        tail: collections.deque[str] = collections.deque(maxlen=200)
        self.output_tail = tail

        def pump() -> None:
            try:
                for line in stream:
                    tail.append(line)
            except (OSError, ValueError):
                pass

        threading.Thread(target=pump, name="emulator-server-output", daemon=True).start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
