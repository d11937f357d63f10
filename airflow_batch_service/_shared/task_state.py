"""Ask Airflow, from inside the triggerer, what state a trigger's task instance is in.

``core.kill_rule`` decides whether a killed trigger may terminate its job by the task
instance's state at that moment; this is where the question is put. In the triggerer the Task
SDK's calls go to the triggerer's supervisor (``SUPERVISOR_COMMS``), which asks the
api-server's execution API (``GetTaskStates``, the call ``RuntimeTaskInstance.get_task_states``
makes). Airflow 3.3's comms have an awaitable ``asend``; where they do not, the sync call runs
on a thread, as Airflow's own standard triggers do.

A question that cannot be put or answered (no comms in this process, the api-server down, a
refusal) is returned as ``core.kill_rule.UNKNOWN`` with what went wrong, never raised: the
caller is an ``on_kill`` that must end in bounded time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from airflow_batch_service.core.kill_rule import UNKNOWN, state_from_task_states

#: Tries and pause between them: the api-server may be restarting or the database slow (the
#: very trouble that made a triggerer stall); the whole question stays well inside the
#: triggerer's ``on_kill_timeout`` (30 s by default).
TRIES = 3
PAUSE_SECONDS = 2.0
CALL_TIMEOUT_SECONDS = 5.0


async def task_instance_state(task_instance: Any) -> tuple[Any, str]:
    """``(state, problem)``: the state Airflow holds now for ``task_instance`` (``None`` when
    it is gone), or ``(UNKNOWN, what went wrong)``."""
    if task_instance is None:
        return UNKNOWN, "the trigger has no task instance"
    problem = ""
    for attempt in range(TRIES):
        if attempt:
            await asyncio.sleep(PAUSE_SECONDS)
        try:
            states = await asyncio.wait_for(_ask(task_instance), timeout=CALL_TIMEOUT_SECONDS)
        except _NoComms as e:  # not a triggerer process (a test, ``dag.test()``): no retry helps
            return UNKNOWN, str(e)
        except Exception as e:  # any failure is an unknown answer, not an error of on_kill
            problem = f"{type(e).__name__}: {e}"
            continue
        state = state_from_task_states(
            states,
            str(task_instance.run_id),
            str(task_instance.task_id),
            getattr(task_instance, "map_index", None),
        )
        return state, ""
    return UNKNOWN, problem


async def current_attachment(task_instance: Any) -> tuple[Any, Any]:
    """``(job_arn, try_number)``: the ``job_arn`` and ``try_number`` XComs of the task
    instance's current try (the job it submitted or reattached to, and which try did), each
    ``None`` when there is none, or ``UNKNOWN`` when Airflow did not answer."""
    if task_instance is None:
        return UNKNOWN, UNKNOWN
    job_arn = await _xcom(task_instance, "job_arn")
    if job_arn is None or job_arn is UNKNOWN:
        return job_arn, UNKNOWN
    number = await _xcom(task_instance, "try_number")
    if isinstance(number, str) and number.isdigit():
        return job_arn, int(number)
    return job_arn, UNKNOWN


async def _xcom(task_instance: Any, key: str) -> Any:
    for attempt in range(TRIES):
        if attempt:
            await asyncio.sleep(PAUSE_SECONDS)
        try:
            return await asyncio.wait_for(
                _ask_xcom(task_instance, key), timeout=CALL_TIMEOUT_SECONDS
            )
        except _NoComms:
            return UNKNOWN
        except Exception:  # any failure is an unknown answer, not an error of on_kill
            continue
    return UNKNOWN


async def _ask_xcom(task_instance: Any, key: str) -> Any:
    from airflow.sdk.execution_time.comms import GetXCom  # lazy: the Task SDK only at a kill

    map_index = getattr(task_instance, "map_index", None)
    response = await _send(
        GetXCom(
            key=key,
            dag_id=str(task_instance.dag_id),
            run_id=str(task_instance.run_id),
            task_id=str(task_instance.task_id),
            map_index=map_index if isinstance(map_index, int) else None,
        )
    )
    value = getattr(response, "value", None)
    return None if value is None else str(value)


async def _send(message: Any) -> Any:
    from airflow.sdk.execution_time import task_runner  # lazy: the Task SDK only at a kill

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None:
        raise _NoComms("no Task SDK comms in this process")
    asend = getattr(comms, "asend", None)
    if asend is not None:
        return await asend(message)
    return await asyncio.to_thread(comms.send, message)


class _NoComms(RuntimeError):
    """This process has no Task SDK comms to ask with."""


async def _ask(task_instance: Any) -> dict[str, Any]:
    from airflow.sdk.execution_time.comms import GetTaskStates  # lazy: the Task SDK only at a kill

    map_index = getattr(task_instance, "map_index", None)
    response = await _send(
        GetTaskStates(
            dag_id=str(task_instance.dag_id),
            task_ids=[str(task_instance.task_id)],
            run_ids=[str(task_instance.run_id)],
            map_index=map_index if isinstance(map_index, int) and map_index >= 0 else None,
        )
    )
    states = getattr(response, "task_states", None)
    if not isinstance(states, dict):
        raise RuntimeError(f"unexpected answer to GetTaskStates: {type(response).__name__}")
    return states
