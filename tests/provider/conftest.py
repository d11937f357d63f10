"""Fixtures for the provider tests.

Airflow reads its configuration when first imported, so ``AIRFLOW_HOME`` (a throwaway
directory), the dags folder and unit-test mode are set here, at import, before any test
module imports Airflow. The metadata DB is only migrated for the tests that run a DAG.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="abs-airflow-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)  # tests leave nothing behind
(_HOME / "dags").mkdir()
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_HOME / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
# Never reach a real AWS account from a test.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# The emulator's fixtures: batch_emulator (in-process), batch_emulator_server (HTTP) and the
# session-scoped server process behind it. Imported (not ``pytest_plugins``) because only a
# rootdir conftest may declare plugins, and tests/conftest.py is not ours.
with contextlib.suppress(ImportError):
    from airflow_batch_service.emulator import pytest_plugin as _emulator_plugin

    for _name in dir(_emulator_plugin):
        if _name.startswith("batch_emulator"):
            globals()[_name] = getattr(_emulator_plugin, _name)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """A migrated metadata DB in the throwaway AIRFLOW_HOME, with every example DAG inside
    the dags folder (``dag.test()`` only runs DAGs that come from a file there)."""
    for dag_file in (REPO / "example_dags").glob("example_*.py"):
        shutil.copy(dag_file, _HOME / "dags")
    subprocess.run(
        [str(VENV_BIN / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=300,
    )
    return _HOME


@pytest.fixture(autouse=True)
def _fresh_queue_cache():
    """The hook caches queue descriptions per process; each test's emulator is new."""
    from airflow_batch_service.hooks.batch_service import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def fresh_shared_clients():
    """Shared clients are per process: tests switch emulators under one connection id
    (``pytestmark = pytest.mark.usefixtures("fresh_shared_clients")``)."""
    from airflow_batch_service._shared import clients as shared_clients

    shared_clients.clear()
    yield
    shared_clients.clear()
