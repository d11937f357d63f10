"""Which AWS errors are worth waiting out, and which are real.

A wait on a training job lasts hours; a throttle, a 5xx or a job not yet visible right after
submit must never fail the task on its own. The shells (sync hook, async trigger) map their
exceptions to ``(code, http_status, message)`` and ask :func:`classify`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TRANSIENT = "transient"  # throttling, 5xx, connection trouble: back off and try again
    NOT_FOUND = "not_found"  # unknown job id: transient right after submit, fatal later
    FATAL = "fatal"  # anything else: bad credentials, bad request


TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ServerException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)

_NOT_FOUND_WORDS = ("not found", "does not exist", "doesn't exist", "unknown job", "no such")


def classify(code: str | None, http_status: int | None, message: str | None = None) -> ErrorKind:
    """Classify an AWS error response."""
    if code in TRANSIENT_CODES or http_status == 429 or (http_status or 0) >= 500:
        return ErrorKind.TRANSIENT
    text = (message or "").lower()
    if code in ("ClientException", "ResourceNotFoundException") and any(
        word in text for word in _NOT_FOUND_WORDS
    ):
        return ErrorKind.NOT_FOUND
    return ErrorKind.FATAL
