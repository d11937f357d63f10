"""What the tests that run DAGs share: loading a DAG file as Airflow does, reading its XComs
back, and pointing the example DAGs at an emulator.

Apart from ``support`` because it imports Airflow's ``DagBag`` (the DAG processor and the
ORM), which the tests that build operators and sensors directly need not pay for."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from .conftest import REPO
from .support import set_aws_connection

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow < 3.2
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

__all__ = [
    "EXAMPLE_SCENARIOS",
    "dag_bag",
    "dag_test_file",
    "example_dag",
    "point_example_dags_at",
    "xcom",
]

#: The scenario file that ships beside the example DAGs (what the demo runs them with).
EXAMPLE_SCENARIOS = REPO / "example_dags" / "scenarios" / "emulator.json"


def dag_bag(folder: Path) -> DagBag:
    """The DAGs of ``folder``, parsed as Airflow parses them; none may fail to import."""
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    return bag


def dag_test_file(airflow_home: Path, name: str, header: str, body: str) -> Any:
    """Write the DAG file ``name``: ``header`` (imports, literals), then ``body`` (its tasks)
    inside ``with DAG(...)``, into the dags folder, and ``dag.test()`` it. Settings go in as
    literals: the file stays in the dags folder, which later tests parse without this
    test's environment."""
    source = (
        textwrap.dedent(header)
        + f"with DAG(dag_id={name!r}, schedule=None, catchup=False) as dag:\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    folder = airflow_home / "dags"
    (folder / f"{name}.py").write_text(source)
    dag = dag_bag(folder).get_dag(name)
    assert dag is not None
    return dag.test()


def example_dag(airflow_home: Path, dag_id: str) -> Any:
    """``dag_id`` from the dags folder of ``airflow_home`` (where ``dag.test()`` wants it)."""
    return dag_bag(airflow_home / "dags").get_dag(dag_id)


def xcom(ti: Any, **kwargs: Any) -> Any:
    """``ti.xcom_pull(**kwargs)``, decoded when Airflow hands the value back as JSON text."""
    value = ti.xcom_pull(**kwargs)
    return json.loads(value) if isinstance(value, str) else value


def point_example_dags_at(
    monkeypatch: Any, emu: Any, conn_id: str, *, poke_interval: float = 0.1
) -> None:
    """The example DAGs read their connection, queue and pace from the environment: an
    ``aws`` connection ``conn_id`` to the emulator's HTTP server, its queue, ``poke_interval``."""
    set_aws_connection(monkeypatch, conn_id, emu.region, emu.endpoint_url)
    monkeypatch.setenv("BATCH_SERVICE_CONN_ID", conn_id)
    monkeypatch.setenv("BATCH_SERVICE_QUEUE", emu.queue_name)
    monkeypatch.setenv("BATCH_SERVICE_POKE_INTERVAL", str(poke_interval))
