"""``Emulator``: the in-process control handle, used inside ``moto.mock_aws()``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID

from airflow_batch_service.emulator import control
from airflow_batch_service.emulator.event_knobs import DEFAULT_QUEUE, job_queue_list
from airflow_batch_service.emulator.function_runs import wait_until_done
from airflow_batch_service.emulator.gates import wait_until_waiting
from airflow_batch_service.emulator.install import install


class Emulator:
    """Control the emulator running in this process (under ``moto.mock_aws``).

    Creating one installs the emulator's routes into moto (idempotent). State lives in moto's
    backends, so ``mock_aws`` starting or ``POST /moto-api/reset`` wipes it.
    """

    endpoint_url: str | None = None

    def __init__(self, region: str = "us-east-1", account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        install()
        self.region = region
        self.account_id = account_id

    def create_queue(
        self, name: str, fair_share: bool = False, quota_share: bool = False, max_capacity: int = 10
    ) -> str:
        """Create a SAGEMAKER_TRAINING service environment (``<name>-env``) and queue; with
        ``fair_share`` or ``quota_share`` also a scheduling policy (``<name>-policy``), and
        for quota share a quota share named ``default``. Returns the queue ARN."""
        return control.create_queue(
            name, self.region, fair_share, quota_share, max_capacity, self.account_id
        )

    def configure(
        self,
        seconds_per_state: float | None = None,
        client_token_mode: str | None = None,
        freeze_clock: bool | None = None,
        clock: Callable[[], float] | None = None,
        api_quotas: str | None = None,
        run_functions: bool | None = None,
        events: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """See :func:`control.configure`; ``api_quotas="aws"`` turns AWS's rate quotas on
        (they are off in-process unless asked); ``run_functions=False`` stops running
        ``@task.batch_service`` functions (their jobs then follow scenarios and timing only);
        ``events={"drop", "duplicate", "delay_seconds", "reorder", "seed", "enabled"}`` sets
        the state-change events' knobs it names."""
        return control.configure(
            seconds_per_state,
            client_token_mode,
            freeze_clock,
            clock,
            api_quotas,
            run_functions,
            events,
        )

    def event_queue(
        self, name: str = DEFAULT_QUEUE, job_queues: str | Sequence[str] | None = None
    ) -> str:
        """An SQS queue receiving the service jobs' state-change events (of ``job_queues``
        only, names or ARNs, one or a list, when given): the queue, an EventBridge rule on the default bus,
        its target and the queue policy, idempotently. Returns the queue URL."""
        control.event_queue(name, job_queue_list(job_queues), self.region, self.account_id)
        return str(self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

    def load_scenarios(self, document: Mapping[str, Any] | str | Path) -> dict[str, Any]:
        return control.load_scenarios(document)

    def set_faults(
        self, faults: Mapping[str, Any] | None, seed: int | None = None
    ) -> dict[str, Any]:
        return control.set_faults(faults, seed)

    def clear_faults(self) -> None:
        control.set_faults({})

    def release(self) -> int:
        """Let every held call go on (see :func:`control.release`); returns how many."""
        return int(control.release()["released"])

    def open_gate(self, name: str) -> list[str]:
        """Open a named gate (see :func:`control.open_gate`); returns the jobs it released."""
        return list(control.open_gate(name)["released"])

    def gates(self) -> dict[str, Any]:
        """Open gates and the jobs waiting at shut ones (see :func:`control.gates`)."""
        return control.gates()

    def wait_at_gate(self, gate: str, count: int = 1, timeout: float = 120.0) -> list[str]:
        """Block until ``count`` jobs wait at ``gate``; their ids (``gates.wait_until_waiting``)."""
        return wait_until_waiting(self.gates, gate, count, timeout)

    def function_runs(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """The ``@task.batch_service`` function runs (of ``job_id``, or all) since the last
        reset (see :func:`control.function_runs`)."""
        runs = control.function_runs()["runs"]
        return [run for run in runs if job_id is None or run["jobId"] == job_id]

    def wait_for_function_runs(
        self, job_id: str | None = None, count: int = 1, timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """Block until ``count`` runs (of ``job_id``) exist and none still runs; returns them
        (``function_runs.wait_until_done``)."""
        return wait_until_done(self.function_runs, job_id, count, timeout)

    def stats(self) -> dict[str, Any]:
        return control.stats()

    def reset_stats(self) -> None:
        control.reset_stats()

    def advance(self, seconds: float) -> float:
        """Move the emulator clock forward by ``seconds``; jobs progress accordingly."""
        return control.advance(seconds)

    def settings(self) -> dict[str, Any]:
        return control.describe()

    def client(self, service: str = "batch", **kwargs: Any) -> Any:
        """A boto3 client for this emulator (in-process: a plain client; mock_aws answers)."""
        kwargs.setdefault("region_name", self.region)
        return boto3.client(service, **kwargs)
