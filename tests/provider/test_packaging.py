"""The provider is registered, its listed modules import, and importing it stays cheap."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

from airflow_batch_service.get_provider_info import get_provider_info

from .conftest import VENV_BIN


def test_airflow_providers_list_shows_the_provider():
    out = subprocess.run(
        [str(VENV_BIN / "airflow"), "providers", "list", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    start = out.stdout.index('[{"package_name"')
    listed, _ = json.JSONDecoder().raw_decode(out.stdout[start:])
    providers = {p["package_name"]: p for p in listed}
    assert "airflow-batch-service" in providers


def test_every_module_and_link_in_provider_info_imports():
    info = get_provider_info()
    assert info["package-name"] == "airflow-batch-service"
    assert "connection-types" not in info  # reuses the aws connection type
    for section in ("hooks", "operators", "sensors"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for path in info["extra-links"]:
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name)


def test_importing_operator_and_sensor_builds_no_client_and_loads_nothing_heavy():
    code = """
import sys, json, boto3
import airflow_batch_service.operators.batch_service
import airflow_batch_service.sensors.batch_service
import airflow_batch_service.operators, airflow_batch_service.sensors, airflow_batch_service.hooks
print(json.dumps({
    "moto": "moto" in sys.modules,
    "emulator": any(m.startswith("airflow_batch_service.emulator") for m in sys.modules),
    "validation": "airflow_batch_service.core.validation" in sys.modules,
    "payload": "airflow_batch_service._shared.payload" in sys.modules,
    "waiting": "airflow_batch_service._shared.waiting" in sys.modules,
    "default_session": boto3.DEFAULT_SESSION is not None,
}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {
        "moto": False,
        "emulator": False,
        "validation": False,
        "payload": False,
        "waiting": False,
        "default_session": False,
    }
