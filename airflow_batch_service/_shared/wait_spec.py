"""What a deferred wait on a service job carries to the triggerer, declared once.

``BatchServiceJobTrigger`` is built from a :class:`WaitSpec`, serializes it
(:meth:`WaitSpec.to_kwargs`: the kwargs dict Airflow stores in the trigger row) and is rebuilt
from those kwargs by the triggerer; the drivers (``_shared.waiting``) build the wait itself
from it. Each field is named here and nowhere else, so a new one is one line.

The kwargs are a stored format: triggers deferred by a running Airflow are rebuilt from them
after an upgrade. Keep every key and its value's shape (a field may be added with a default;
none renamed or reshaped). Cheap to import: the triggerer imports it with the trigger class
for every trigger row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from airflow_batch_service.core.event_wait import RECONCILE_INTERVAL
from airflow_batch_service.core.limits import SENSOR_TIMEOUT, Limit
from airflow_batch_service.core.strict_json import strict_json


@dataclass(frozen=True, kw_only=True)
class WaitSpec:
    """A wait on one service job, as the triggerer runs it (see the trigger's parameters)."""

    # The connection, as the amazon provider's ``AwsHookParams`` names it.
    aws_conn_id: str | None = "aws_default"
    region_name: str | None = None
    verify: bool | str | None = None
    botocore_config: dict[str, Any] | None = None
    # The wait.
    job_id: str
    poll_interval: float = 30
    max_runnable_seconds: float | None = None
    state: dict[str, Any] | None = None  # ``JobWait.state()`` at deferral
    deadline_ms: int | None = None  # ``Limit.at_ms``
    terminate_on_timeout: bool = False
    timeout_what: str = "The wait timed out."  # ``Limit.what``
    timeout_kind: str | None = None  # ``Limit.kind``
    terminate_on_kill: bool = False
    kill_reason: str = ""  # "": a reason naming the job (``__post_init__``)
    terminate_reason_prefix: str = ""
    stream_logs: bool = True
    log_state: dict[str, Any] | None = None  # ``LogTail.to_dict()`` at deferral
    not_found_grace: float | None = None
    read_training_result: bool = False
    # Event-woken waits: the SQS queue of the job queue's state-change events, and the slow
    # poll that catches what events miss (``core.event_wait``).
    # Stored only when set: rows of waits without events keep their earlier shape.
    event_queue: str | None = field(default=None, metadata={"stored": "if set"})
    reconcile_interval: float | None = field(default=None, metadata={"stored": "if set"})
    # How the user set the limit ("wait_timeout=5s"), for the task's log: not stored.
    timeout_label: str = field(default="", compare=False, metadata={"stored": False})

    def __post_init__(self) -> None:
        # Copies of the mappings given (None for an empty one), as the trigger always stored.
        for name in ("botocore_config", "state", "log_state"):
            value = getattr(self, name)
            object.__setattr__(self, name, dict(value) if value else None)
        if not self.kill_reason:
            reason = f"The Airflow task waiting on service job {self.job_id} was killed"
            object.__setattr__(self, "kill_reason", reason)

    @classmethod
    def for_task(
        cls,
        connection: Mapping[str, Any],
        *,
        limit: Limit | None,
        owns_job: bool,
        **wait: Any,
    ) -> WaitSpec:
        """A task's wait: the task's ``connection`` (``waiting.connection_args``), the time
        limit that applies, and whether the task owns the job (terminates it at the limit and
        on a kill: the operator) or not (the sensor); ``wait``: the other fields."""
        return cls(
            **connection,
            deadline_ms=limit.at_ms if limit else None,
            timeout_kind=limit.kind if limit else None,
            timeout_what=limit.what if limit else "",
            timeout_label=limit.label if limit else "",
            terminate_on_timeout=owns_job,
            terminate_on_kill=owns_job,
            **wait,
        )

    @property
    def wait_interval(self) -> float:
        """Seconds between the wait's own polls: ``poll_interval``, or with events the
        reconciliation interval (``core.event_wait.RECONCILE_INTERVAL`` unless given)."""
        if not self.event_queue:
            return self.poll_interval
        return self.reconcile_interval or RECONCILE_INTERVAL

    @property
    def limit(self) -> Limit | None:
        """The time limit the spec carries, or None."""
        if self.deadline_ms is None:
            return None
        kind = self.timeout_kind or SENSOR_TIMEOUT
        return Limit(self.deadline_ms, kind, self.timeout_what, self.timeout_label)

    def to_kwargs(self) -> dict[str, Any]:
        """The kwargs Airflow stores for the trigger: every stored field, by name, as strict
        JSON (``core.strict_json``: ``state`` and ``log_state`` carry text from AWS, a status
        reason, and PostgreSQL refuses a NUL character or a NaN in the trigger row)."""
        kwargs = {
            spec_field.name: getattr(self, spec_field.name)
            for spec_field in fields(self)
            if spec_field.metadata.get("stored", True) is True
            or (spec_field.metadata.get("stored") == "if set" and getattr(self, spec_field.name))
        }
        return strict_json(kwargs)
