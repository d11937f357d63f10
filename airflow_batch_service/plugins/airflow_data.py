"""What the pages read from Airflow itself (runs inside the api-server only).

The task instance(s), their earlier tries (``task_instance_history``), the rendered template
fields (the job name, queue and connection a try used), this provider's XComs, which task keys
exist in this deployment, which ``aws`` connections the queue page may offer, and what the
viewer may see. Everything returns plain data: the routes and the view models never touch the
ORM.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: XCom keys this provider writes that the tab reads.
XCOM_KEYS = (
    "return_value",
    "job_arn",
    "job_name",
    "summary",
    "batch_service_timeline",
    "batch_service_job_details",
)
#: Operators of this provider (by class name, as ``task_instance.operator`` stores it).
PROVIDER_OPERATORS = frozenset({"BatchSubmitServiceJobOperator", "BatchServiceJobSensor"})


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


@dataclass(frozen=True)
class TryInfo:
    try_number: int
    state: str | None
    start_ms: int | None
    end_ms: int | None


@dataclass
class TaskInstanceInfo:
    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int
    state: str | None
    operator: str | None
    start_ms: int | None = None
    end_ms: int | None = None
    rendered: dict[str, Any] = field(default_factory=dict)
    xcoms: dict[str, Any] = field(default_factory=dict)
    history: list[TryInfo] = field(default_factory=list)

    @property
    def is_provider_task(self) -> bool:
        return (
            (self.operator or "") in PROVIDER_OPERATORS
            or "batch_service_job_details" in self.xcoms
            or "batch_service_timeline" in self.xcoms
        )

    def tries(self) -> list[TryInfo]:
        """Every try, earlier ones from the history, the current one last."""
        current = TryInfo(self.try_number, self.state, self.start_ms, self.end_ms)
        return [t for t in self.history if t.try_number != self.try_number] + [current]


class AirflowMetadata:
    """Reads from the metadata DB, one short session per call."""

    def task_instances(
        self, dag_id: str, run_id: str, task_id: str, map_index: int | None
    ) -> list[TaskInstanceInfo]:
        """The task instance (``map_index``), or every map index of the task (None)."""
        from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.models.taskinstancehistory import TaskInstanceHistory as TIH
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        def where(model: Any) -> list[Any]:
            clauses = [model.dag_id == dag_id, model.run_id == run_id, model.task_id == task_id]
            if map_index is not None:
                clauses.append(model.map_index == map_index)
            return clauses

        with create_session() as session:
            rows = session.scalars(select(TI).where(*where(TI)).order_by(TI.map_index)).all()
            infos = {
                ti.map_index: TaskInstanceInfo(
                    dag_id=ti.dag_id,
                    task_id=ti.task_id,
                    run_id=ti.run_id,
                    map_index=ti.map_index,
                    try_number=int(ti.try_number or 0),
                    state=str(ti.state) if ti.state is not None else None,
                    operator=ti.operator,
                    start_ms=_ms(ti.start_date),
                    end_ms=_ms(ti.end_date),
                )
                for ti in rows
            }
            if not infos:
                return []
            for h in session.scalars(select(TIH).where(*where(TIH)).order_by(TIH.try_number)).all():
                info = infos.get(h.map_index)
                if info is not None:
                    info.history.append(
                        TryInfo(
                            int(h.try_number),
                            str(h.state) if h.state else None,
                            _ms(h.start_date),
                            _ms(h.end_date),
                        )
                    )
            for r in session.scalars(select(RTIF).where(*where(RTIF))).all():
                info = infos.get(r.map_index)
                if info is not None and isinstance(r.rendered_fields, dict):
                    info.rendered = dict(r.rendered_fields)
            xcom_rows = session.scalars(
                select(XComModel).where(*where(XComModel), XComModel.key.in_(XCOM_KEYS))
            ).all()
            for x in xcom_rows:
                info = infos.get(x.map_index)
                if info is None:
                    continue
                value: Any = x.value
                with contextlib.suppress(Exception):
                    value = XComModel.deserialize_value(x)
                if isinstance(value, str) and value[:1] in ("{", "[", '"'):
                    with contextlib.suppress(ValueError):
                        value = json.loads(value)
                info.xcoms[x.key] = value
            return [infos[k] for k in sorted(infos)]

    def existing_tasks(
        self, keys: Iterable[tuple[str, str, str, int]]
    ) -> set[tuple[str, str, str, int]]:
        """Which of these task keys are task instances of this deployment."""
        from airflow.models.taskinstance import TaskInstance as TI
        from airflow.utils.session import create_session
        from sqlalchemy import and_, or_, select

        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()
        clause = or_(
            *(
                and_(TI.dag_id == d, TI.task_id == t, TI.run_id == r, TI.map_index == m)
                for d, t, r, m in wanted
            )
        )
        with create_session() as session:
            rows = session.execute(
                select(TI.dag_id, TI.task_id, TI.run_id, TI.map_index).where(clause)
            ).all()
        return {(d, t, r, int(m)) for d, t, r, m in rows}

    def aws_conn_ids(self) -> list[str]:
        """Ids of ``aws`` connections: the metadata DB's and ``AIRFLOW_CONN_*`` variables'."""
        from airflow.models.connection import Connection
        from airflow.utils.session import create_session
        from sqlalchemy import select

        ids: list[str] = []
        with contextlib.suppress(Exception), create_session() as session:
            ids.extend(
                session.scalars(
                    select(Connection.conn_id).where(Connection.conn_type == "aws")
                ).all()
            )
        ids.extend(env_aws_conn_ids(os.environ))
        return sorted(set(ids))


def env_aws_conn_ids(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """``AIRFLOW_CONN_<ID>`` variables holding an ``aws`` connection (JSON or URI form)."""
    out = []
    for name, value in environ.items():
        if not name.startswith("AIRFLOW_CONN_") or not value:
            continue
        kind = None
        text = value.strip()
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                kind = (json.loads(text) or {}).get("conn_type")
        else:
            kind = text.split(":", 1)[0]
        if kind == "aws":
            out.append(name[len("AIRFLOW_CONN_") :].lower())
    return out


# ------------------------------------------------------------------------ authorization


def user_can_read_dags(user: Any, dag_ids: Sequence[str]) -> set[str]:
    """The dag ids (of ``dag_ids``) whose task instances ``user`` may read.

    Asked as Airflow's own API asks it (``requires_access_dag``): with the DAG's team, where
    the installation has teams (Airflow >= 3.3, ``[core] multi_team``). Without the team an
    auth manager sees a DAG owned by no team, and a viewer of another team would be let in.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    wanted = sorted(set(dag_ids))
    teams = dag_teams(wanted)
    manager = get_auth_manager()
    return {
        d
        for d in wanted
        if manager.is_authorized_dag(
            method="GET",
            access_entity=DagAccessEntity.TASK_INSTANCE,
            details=_dag_details(DagDetails, d, teams.get(d)),
            user=user,
        )
    }


def dag_teams(dag_ids: Sequence[str]) -> dict[str, str | None]:
    """dag id -> the team owning it (through its bundle), for the DAGs that have one.

    Airflow < 3.3 has no DAG teams: every DAG is nobody's, and the map is empty."""
    from airflow.models.dag import DagModel

    mapping = getattr(DagModel, "get_dag_id_to_team_name_mapping", None)
    if mapping is None or not dag_ids:
        return {}
    return dict(mapping(list(dag_ids)))


def _dag_details(details_class: Any, dag_id: str, team_name: str | None) -> Any:
    if team_name is None:
        return details_class(id=dag_id)
    return details_class(id=dag_id, team_name=team_name)


def user_can_read_connection(user: Any, conn_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails

    return bool(
        get_auth_manager().is_authorized_connection(
            method="GET", details=ConnectionDetails(conn_id=conn_id), user=user
        )
    )


def ui_conn_ids() -> list[str]:
    """``[batch_service] ui_conn_ids``: connections the queue page offers to every viewer."""
    from airflow.configuration import conf

    raw = conf.get("batch_service", "ui_conn_ids", fallback="aws_default") or ""
    return [c.strip() for c in raw.split(",") if c.strip()]
