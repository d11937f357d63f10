"""The emulator's control surface, as plain functions over JSON-able arguments.

The in-process :class:`Emulator` calls these directly; the server exposes the same functions
at ``/_emulator/*`` (``http_control.py``) and :class:`RemoteEmulator` calls them over HTTP, so
both handles behave the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from airflow_batch_service.emulator import event_queue as event_queues
from airflow_batch_service.emulator import scenarios as scenario_format
from airflow_batch_service.emulator.backend import ServiceJobBackend, service_job_backends
from airflow_batch_service.emulator.clock import Clock
from airflow_batch_service.emulator.event_knobs import DEFAULT_QUEUE, EventKnobs
from airflow_batch_service.emulator.faults import FaultPlan
from airflow_batch_service.emulator.function_runs import RUNS
from airflow_batch_service.emulator.gates import check_name
from airflow_batch_service.emulator.holds import HOLDS
from airflow_batch_service.emulator.install import install
from airflow_batch_service.emulator.quotas import QuotaMode
from airflow_batch_service.emulator.settings import STATE_LOCK, ClientTokenMode, settings
from airflow_batch_service.emulator.side_services import catch_up


def configure(
    seconds_per_state: float | None = None,
    client_token_mode: str | None = None,
    freeze_clock: bool | None = None,
    clock: Callable[[], float] | None = None,
    api_quotas: str | None = None,
    run_functions: bool | None = None,
    events: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Change timing, clientToken mode, the clock, the API quotas, whether
    ``@task.batch_service`` functions run, or the state-change events' knobs. ``None`` leaves
    a setting alone.

    ``seconds_per_state`` applies to jobs submitted afterwards (a job keeps the timing it was
    submitted with, so its history never changes retroactively). ``api_quotas`` is ``"aws"``
    (SubmitServiceJob 5/s, other Batch calls 50/s; see ``quotas.py``) or ``"off"``; switching
    it on starts with full buckets. ``run_functions`` applies to attempts that start RUNNING
    afterwards (a function already running goes on). ``events`` (``event_knobs.KEYS``:
    ``enabled``, ``drop``, ``duplicate``, ``delay_seconds``, ``reorder``, ``seed``) changes
    the knobs it names; a ``seed`` given restarts the random source.
    """
    mode = QuotaMode.parse(api_quotas) if api_quotas is not None else None
    if run_functions is not None and not isinstance(run_functions, bool):
        raise ValueError(f"run_functions must be true or false, got {run_functions!r}")
    EventKnobs().merged(events)  # every knob checked before anything changes
    with STATE_LOCK:
        cfg = settings()
        if seconds_per_state is not None:
            if (
                isinstance(seconds_per_state, bool)
                or not isinstance(seconds_per_state, int | float)
                or seconds_per_state < 0
            ):
                raise ValueError(
                    f"seconds_per_state must be a non-negative number, got {seconds_per_state!r}"
                )
            cfg.seconds_per_state = float(seconds_per_state)
        if client_token_mode is not None:
            try:
                cfg.client_token_mode = ClientTokenMode(client_token_mode)
            except ValueError:
                modes = ", ".join(m.value for m in ClientTokenMode)
                raise ValueError(
                    f"client_token_mode must be one of {modes}, got {client_token_mode!r}"
                ) from None
        if clock is not None:
            cfg.clock = Clock(clock)
        if freeze_clock is True:
            cfg.clock.freeze()
        elif freeze_clock is False:
            cfg.clock.unfreeze()
        if mode is not None:
            cfg.quotas.set_mode(mode)
        if run_functions is not None:
            cfg.run_functions = run_functions
        if events is not None:
            cfg.events.configure(cfg.events.knobs.merged(events), reseed="seed" in events)
        return cfg.describe()


def load_scenarios(document: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Replace the scenarios; a ``secondsPerState`` in the document also sets the timing, an
    ``events`` section the state-change events' knobs it names."""
    parsed = scenario_format.parse(document)
    with STATE_LOCK:
        cfg = settings()
        cfg.scenarios = parsed
        if parsed.seconds_per_state is not None:
            cfg.seconds_per_state = parsed.seconds_per_state
        if parsed.events is not None:
            cfg.events.configure(cfg.events.knobs.merged(parsed.events), "seed" in parsed.events)
        return cfg.describe()


def set_faults(faults: Mapping[str, Any] | None, seed: int | None = None) -> dict[str, Any]:
    """Replace the fault plan (``{}`` or ``None`` clears it). Calls held by the old plan
    are released."""
    plan = FaultPlan.parse(faults or {}, seed)
    with STATE_LOCK:
        settings().faults = plan
    HOLDS.release()
    return plan.to_dict()


def release() -> dict[str, Any]:
    """Let every call held now (``"hold": true``) go on; later calls still hold while the
    plan says so. Returns ``{"released": n}``."""
    return {"released": HOLDS.release()}


def _service_job_backends() -> list[ServiceJobBackend]:
    """Every account's and region's service-job backend that exists so far."""
    return [
        backend
        for _, _, backend in list(service_job_backends.iter_backends())
        if isinstance(backend, ServiceJobBackend)
    ]


def open_gate(name: str) -> dict[str, Any]:
    """Open the named gate (``holdUntilReleased``) now, in every region and account: each job
    waiting at it may go on, and one reaching it later passes. Returns ``{"gate", "openedAt",
    "released": [job ids]}``."""
    check_name(name)
    with STATE_LOCK:
        backends = _service_job_backends()
        for backend in backends:
            backend.advance_all()
        at = settings().gates.open(name, settings().clock.now())
        released = [job for backend in backends for job in backend.world.gate_opened(name, at)]
    return {"gate": name, "openedAt": at, "released": released}


def gates() -> dict[str, Any]:
    """``{"open": [names], "waiting": {gate: [job ids]}}``: which gates are open, and which
    jobs wait at a shut one now (the world brought up to now first)."""
    with STATE_LOCK:
        waiting: dict[str, list[str]] = {}
        for backend in _service_job_backends():
            backend.advance_all()
            for gate, ids in backend.world.at_gates().items():
                waiting.setdefault(gate, []).extend(ids)
        return {"open": settings().gates.names(), "waiting": waiting}


def function_runs() -> dict[str, Any]:
    """``{"runs": [{"jobId", "attempt", "trainingJobName", "state", "exitCode",
    "failureReason"}]}``: every ``@task.batch_service`` function run since the last reset,
    ``state`` being ``running``, ``exited`` or ``killed`` (the world brought up to now first,
    so a run that is due has started)."""
    with STATE_LOCK:
        for backend in _service_job_backends():
            backend.advance_all()
    return {"runs": RUNS.runs()}


def stats() -> dict[str, Any]:
    """``{operation: calls}``; plus ``"throttled": {operation: calls}`` once the API quotas
    throttled a call, and ``"held"`` / ``"heldTotal"`` once a call was held."""
    with STATE_LOCK:
        out = settings().stats_document()
    holds = HOLDS.snapshot()
    if holds["heldTotal"]:
        out.update(holds)
    return out


def reset_stats() -> None:
    with STATE_LOCK:
        settings().reset_stats()
    HOLDS.clear_counts()


def advance(seconds: float) -> float:
    """Move the emulator clock forward; returns the new now (epoch seconds). Every job is
    brought up to it at once, so the state-change events due by then are published with
    nobody reading the jobs."""
    with STATE_LOCK:
        now = settings().clock.advance(float(seconds))
        catch_up()
        return now


def event_queue(
    name: str = DEFAULT_QUEUE,
    job_queues: str | list[str] | None = None,
    region: str = "us-east-1",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """An SQS queue that receives the state-change events (of ``job_queues`` only, names or
    ARNs, one or a list, when given): queue, rule, target and policy, idempotently (``event_queue.ensure``)."""
    install()
    with STATE_LOCK:
        return event_queues.ensure(name, job_queues, region, account_id)


def describe() -> dict[str, Any]:
    with STATE_LOCK:
        return settings().describe()


def create_queue(
    name: str,
    region: str = "us-east-1",
    fair_share: bool = False,
    quota_share: bool = False,
    max_capacity: int = 10,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str:
    """A ready SAGEMAKER_TRAINING queue with its service environment; returns its ARN."""
    install()
    with STATE_LOCK:
        backend = service_job_backends[account_id][region]
        return backend.create_ready_queue(name, fair_share, quota_share, max_capacity).arn
