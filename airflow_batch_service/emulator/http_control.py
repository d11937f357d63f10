"""``/_emulator/*``: the control API of a running server, as WSGI middleware in front of moto.

Each route calls the same function in ``control.py`` that the in-process handle calls, so a
test can drive either mode through one surface (``Emulator`` or ``RemoteEmulator``).

=======  ===========================  ==================================================
GET      /_emulator/stats             request counters per operation
DELETE   /_emulator/stats             reset them (also POST /_emulator/stats/reset)
POST     /_emulator/scenarios         load a scenario document (the file format)
POST     /_emulator/faults            ``{"faults": {<operation>: {...}}, "seed": 1}``
GET      /_emulator/faults            the plan in force
POST     /_emulator/release           let every held call (``"hold": true``) go on
POST     /_emulator/gates             ``{"open": name}``: open a gate (``holdUntilReleased``)
GET      /_emulator/gates             ``{"open": [names], "waiting": {gate: [job ids]}}``
GET      /_emulator/function-runs     ``{"runs": [...]}``: ``@task.batch_service`` function runs
POST     /_emulator/configure         ``{"secondsPerState", "clientTokenMode", "freezeClock", "apiQuotas", "runFunctions", "events"}``
POST     /_emulator/clock             ``{"advance": seconds}`` -> ``{"now": epoch seconds}``
POST     /_emulator/queues            ``{"name", "region", "fairShare", "quotaShare", "maxCapacity"}``
POST     /_emulator/event-queue       ``{"name", "jobQueues", "region"}``: an SQS queue getting the state-change events
GET      /_emulator/settings          everything above in one document
=======  ===========================  ==================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from airflow_batch_service.emulator import control
from airflow_batch_service.emulator.event_knobs import DEFAULT_QUEUE
from airflow_batch_service.emulator.faults import FaultError
from airflow_batch_service.emulator.scenarios import ScenarioError

PREFIX = "/_emulator/"

Handler = Callable[[dict[str, Any]], Any]


def _faults(body: dict[str, Any]) -> Any:
    if "faults" in body or "seed" in body:
        return control.set_faults(body.get("faults") or {}, body.get("seed"))
    return control.set_faults(body)


def _configure(body: dict[str, Any]) -> Any:
    return control.configure(
        seconds_per_state=body.get("secondsPerState"),
        client_token_mode=body.get("clientTokenMode"),
        freeze_clock=body.get("freezeClock"),
        api_quotas=body.get("apiQuotas"),
        run_functions=body.get("runFunctions"),
        events=body.get("events"),
    )


def _event_queue(body: dict[str, Any]) -> Any:
    return control.event_queue(
        str(body.get("name") or DEFAULT_QUEUE),
        job_queues=body.get("jobQueues"),
        region=str(body.get("region") or "us-east-1"),
    )


def _queue(body: dict[str, Any]) -> Any:
    arn = control.create_queue(
        str(body["name"]),
        region=str(body.get("region") or "us-east-1"),
        fair_share=bool(body.get("fairShare", False)),
        quota_share=bool(body.get("quotaShare", False)),
        max_capacity=int(body.get("maxCapacity", 10)),
    )
    return {"jobQueueArn": arn}


def _reset_stats(body: dict[str, Any]) -> Any:
    control.reset_stats()
    return {}


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "stats"): lambda body: control.stats(),
    ("DELETE", "stats"): _reset_stats,
    ("POST", "stats/reset"): _reset_stats,
    ("POST", "scenarios"): control.load_scenarios,
    ("POST", "faults"): _faults,
    ("GET", "faults"): lambda body: control.describe()["faults"],
    ("POST", "release"): lambda body: control.release(),
    ("POST", "gates"): lambda body: control.open_gate(str(body.get("open") or "")),
    ("GET", "gates"): lambda body: control.gates(),
    ("GET", "function-runs"): lambda body: control.function_runs(),
    ("POST", "configure"): _configure,
    ("POST", "clock"): lambda body: {"now": control.advance(float(body.get("advance", 0)))},
    ("POST", "queues"): _queue,
    ("POST", "event-queue"): _event_queue,
    ("GET", "settings"): lambda body: control.describe(),
}


class ControlMiddleware:
    """Answer ``/_emulator/*`` here; pass everything else to moto's WSGI app."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        handler = ROUTES.get((method, path[len(PREFIX) :].strip("/")))
        if handler is None:
            return _answer(start_response, 404, {"message": f"no control route {method} {path}"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return _answer(start_response, 200, handler(body))
        except (ValueError, KeyError, TypeError, ScenarioError, FaultError) as err:
            return _answer(start_response, 400, {"message": str(err)})


def _answer(start_response: Callable[..., Any], status: int, payload: Any) -> Iterable[bytes]:
    data = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
