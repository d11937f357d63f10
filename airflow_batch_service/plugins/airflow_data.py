"""What the pages read from Airflow's metadata DB (inside the api-server only).

The task instance(s), their earlier tries (``task_instance_history``), the rendered template
fields (the job name, queue and connection a try used), this provider's XComs, which task keys
exist in this deployment, and which ``aws`` connections there are. Everything returns plain
data (``task_instances.TaskInstanceInfo``, tuples, ids), so the data gathering and the view
models never touch the ORM. One short session per call. (What the viewer may see is asked in
``access``.)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from airflow.models.connection import Connection
from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
from airflow.models.taskinstance import TaskInstance as TI
from airflow.models.taskinstancehistory import TaskInstanceHistory as TIH
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from sqlalchemy import and_, or_, select

from airflow_batch_service.plugins.task_instances import TaskInstanceInfo, TryInfo

__all__ = ["XCOM_KEYS", "AirflowMetadata", "TaskInstanceInfo", "TryInfo", "env_aws_conn_ids"]

#: XCom keys this provider writes that the tab reads.
XCOM_KEYS = (
    "return_value",
    "job_arn",
    "job_name",
    "summary",
    "batch_service_timeline",
    "batch_service_job_details",
)


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


class AirflowMetadata:
    """Reads from the metadata DB, one short session per call."""

    def task_instances(
        self, dag_id: str, run_id: str, task_id: str, map_index: int | None
    ) -> list[TaskInstanceInfo]:
        """The task instance (``map_index``), or every map index of the task (None)."""

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
