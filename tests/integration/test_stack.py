"""The harness itself, end to end on a real scheduler: a trivial run, and what stops a task.

These use only Airflow (no provider code), so they show what the installed Airflow does when a
user marks a running or a deferred task failed: which hooks run (``BaseOperator.on_kill``,
``BaseTrigger.on_kill``, ``BaseTrigger.cleanup``) and that the task's process goes away.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .stack import AirflowStack
from .support import until as _until


def _wait_for_file(
    path: Path, timeout: float, stack: AirflowStack, dag_id: str, run_id: str
) -> str:
    _until(f"{path.name} written", path.exists, timeout, stack, dag_id, run_id)
    return path.read_text()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False


def test_trivial_dag_runs_on_the_real_scheduler(stack: AirflowStack) -> None:
    stack.add_dag_file(
        """
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.python import PythonOperator

        def hello(**context):
            print("HELLO-FROM-THE-STACK", context["run_id"])
            return 42

        with DAG(dag_id="it_trivial", schedule=None, catchup=False) as dag:
            PythonOperator(task_id="hello", python_callable=hello)
        """,
        "it_trivial.py",
    )
    stack.wait_for_dag("it_trivial")
    stack.unpause("it_trivial")
    started = time.monotonic()
    run_id = stack.trigger("it_trivial")
    run = stack.wait_for_run("it_trivial", run_id, timeout=120)
    stack.timings["trivial_run"] = time.monotonic() - started

    assert run["state"] == "success"
    ti = stack.task_instance("it_trivial", run_id, "hello")
    assert ti["state"] == "success"
    assert ti["try_number"] == 1
    log = stack.task_log("it_trivial", run_id, "hello")
    assert f"HELLO-FROM-THE-STACK {run_id}" in log, log[-3000:]
    print(
        f"\nAirflow {stack.version()}: stack up in {stack.timings['startup']:.1f}s "
        f"(db migrate {stack.timings['db_migrate']:.1f}s); trivial run {stack.timings['trivial_run']:.1f}s"
    )


def test_marking_a_running_task_failed_kills_it_and_calls_on_kill(
    stack: AirflowStack, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    stack.add_dag_file(
        f"""
        import os, time
        from pathlib import Path
        from airflow.sdk import DAG, BaseOperator

        MARKERS = Path({str(markers)!r})

        class Sleeper(BaseOperator):
            def execute(self, context):
                (MARKERS / "running").write_text(str(os.getpid()))
                time.sleep(600)

            def on_kill(self):
                (MARKERS / "on_kill").write_text(str(os.getpid()))

        with DAG(dag_id="it_kill_running", schedule=None, catchup=False) as dag:
            Sleeper(task_id="sleep", retries=0)
        """,
        "it_kill_running.py",
    )
    stack.wait_for_dag("it_kill_running")
    run_id = stack.trigger("it_kill_running")
    stack.wait_for_task("it_kill_running", run_id, "sleep", {"running"}, fail_on={"failed"})
    pid = int(_wait_for_file(markers / "running", 60, stack, "it_kill_running", run_id))
    assert _pid_alive(pid)

    stack.kill_task("it_kill_running", run_id, "sleep")

    on_kill_pid = int(_wait_for_file(markers / "on_kill", 90, stack, "it_kill_running", run_id))
    assert on_kill_pid == pid
    _until(
        f"the task's process {pid} gone after on_kill",
        lambda: not _pid_alive(pid),
        60,
        stack,
        "it_kill_running",
        run_id,
    )
    assert stack.task_instance("it_kill_running", run_id, "sleep")["state"] == "failed"
    stack.wait_for_run("it_kill_running", run_id, states={"failed"}, timeout=60)


TRIGGER_MODULE = """
    import asyncio
    import os
    from pathlib import Path

    from airflow.triggers.base import BaseTrigger, TriggerEvent


    class MarkerTrigger(BaseTrigger):
        '''Sleeps; leaves a file for each hook the triggerer calls.'''

        def __init__(self, marker_dir, seconds=600.0):
            super().__init__()
            self.marker_dir = marker_dir
            self.seconds = seconds

        def serialize(self):
            return (
                "abs_it_triggers.MarkerTrigger",
                {"marker_dir": self.marker_dir, "seconds": self.seconds},
            )

        async def run(self):
            Path(self.marker_dir, "trigger_started").write_text(str(os.getpid()))
            await asyncio.sleep(self.seconds)
            yield TriggerEvent({"slept": self.seconds})

        async def on_kill(self):
            Path(self.marker_dir, "trigger_on_kill").write_text(str(os.getpid()))

        async def cleanup(self):
            Path(self.marker_dir, "trigger_cleanup").write_text(str(os.getpid()))
"""


def test_marking_a_deferred_task_failed_cancels_its_trigger(
    stack: AirflowStack, tmp_path: Path
) -> None:
    """On Airflow with ``BaseTrigger.on_kill`` (3.3) the triggerer calls it; before, only cleanup()."""
    from airflow.triggers.base import BaseTrigger

    has_trigger_on_kill = "on_kill" in vars(BaseTrigger)
    markers = tmp_path / "markers"
    markers.mkdir()
    stack.add_module("abs_it_triggers", TRIGGER_MODULE)
    stack.add_dag_file(
        f"""
        from airflow.sdk import DAG, BaseOperator
        from abs_it_triggers import MarkerTrigger

        class Waiter(BaseOperator):
            def execute(self, context):
                self.defer(trigger=MarkerTrigger({str(markers)!r}), method_name="done")

            def done(self, context, event=None):
                return event

        with DAG(dag_id="it_kill_deferred", schedule=None, catchup=False) as dag:
            Waiter(task_id="wait", retries=0)
        """,
        "it_kill_deferred.py",
    )
    stack.wait_for_dag("it_kill_deferred")
    run_id = stack.trigger("it_kill_deferred")
    stack.wait_for_task("it_kill_deferred", run_id, "wait", {"deferred"}, fail_on={"failed"})
    _wait_for_file(markers / "trigger_started", 90, stack, "it_kill_deferred", run_id)

    # The marker is written by the trigger itself; the triggerer's " starting" line reaches
    # the log file through its supervisor a moment later (CI's 3.0.6 run read an empty file).
    _until(
        "the triggerer logging the trigger's start",
        lambda: " starting" in stack.trigger_log("it_kill_deferred", run_id, "wait"),
        30,
        stack,
        "it_kill_deferred",
        run_id,
    )

    stack.kill_task("it_kill_deferred", run_id, "wait")

    _wait_for_file(markers / "trigger_cleanup", 90, stack, "it_kill_deferred", run_id)
    if has_trigger_on_kill:
        _wait_for_file(markers / "trigger_on_kill", 30, stack, "it_kill_deferred", run_id)
    else:
        assert not (markers / "trigger_on_kill").exists()
    assert stack.task_instance("it_kill_deferred", run_id, "wait")["state"] == "failed"
    stack.wait_for_run("it_kill_deferred", run_id, states={"failed"}, timeout=60)
