"""Fixtures for the distributed lane: one production-shaped Airflow per test session.

PostgreSQL, Redis, CeleryExecutor with a worker, two schedulers, the dag-processor, the
api-server, two triggerers (``cluster.DistributedStack``) and the emulator's HTTP server, all on
127.0.0.1, started once and shared by the lane's tests, stopped (every process, by pid) at the
end. Each test gets the emulator reset, its stats zeroed, every component running again (a test
that kills one restarts it; a crash an earlier test caused is restarted here) and both
triggerers heartbeating.

These tests run only in their own lane: ``scripts/test_distributed.sh`` (which sets
``ABS_DISTRIBUTED=1``). Anywhere else they skip with that command as the reason. In the lane
a missing prerequisite (PostgreSQL, Redis, the Celery provider) fails: it never skips there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.stack import StackError, StackUnavailable
from integration.support import emulator_env

from .cluster import DistributedStack
from .services import ServiceUnavailable

HERE = Path(__file__).parent


def _enabled() -> bool:
    return os.environ.get("ABS_DISTRIBUTED", "").lower() in ("1", "true", "yes")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "distributed: runs on the production-shaped stack (PostgreSQL, Redis, Celery, two "
        "schedulers, two triggerers); scripts/test_distributed.sh runs them",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="the distributed lane: run scripts/test_distributed.sh")
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.distributed)
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(900))
        if not _enabled():
            item.add_marker(skip)


@pytest.fixture(scope="session")
def distributed_stack(
    tmp_path_factory: pytest.TempPathFactory, batch_emulator_server_process: Any
) -> Iterator[DistributedStack]:
    stack = DistributedStack(
        workdir=tmp_path_factory.mktemp("distributed-stack"),
        extra_env=emulator_env(batch_emulator_server_process),
    )
    try:
        stack.start()
    except (StackUnavailable, ServiceUnavailable) as e:
        pytest.fail(f"the distributed stack cannot run on this machine: {e}")
    except StackError as e:
        pytest.fail(f"the distributed stack failed to start:\n{e}", pytrace=False)
    print(f"distributed stack up: {stack.timings}")
    try:
        yield stack
    finally:
        stack.stop()
    left = stack.alive_pids()
    assert not left and not stack.leftovers, (
        f"processes survived the stack: alive={left} swept={stack.leftovers}"
    )


@pytest.fixture
def emulator(distributed_stack: DistributedStack, batch_emulator_server: Any) -> Any:
    batch_emulator_server.reset_stats()
    return batch_emulator_server


@pytest.fixture
def stack(distributed_stack: DistributedStack) -> DistributedStack:
    """The running stack, with every component alive and both triggerers heartbeating."""
    for name in distributed_stack.components:
        if not distributed_stack.down(name):
            distributed_stack.resume(name)  # harmless when it runs; undoes a SIGSTOP left over
    restarted = distributed_stack.start_exited()
    if restarted:
        print(f"started again (an earlier test stopped or crashed them): {restarted}")
    distributed_stack.wait_for_triggerers(2)
    return distributed_stack
