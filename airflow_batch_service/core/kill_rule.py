"""Whether a deferred wait that Airflow says was killed may terminate the job it owns.

Airflow 3.3's triggerer calls a trigger's ``on_kill`` when it cancels the trigger with its
"user action" message. It sends that message for a user's kill, clear or mark of the deferred
task, but also (upstream, still unfixed in 3.3.2) for a trigger it merely lost: a triggerer
that resumes after a stall longer than ``[triggerer] triggerer_health_check_threshold`` finds
that another triggerer adopted its triggers and cancels its own copies with the same message.
Terminating there would kill a healthy GPU job that the other triggerer is still waiting on.

So the message alone is not evidence. The rule asks Airflow for the task instance's state at
the moment of ``on_kill``:

- still ``deferred``: the task is waiting on a trigger, so nobody killed it. Either another
  triggerer runs this same trigger (a hand-over), or a new try of a cleared task has already
  reattached to the job and waits on it. In both cases the job has a live owner: leave it.
- any other state (``failed``/``success`` after a mark, ``None``/``scheduled``/``queued``/
  ``running``/``up_for_retry`` after a clear, or no such task instance): the deferral this
  trigger served is over, so a user really acted: terminate.
- Airflow could not be asked (the API down, or a version without the call): follow the
  message, which is Airflow's own word, and terminate, saying so.

A clear that a new try already answered by reattaching is the one case where the state reads
``deferred`` although a user acted; leaving the job alone there is right, since the new try
owns it now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The task instance state in which a trigger still serves the task.
DEFERRED = "deferred"


class _Unknown:
    """Airflow did not answer the question (see :data:`UNKNOWN`)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


#: The state when Airflow could not be asked.
UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class KillDecision:
    """What ``on_kill`` does with the job, and the sentence the log says about it."""

    terminate: bool
    why: str


def task_state_key(task_id: str, map_index: int | None) -> str:
    """The key Airflow's ``get_task_states`` uses for one task instance of a run."""
    if map_index is None or map_index < 0:
        return task_id
    return f"{task_id}_{map_index}"


def state_from_task_states(
    task_states: Mapping[str, Any], run_id: str, task_id: str, map_index: int | None
) -> Any:
    """The task instance's state from ``{run_id: {key: state}}``; ``None`` when it is not
    there (the run or the task instance is gone, which is no deferral either)."""
    run = task_states.get(run_id)
    if not isinstance(run, Mapping):
        return None
    state = run.get(task_state_key(task_id, map_index))
    return None if state is None else str(state)


def decide_on_kill(state: Any) -> KillDecision:
    """The rule of the module docstring for the task instance's ``state`` (or :data:`UNKNOWN`)."""
    if state is UNKNOWN:
        return KillDecision(
            True,
            "Airflow could not be asked for the task's state; following the triggerer's "
            "word that a user killed, cleared or marked the task",
        )
    if state == DEFERRED:
        return KillDecision(
            False,
            "the task is still deferred, so nobody killed it: this triggerer lost the "
            "trigger to another one (or a new try already waits on the job), and the job "
            "is left running for the wait that owns it now",
        )
    shown = "gone" if state is None else repr(state)
    return KillDecision(
        True,
        f"the task is no longer deferred (state {shown}): a user killed, cleared or marked it",
    )
