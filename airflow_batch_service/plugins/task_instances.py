"""A task instance as the tab sees it: its tries, rendered fields and this provider's XComs.

Plain data, filled by ``airflow_data`` (the metadata DB) or by a test, so the data gathering
and the view models never touch Airflow's ORM. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Operators of this provider (by class name, as ``task_instance.operator`` stores it).
PROVIDER_OPERATORS = frozenset({"BatchSubmitServiceJobOperator", "BatchServiceJobSensor"})


@dataclass(frozen=True)
class TryInfo:
    try_number: int
    state: str | None
    start_ms: int | None
    end_ms: int | None


@dataclass
class TaskInstanceInfo:
    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int
    state: str | None
    operator: str | None
    start_ms: int | None = None
    end_ms: int | None = None
    rendered: dict[str, Any] = field(default_factory=dict)
    xcoms: dict[str, Any] = field(default_factory=dict)
    history: list[TryInfo] = field(default_factory=list)

    @property
    def is_provider_task(self) -> bool:
        return (
            (self.operator or "") in PROVIDER_OPERATORS
            or "batch_service_job_details" in self.xcoms
            or "batch_service_timeline" in self.xcoms
        )

    def tries(self) -> list[TryInfo]:
        """Every try, earlier ones from the history, the current one last."""
        current = TryInfo(self.try_number, self.state, self.start_ms, self.end_ms)
        return [t for t in self.history if t.try_number != self.try_number] + [current]

    def try_at(self, at_ms: int | None) -> int:
        """The try that was running at ``at_ms`` (a job's ``createdAt``): the one whose span
        holds it, else the latest that started before it, else the current try."""
        tries = self.tries()
        if at_ms is not None:
            for t in tries:
                if (
                    t.start_ms is not None
                    and t.start_ms <= at_ms
                    and (t.end_ms is None or at_ms <= t.end_ms)
                ):
                    return t.try_number
            earlier = [t for t in tries if t.start_ms is not None and t.start_ms <= at_ms]
            if earlier:
                return earlier[-1].try_number
        return self.try_number
