"""``RemoteEmulator``: the control handle of a running emulator server, over HTTP.

The same methods as the in-process ``Emulator`` (``handle.py``), each a call to the server's
``/_emulator/*`` routes (``http_control``), so a test drives either mode through one surface.
Free of moto and boto3 at import: the process that starts a server (a test session, the
demo) may never need them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_batch_service.emulator.event_knobs import DEFAULT_QUEUE, job_queue_list
from airflow_batch_service.emulator.function_runs import wait_until_done
from airflow_batch_service.emulator.gates import wait_until_waiting


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
        events: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {
            "secondsPerState": seconds_per_state,
            "clientTokenMode": client_token_mode,
            "freezeClock": freeze_clock,
            "apiQuotas": api_quotas,
            "runFunctions": run_functions,
            "events": None if events is None else dict(events),
        }
        return dict(self._call("POST", "configure", body))

    def event_queue(
        self, name: str = DEFAULT_QUEUE, job_queues: str | Sequence[str] | None = None
    ) -> str:
        """An SQS queue receiving the service jobs' state-change events (of ``job_queues``
        only, names or ARNs, one or a list, when given); returns its URL (``POST /_emulator/event-queue``).
        Idempotent."""
        body = {
            "name": name,
            "jobQueues": job_queue_list(job_queues),
            "region": self.region,
        }
        made = self._call("POST", "event-queue", body)
        return f"{self.endpoint_url}/{made['account']}/{made['queueName']}"

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
