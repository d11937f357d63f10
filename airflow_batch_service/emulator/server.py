"""Server mode: moto's WSGI app plus the emulator, on loopback.

:func:`serve` runs in the foreground (the CLI). :class:`EmulatorServer` starts that CLI in a
child process and hands back a :class:`RemoteEmulator` (``remote``). A child process, not a
thread: moto's state is per process, and a thread would share (and have wiped by
``mock_aws``) the state of any in-process emulator in the same test session. While it serves,
a ticker (``ticker``) brings the jobs up to now every 0.2 s, so AWS's state-change events are
published as time passes, with nobody calling Batch.
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_batch_service.emulator.event_knobs import EventKnobs
from airflow_batch_service.emulator.function_runs import RUNS
from airflow_batch_service.emulator.remote import RemoteEmulator
from airflow_batch_service.emulator.ticker import Ticker

__all__ = ["EmulatorServer", "RemoteEmulator", "serve"]

READY_PREFIX = "airflow-batch-service emulator listening on "
#: Printed after the ready line, once per ``--event-queue``, followed by the queue's URL.
EVENT_QUEUE_PREFIX = "airflow-batch-service emulator event queue "
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
    from airflow_batch_service.emulator.side_services import catch_up  # lazy: imports moto

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
    ticker = Ticker(catch_up).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        ticker.stop()
        server.server_close()
        RUNS.reset()  # no function run outlives the server


class EmulatorServer:
    """A real HTTP emulator on loopback (a child process). ``port=0`` picks a free port.

    Unlike the console script, it starts with the API quotas **off** (``api_quotas="aws"``
    turns them on): it serves tests, benchmarks and demos that pace themselves. ``events``
    (the knobs of ``configure(events=...)``) and ``event_queues`` become the ``--event-*``,
    ``--no-events`` and ``--event-queue`` flags.

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
        events: Mapping[str, Any] | None = None,
        event_queues: Sequence[str] = (),
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
        self.events = EventKnobs().merged(events)  # refused here, not in the child
        self.event_queues = list(event_queues)
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
        return cmd + self._event_flags()

    def _event_flags(self) -> list[str]:
        knobs, cmd = self.events, []
        if not knobs.enabled:
            cmd.append("--no-events")
        for flag, value in (
            ("--event-drop", knobs.drop),
            ("--event-duplicate", knobs.duplicate),
            ("--event-delay", knobs.delay_seconds),
            ("--event-reorder", knobs.reorder),
        ):
            if value:
                cmd += [flag, str(value)]
        if knobs.seed is not None:
            cmd += ["--event-seed", str(knobs.seed)]
        for name in self.event_queues:
            cmd += ["--event-queue", name]
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
