"""Local emulator of the AWS Batch service-job API, built on moto.

Importing this package is cheap: moto is imported only when :class:`Emulator` or
:class:`EmulatorServer` is first used. It never imports Airflow. See ``docs/emulator.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_batch_service.emulator.connection import aws_connection_json, aws_connection_uri
    from airflow_batch_service.emulator.handle import Emulator
    from airflow_batch_service.emulator.remote import RemoteEmulator
    from airflow_batch_service.emulator.server import EmulatorServer

__all__ = [
    "Emulator",
    "EmulatorServer",
    "RemoteEmulator",
    "aws_connection_json",
    "aws_connection_uri",
]

_HOMES = {
    "Emulator": "airflow_batch_service.emulator.handle",
    "EmulatorServer": "airflow_batch_service.emulator.server",
    "RemoteEmulator": "airflow_batch_service.emulator.remote",
    "aws_connection_uri": "airflow_batch_service.emulator.connection",
    "aws_connection_json": "airflow_batch_service.emulator.connection",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(name)
