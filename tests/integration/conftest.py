"""Fixtures for tests that run a real Airflow (api-server, scheduler, dag-processor, triggerer).

One stack per test session (it takes 10-15 s to come up here), with the emulator's HTTP server
started first so the stack's environment can carry the ``aws`` connection pointing at it
(``AIRFLOW_CONN_BATCH_EMULATOR``). Each test gets the emulator reset and its stats zeroed.

Tests skip only when the stack cannot run on this machine at all (no ``airflow`` command, no
loopback); set ``ABS_REQUIRE_AIRFLOW_STACK=1`` (CI does) to turn even that into a failure. A stack
that is installed but does not come up is a failure with the components' log tails, never a skip.
Select or deselect these tests with ``-m airflow_stack`` / ``-m "not airflow_stack"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .stack import AirflowStack, StackError, StackUnavailable
from .support import emulator_env

REPO = Path(__file__).resolve().parents[2]
POKE_INTERVAL = "2"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "airflow_stack: runs a real Airflow (api-server, scheduler, dag-processor, triggerer) "
        "from a temp AIRFLOW_HOME; slow (tens of seconds)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test in this directory needs the stack; mark them so -m selects them, and give them
    # room: the first one also pays for starting the stack.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.airflow_stack)
            # Under pytest-xdist (scripts/test.sh runs ``-n 2 --dist loadgroup``) every test
            # of this directory goes to one worker: one stack, never two fighting for the CPU.
            item.add_marker(pytest.mark.xdist_group("airflow_stack"))
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(900))


def _required() -> bool:
    return os.environ.get("ABS_REQUIRE_AIRFLOW_STACK", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def airflow_stack(
    tmp_path_factory: pytest.TempPathFactory, batch_emulator_server_process: Any
) -> Iterator[AirflowStack]:
    """The session's running Airflow, stopped (every process, by pid) at the end of the session."""
    stack = AirflowStack(
        workdir=tmp_path_factory.mktemp("airflow-stack"),
        extra_env=emulator_env(batch_emulator_server_process, POKE_INTERVAL),
    )
    stack.pylib.mkdir(parents=True, exist_ok=True)
    try:
        stack.start()
    except StackUnavailable as e:
        if _required():
            pytest.fail(f"real Airflow stack required but unavailable: {e}")
        pytest.skip(f"real Airflow stack unavailable on this machine: {e}")
    except StackError as e:
        pytest.fail(f"real Airflow stack failed to start:\n{e}", pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()
    left = stack.alive_pids()
    assert not left and not stack.leftovers, (
        f"processes survived the stack: alive={left} swept={stack.leftovers}"
    )


@pytest.fixture
def emulator(airflow_stack: AirflowStack, batch_emulator_server: Any) -> Any:
    """The emulator handle, reset for this test (queue ``test-queue``), stats zeroed."""
    batch_emulator_server.reset_stats()
    return batch_emulator_server


@pytest.fixture
def stack(airflow_stack: AirflowStack) -> AirflowStack:
    """The running stack. A component an earlier test crashed (that test failed, with the
    component's log) is restarted first, so the crash is not blamed on every later test."""
    restarted = airflow_stack.ensure_running()
    if restarted:
        print(f"restarted after an earlier crash: {', '.join(restarted)}")
    return airflow_stack
