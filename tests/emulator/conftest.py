"""Emulator test fixtures: one handle, parametrized over in-process and server mode."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(params=["inprocess", "server"])
def emu(request: pytest.FixtureRequest) -> Any:
    """An emulator handle (same methods in both modes) with a frozen clock and 1 s per state,
    so lifecycle tests move time with ``emu.advance`` instead of sleeping."""
    name = "batch_emulator" if request.param == "inprocess" else "batch_emulator_server"
    handle = request.getfixturevalue(name)
    handle.configure(seconds_per_state=1, freeze_clock=True)
    return handle


@pytest.fixture
def batch(emu: Any) -> Any:
    return emu.client()
