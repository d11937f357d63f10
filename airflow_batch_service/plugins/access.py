"""What the viewer may see, asked as Airflow's own API asks it (inside the api-server only).

Plugin apps get no authorization by themselves. The routes depend on Airflow's
``requires_access_*`` checks (in ``app``); what those cannot express is asked here, of the
configured auth manager:

- which DAGs' tasks a waiting job may be linked to (:func:`user_can_read_dags`, with the DAG's
  team where the installation has teams);
- which ``aws`` connections the queue page may call AWS through (:func:`choose_connection`):
  those in ``[batch_service] ui_conn_ids`` for every viewer, any other only for a viewer who
  may read it, since the page calls AWS with the api-server's credentials for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.configuration import conf
from airflow.models.dag import DagModel
from fastapi import HTTPException


def user_can_read_dags(user: Any, dag_ids: Sequence[str]) -> set[str]:
    """The dag ids (of ``dag_ids``) whose task instances ``user`` may read.

    Asked as Airflow's own API asks it (``requires_access_dag``): with the DAG's team, where
    the installation has teams (Airflow >= 3.3, ``[core] multi_team``). Without the team an
    auth manager sees a DAG owned by no team, and a viewer of another team would be let in.
    """
    wanted = sorted(set(dag_ids))
    teams = dag_teams(wanted)
    manager = get_auth_manager()
    return {
        d
        for d in wanted
        if manager.is_authorized_dag(
            method="GET",
            access_entity=DagAccessEntity.TASK_INSTANCE,
            details=_dag_details(d, teams.get(d)),
            user=user,
        )
    }


def dag_teams(dag_ids: Sequence[str]) -> dict[str, str | None]:
    """dag id -> the team owning it (through its bundle), for the DAGs that have one.

    Airflow < 3.3 has no DAG teams: every DAG is nobody's, and the map is empty."""
    mapping = getattr(DagModel, "get_dag_id_to_team_name_mapping", None)
    if mapping is None or not dag_ids:
        return {}
    return dict(mapping(list(dag_ids)))


def _dag_details(dag_id: str, team_name: str | None) -> DagDetails:
    if team_name is None:
        return DagDetails(id=dag_id)
    return DagDetails(id=dag_id, team_name=team_name)  # Airflow < 3.3: never reached


def user_can_read_connection(user: Any, conn_id: str) -> bool:
    return bool(
        get_auth_manager().is_authorized_connection(
            method="GET", details=ConnectionDetails(conn_id=conn_id), user=user
        )
    )


def ui_conn_ids() -> list[str]:
    """``[batch_service] ui_conn_ids``: connections the queue page offers to every viewer."""
    raw = conf.get("batch_service", "ui_conn_ids", fallback="aws_default") or ""
    return [c.strip() for c in raw.split(",") if c.strip()]


def choose_connection(
    user: Any, conn_id: str | None, aws_conn_ids: Callable[[], list[str]]
) -> tuple[list[str], str | None]:
    """The connections the queue page offers ``user``, and the one it shows (``conn_id``, or
    the only one offered). 403 when ``user`` may not use ``conn_id``.

    ``aws_conn_ids`` lists every ``aws`` connection; one that fails to list offers only the
    configured ones."""
    allowed = ui_conn_ids()
    try:
        offered_extra = [c for c in aws_conn_ids() if c not in allowed]
    except Exception:
        offered_extra = []
    offered = allowed + [c for c in offered_extra if user_can_read_connection(user, c)]
    if conn_id is None and len(offered) == 1:
        conn_id = offered[0]
    if (
        conn_id is not None
        and conn_id not in allowed
        and not user_can_read_connection(user, conn_id)
    ):
        raise HTTPException(
            403,
            f"Connection {conn_id!r} is not in [batch_service] ui_conn_ids and you may not read it",
        )
    if conn_id is not None and conn_id not in offered:
        offered.append(conn_id)
    return offered, conn_id
