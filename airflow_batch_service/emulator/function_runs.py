"""Real runs of ``@task.batch_service`` functions: one local process per attempt.

Why: a scripted outcome tests the provider's waiting, not the function. A job whose payload
runs a Python script from one of its input channels (``container.script_job``: how the
decorator submits its runner and function) is run for real when an attempt enters RUNNING, so
a test sees what the function printed, returned or raised, through the same S3 objects, log
stream and status reasons as on SageMaker, without a training image.

A run lays out a temporary directory as SageMaker lays out ``/opt/ml`` (``container``), starts
the script there with ``sys.executable`` in a process group of its own, and sends every line it
prints to the attempt's log stream. When the script exits, the outputs are archived as
SageMaker does (``model.tar.gz``, ``output.tar.gz``) and the exit is stamped; a killed run
(terminate, preemption, time-out, reset, shutdown) is never stamped, so it can no longer change
its job.

This module knows processes, files and threads only (no moto): what touches moto (reading and
writing S3, the log stream, the clock, re-timing the job) comes in as :class:`RunHooks` from
``sagemaker_bridge``, and the remote handle can use :func:`wait_until_done` without loading
moto. Sequencing stays in ``jobs``: a job whose attempt has a run waits in RUNNING until the
run's ``exited_at`` is set, then ends as its ``failure`` says.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_batch_service.emulator import container
from airflow_batch_service.emulator.container import RunFailure, ScriptJob

RUNNING, EXITED, KILLED = "running", "exited", "killed"
#: How long output may keep flowing after the runner exited (a child still holding the
#: pipe) before the rest of its process group is killed, as the end of a container would.
DRAIN_SECONDS = 5.0


@dataclass
class RunHooks:
    """What a run asks of the emulator (``sagemaker_bridge`` builds them per attempt)."""

    #: The channel's objects, ``{path relative to the channel: content}``; may raise RunFailure.
    fetch: Callable[[str], Mapping[str, bytes]]
    #: One line the function printed (stdout and stderr, as they come).
    log: Callable[[str], None]
    #: ``{archive name: tar.gz bytes}`` to upload after a successful run; may raise RunFailure.
    upload: Callable[[Mapping[str, bytes]], None]
    #: The run ended by itself (never called after a kill): stamp it, re-time the job.
    exited: Callable[[FunctionRun], None]


@dataclass(eq=False)
class FunctionRun:
    """One run. ``exited_at`` (emulator clock) is set by the ``exited`` hook, under the
    emulator's state lock; ``jobs`` reads it and ``failure`` (SageMaker's FailureReason,
    None when the function returned)."""

    job_id: str
    number: int  # 1-based: the job's n-th run
    training_job_name: str
    state: str = RUNNING
    exit_code: int | None = None
    failure: str | None = None
    exited_at: float | None = None
    kill_requested: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "attempt": self.number,
            "trainingJobName": self.training_job_name,
            "state": self.state,
            "exitCode": self.exit_code,
            "failureReason": self.failure,
        }


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class FunctionRuns:
    """Every run of this process (module level, like ``holds.HOLDS``: one per process; a
    reset kills and forgets them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: list[FunctionRun] = []

    def register(self, job_id: str, training_job_name: str) -> FunctionRun:
        """A new run of ``job_id`` (numbered after its earlier ones), not started yet: the
        caller attaches it to its attempt first, then launches it (:meth:`launch`)."""
        with self._lock:
            number = 1 + sum(1 for run in self._runs if run.job_id == job_id)
            run = FunctionRun(job_id, number, training_job_name)
            self._runs.append(run)
            return run

    def launch(
        self, run: FunctionRun, job: ScriptJob, payload: Mapping[str, Any], hooks: RunHooks
    ) -> None:
        """Start ``run`` of ``job`` in a thread of its own; returns at once."""
        threading.Thread(
            target=self._run,
            args=(run, job, payload, hooks),
            name=f"function-run-{run.training_job_name}",
            daemon=True,
        ).start()

    def kill(self, run: FunctionRun) -> None:
        """Stop ``run`` if it still runs: SIGKILL to its process group. Its thread then
        removes its files and marks it killed; its ``exited`` hook is never called."""
        with self._lock:
            if run.state != RUNNING:
                return
            run.kill_requested = True
            process = run.process
        if process is not None and process.returncode is None:
            _kill_group(process)

    def reset(self) -> None:
        """Kill every run and forget them all (emulator reset, shutdown)."""
        with self._lock:
            runs, self._runs = self._runs, []
        for run in runs:
            self.kill(run)

    def runs(self, job_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_dict() for r in self._runs if job_id is None or r.job_id == job_id]

    # ------------------------------------------------------------------ one run
    def _run(
        self, run: FunctionRun, job: ScriptJob, payload: Mapping[str, Any], hooks: RunHooks
    ) -> None:
        root = Path(tempfile.mkdtemp(prefix="batch-function-"))
        code: int | None = None
        failure: str | None = None
        try:
            code, failure = self._execute(run, job, payload, hooks, root)
        except RunFailure as err:
            failure = str(err)[: container.FAILURE_REASON_MAX]
        except Exception as err:  # the emulator's own trouble: fail the attempt, say why
            failure = f"ClientError: the emulator could not run the function: {err!r}"
        finally:
            shutil.rmtree(root, ignore_errors=True)
        with self._lock:
            run.process = None
            run.exit_code, run.failure = code, failure
            run.state = KILLED if run.kill_requested else EXITED
            if run.state == KILLED:
                return
        with contextlib.suppress(Exception):  # e.g. the emulator was reset meanwhile
            hooks.exited(run)

    def _execute(
        self,
        run: FunctionRun,
        job: ScriptJob,
        payload: Mapping[str, Any],
        hooks: RunHooks,
        root: Path,
    ) -> tuple[int | None, str | None]:
        container.layout(root, job, hooks.fetch(job.uri))
        env = container.environment(root, job, payload, run.training_job_name)
        with self._lock:
            if run.kill_requested:
                return None, None
            process = run.process = subprocess.Popen(
                container.command(root, job, sys.executable),
                cwd=root,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes its children
            )
        pump = threading.Thread(target=_pump, args=(process, hooks.log), daemon=True)
        pump.start()
        code = process.wait()
        pump.join(DRAIN_SECONDS)
        _kill_group(process)  # whatever it left behind ends with the "container"
        pump.join(DRAIN_SECONDS)  # a child that left the group may still hold the pipe
        if run.kill_requested:
            return code, None
        if code != 0:
            return code, container.failure_reason(root, code)
        try:
            hooks.upload(container.archives(root))
        except RunFailure as err:
            return code, str(err)[: container.FAILURE_REASON_MAX]
        return code, None


def _pump(process: subprocess.Popen[bytes], log: Callable[[str], None]) -> None:
    assert process.stdout is not None
    with contextlib.suppress(OSError, ValueError):
        for raw in process.stdout:
            with contextlib.suppress(Exception):
                log(raw.decode(errors="replace").rstrip("\r\n"))
    with contextlib.suppress(OSError):
        process.stdout.close()


RUNS = FunctionRuns()
atexit.register(RUNS.reset)


def wait_until_done(
    read: Callable[[], list[dict[str, Any]]],
    job_id: str | None = None,
    count: int = 1,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Block until at least ``count`` runs (of ``job_id``, or of any job) exist and none of
    them still runs; returns them. ``read`` is a handle's ``function_runs``. The bound is
    generous on purpose: it is reached only when something is wrong, and then the error says
    what was awaited and what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        seen = [run for run in read() if job_id is None or run["jobId"] == job_id]
        if len(seen) >= count and all(run["state"] != RUNNING for run in seen):
            return seen
        if time.monotonic() >= deadline:
            whose = f"job {job_id}" if job_id is not None else "any job"
            raise TimeoutError(
                f"waited {timeout:g}s for {count} function run(s) of {whose} to end "
                f"(none still running); saw {seen}"
            )
        time.sleep(0.1)
