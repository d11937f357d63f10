"""Emulator-wide settings (timing, clientToken mode, scenarios, faults, API quotas, function
runs, state-change events, counters), and the one lock that guards all emulator state.

They live in a moto ``BackendDict`` so that ``mock_aws`` and ``POST /moto-api/reset`` reset
them like any moto state. A reset brings back the *startup* settings (what the CLI or
:class:`EmulatorServer` was started with), not bare defaults: a server started with
``--scenarios`` keeps its scenarios across test resets. A reset also kills every running
``@task.batch_service`` function (``function_runs``) and forgets the state-change events
still on their way (delayed or held back: ``events``).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend

from airflow_batch_service.emulator.clock import Clock
from airflow_batch_service.emulator.event_knobs import EventKnobs
from airflow_batch_service.emulator.events import EventPublisher
from airflow_batch_service.emulator.faults import FaultPlan
from airflow_batch_service.emulator.function_runs import RUNS
from airflow_batch_service.emulator.gates import Gates
from airflow_batch_service.emulator.holds import HOLDS
from airflow_batch_service.emulator.quotas import ApiQuotas, QuotaMode
from airflow_batch_service.emulator.scenarios import Scenarios

DEFAULT_SECONDS_PER_STATE = 2.0

#: One lock for all emulator state: moto's threaded server runs requests concurrently, and a
#: function run's exit re-times its job from a thread of its own (``function_runs``).
STATE_LOCK = threading.RLock()


class ClientTokenMode(StrEnum):
    REJECT = "reject"  # the documented behaviour: the second identical request is rejected
    RETURN_EXISTING = "return_existing"  # what an idempotent API would do instead


@dataclass
class QueueSpec:
    """A ready SageMaker queue to create at startup (and after every reset)."""

    name: str
    fair_share: bool = False
    quota_share: bool = False
    max_capacity: int = 10


@dataclass
class Startup:
    """What a reset goes back to. Set once by the CLI / server before serving."""

    region: str = "us-east-1"
    seconds_per_state: float = DEFAULT_SECONDS_PER_STATE
    client_token_mode: ClientTokenMode = ClientTokenMode.REJECT
    scenarios: Scenarios = field(default_factory=Scenarios)
    faults: dict[str, Any] = field(default_factory=dict)
    fault_seed: int | None = None
    queues: list[QueueSpec] = field(default_factory=list)
    freeze_clock: bool = False
    api_quotas: QuotaMode = QuotaMode.OFF  # the CLI sets AWS unless told --api-quotas off
    run_functions: bool = True  # run @task.batch_service functions (--no-run-functions: off)
    events: EventKnobs = field(default_factory=EventKnobs)  # --event-*, --no-events, the file's
    event_queues: list[str] = field(default_factory=list)  # --event-queue: kept in place


STARTUP = Startup()

#: True in the process that serves HTTP (``server.serve``); False under ``mock_aws``. Decides
#: how a "timeout" lost response looks (a held answer vs. botocore's ReadTimeoutError).
SERVING = False


class SettingsBackend(BaseBackend):
    """One per process (account DEFAULT, "region" aws: moto's name for a global backend)."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.clock = Clock()
        if STARTUP.freeze_clock:
            self.clock.freeze()
        self.seconds_per_state = STARTUP.seconds_per_state
        self.client_token_mode = STARTUP.client_token_mode
        self.scenarios = STARTUP.scenarios
        if STARTUP.scenarios.seconds_per_state is not None:
            self.seconds_per_state = STARTUP.scenarios.seconds_per_state
        self.faults = FaultPlan.parse(STARTUP.faults, STARTUP.fault_seed)
        self.quotas = ApiQuotas(STARTUP.api_quotas)
        self.stats: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()  # calls the API quotas answered 429
        self.gates = Gates()  # named gates a scenario try waits at (``holdUntilReleased``)
        self.run_functions = STARTUP.run_functions
        self.events = EventPublisher(STARTUP.events, self.clock_now)
        HOLDS.clear_counts()  # a reset starts the held-call counters again too
        RUNS.reset()  # and ends every function run: their jobs are gone

    def clock_now(self) -> float:
        """Now on the emulator clock (whichever clock ``configure`` installed since)."""
        return self.clock.now()

    def count(self, operation: str) -> None:
        with self.lock:
            self.stats[operation] += 1

    def count_throttled(self, operation: str) -> None:
        with self.lock:
            self.throttled[operation] += 1

    def stats_document(self) -> dict[str, Any]:
        """``{operation: calls}``, plus ``"throttled": {operation: calls}`` once the API
        quotas have throttled anything and ``"events": {counter: n}`` once a state-change
        event was published (absent before, so existing readers see no change)."""
        with self.lock:
            out: dict[str, Any] = dict(self.stats)
            if self.throttled:
                out["throttled"] = dict(self.throttled)
            events = self.events.stats()
            if events is not None:
                out["events"] = events
            return out

    def reset_stats(self) -> None:
        with self.lock:
            self.stats.clear()
            self.throttled.clear()
            self.events.reset_stats()

    def describe(self) -> dict[str, Any]:
        return {
            "secondsPerState": self.seconds_per_state,
            "clientTokenMode": self.client_token_mode.value,
            "clockFrozen": self.clock.frozen,
            "apiQuotas": self.quotas.mode.value,
            "apiQuotaLimits": self.quotas.describe(),
            "runFunctions": self.run_functions,
            "events": self.events.knobs.to_dict(),
            "now": self.clock.now(),
            "scenarios": self.scenarios.to_dict(),
            **self.faults.to_dict(),
        }


settings_backends = BackendDict(
    SettingsBackend, "batch-service-emulator", use_boto3_regions=False, additional_regions=["aws"]
)


def settings() -> SettingsBackend:
    return settings_backends[DEFAULT_ACCOUNT_ID]["aws"]
