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

A clear whose new try is already deferred also reads ``deferred`` although a user acted. The
current try's ``job_arn`` and ``try_number`` XComs (pushed together at submit or reattach)
tell the two apart:

- deferred on another job (the new try submitted its own): this job has no owner left:
  terminate;
- deferred on this job by a LATER try than this trigger's: the clear's new try reattached
  before this kill landed. The user asked for the job to stop, so terminate; the new try sees
  the job terminated by an earlier try's kill and submits a fresh job, exactly as when the
  kill lands first. A clear therefore always restarts the job, whichever process wins the race;
- deferred on this job by this same try: the trigger was handed to another triggerer: leave.

Without those XComs (``do_xcom_push=False``) the state alone decides.
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


def decide_on_kill(
    state: Any,
    current_job: Any = None,
    job_id: str = "",
    *,
    current_try: Any = None,
    own_try: Any = None,
) -> KillDecision:
    """The rule of the module docstring for the task instance's ``state`` (or :data:`UNKNOWN`).

    ``current_job`` is the job the task's current try says it submitted or reattached to (its
    ``job_arn`` XCom) and ``current_try`` that try's number (its ``try_number`` XCom), both
    asked when the task is deferred; ``own_try`` is the try this trigger serves. ``None`` or
    :data:`UNKNOWN` for any of them (no such XCom) leaves the state alone to decide."""
    if state is UNKNOWN:
        return KillDecision(
            True,
            "Airflow could not be asked for the task's state; following the triggerer's "
            "word that a user killed, cleared or marked the task",
        )
    if state == DEFERRED and isinstance(current_job, str) and job_id and job_id not in current_job:
        return KillDecision(
            True,
            f"the task is deferred again, but on another job ({current_job}): a new try "
            "after a clear submitted its own, and this one has no other owner",
        )
    if (
        state == DEFERRED
        and isinstance(current_try, int)
        and isinstance(own_try, int)
        and current_try > own_try
    ):
        return KillDecision(
            True,
            f"the task was cleared and its new try {current_try} reattached to this job before "
            f"the kill of try {own_try} landed: terminating as the user asked (the new try "
            "then submits a fresh job)",
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
