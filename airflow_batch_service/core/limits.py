"""A wait's time limits: the instant each one passes, which one ends the wait, and its words.

Three settings can bound a wait: the operator's ``wait_timeout``, the sensor's ``timeout`` and
a task's ``execution_timeout``. Each becomes a :class:`Limit` through :func:`deadline`, the one
place that turns a setting into an instant and a first sentence; :func:`nearest` picks the one
that ends the wait, and :func:`timeout_message` is the one wording of a timeout. The operator,
the sensor, the deferral and the trigger all ask this module, so a limit passes at the same
instant and reads the same in every mode (a deferral carries it as an absolute epoch-ms
instant, never as a duration that would restart in the triggerer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_batch_service.core.verdict import Verdict

#: Which limit ended a wait (``WaitOutcome.timeout``), named after the setting.
EXECUTION_TIMEOUT, WAIT_TIMEOUT, SENSOR_TIMEOUT = "execution_timeout", "wait_timeout", "timeout"

#: Each limit's first sentence, around how the user set it (``{setting}``: ``timeout=30s``).
_WHAT = {
    EXECUTION_TIMEOUT: "The task exceeded {setting}.",
    WAIT_TIMEOUT: "The wait exceeded {setting}.",
    SENSOR_TIMEOUT: "Sensor has timed out: the job did not finish within {setting}.",
}


@dataclass(frozen=True)
class Limit:
    """One time limit of a wait: the instant it passes, which one it is, and its words."""

    at_ms: int
    kind: str
    what: str  # the timeout message's first sentence
    label: str = ""  # how the user set it: "execution_timeout=0:00:08", "wait_timeout=5s"

    def remaining(self, now_ms: int) -> float:
        """Seconds left before the limit passes, never negative."""
        return max(0.0, (self.at_ms - now_ms) / 1000)

    def passed(self, now_ms: int) -> bool:
        return now_ms >= self.at_ms


def deadline(kind: str, start_ms: int, seconds: float, text: str | None = None) -> Limit:
    """The limit ``kind`` (``EXECUTION_TIMEOUT``, ``WAIT_TIMEOUT``, ``SENSOR_TIMEOUT``),
    ``seconds`` after ``start_ms``. ``text`` is how the user wrote the setting (a timedelta's
    ``str``); by default ``{seconds:g}s``."""
    setting = f"{kind}={f'{seconds:g}s' if text is None else text}"
    return Limit(start_ms + int(seconds * 1000), kind, _WHAT[kind].format(setting=setting), setting)


def execution_limit(start_ms: int, timeout_seconds: float, text: str) -> Limit:
    """``execution_timeout`` as a limit: from the try's start. ``text`` is how the user wrote it."""
    return deadline(EXECUTION_TIMEOUT, start_ms, timeout_seconds, text)


def nearest(limits: Iterable[Limit | None]) -> Limit | None:
    """The limit that passes first (ties: the first given), or None without any."""
    given = [limit for limit in limits if limit is not None]
    return min(given, key=lambda limit: limit.at_ms) if given else None


def timeout_message(
    job_id: str,
    verdict: Verdict | None,
    *,
    terminates: bool,
    what: str,
    not_found: bool = False,
) -> str:
    """The one wording of a wait timeout, for every mode (``JobWait.timeout_explanation``
    fills it in from a wait).

    ``not_found``: every describe said the job does not exist, so nothing is "still running".
    """
    if verdict is None and not_found:
        return (
            f"{what} Service job {job_id} was never found: every DescribeServiceJob answered "
            "that it does not exist (check the job id and the connection's region)."
        )
    where = (
        verdict.explain()
        if verdict is not None
        else f"service job {job_id} was never seen (no successful describe)"
    )
    # The owner's shell terminates the job and appends how that went to the first line.
    fate = "" if terminates else " The service job was NOT terminated and keeps running in Batch."
    return f"{what}{fate}\nIts state at the last poll:\n{where}"
