"""pytest fixtures for testing against the emulator.

Enable with ``-p airflow_batch_service.emulator.pytest_plugin`` or
``pytest_plugins = ["airflow_batch_service.emulator.pytest_plugin"]``.

- ``batch_emulator``: in-process (``moto.mock_aws`` active), fast timing, a SAGEMAKER_TRAINING
  queue ``test-queue``; yields the :class:`Emulator` with ``.queue_name``, ``.queue_arn``,
  ``.region``.
- ``batch_emulator_server``: a real HTTP server on 127.0.0.1 (one per session, reset before
  each test); yields its handle with the same methods plus ``.endpoint_url``.

Both keep AWS's API rate quotas **off** (the console script turns them on); a test that
wants them calls ``configure(api_quotas="aws")`` (a server reset turns them off again).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_batch_service.emulator.server import EmulatorServer

QUEUE_NAME = "test-queue"
REGION = "us-east-1"
FAST_SECONDS_PER_STATE = 0.05
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture
def batch_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The in-process emulator under ``mock_aws``, with queue ``test-queue`` ready."""
    import moto  # lazy: the plugin loads in every test session; moto only when used

    from airflow_batch_service.emulator.handle import Emulator  # lazy: imports moto

    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with moto.mock_aws():
        emulator = Emulator(region=REGION)
        emulator.configure(seconds_per_state=FAST_SECONDS_PER_STATE)
        emulator.queue_name = QUEUE_NAME  # type: ignore[attr-defined]
        emulator.queue_arn = emulator.create_queue(QUEUE_NAME)  # type: ignore[attr-defined]
        yield emulator


@pytest.fixture(scope="session")
def batch_emulator_server_process() -> Iterator[Any]:
    """The session's emulator server (a child process on 127.0.0.1), stopped at the end."""
    server = EmulatorServer(region=REGION)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def batch_emulator_server(batch_emulator_server_process: Any) -> Iterator[Any]:
    """The server's handle, reset for this test, fast timing, queue ``test-queue`` ready."""
    emulator = batch_emulator_server_process.emulator
    emulator.reset()
    emulator.configure(seconds_per_state=FAST_SECONDS_PER_STATE)
    emulator.queue_name = QUEUE_NAME
    emulator.queue_arn = emulator.create_queue(QUEUE_NAME)
    yield emulator
