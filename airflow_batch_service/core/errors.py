"""Which AWS errors are worth waiting out, and which are real: one classification that the
hook, the waits, durable submission and the service operations all ask.

A wait on a training job lasts hours; a throttle, a 5xx or a job not yet visible right after
submit must never fail the task on its own, and a permanent error must never be retried.
:func:`classify` reads an error response's ``(code, http_status, message)``;
:func:`classify_exception` reads an exception raised by botocore (or the network under it).
Both are pure: botocore's exceptions are recognised by their shape and class names, so this
module imports neither botocore nor Airflow and is cheap to import anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What an AWS error means for the caller."""

    THROTTLED = "throttled"  # the API's rate limit: back off (longer) and try again
    TRANSIENT = "transient"  # 5xx, connection trouble: back off and try again
    NOT_FOUND = "not_found"  # unknown job id: transient right after submit, fatal later
    PERMANENT = "fatal"  # anything else: bad credentials, bad request; never retried
    FATAL = "fatal"  # the older name of PERMANENT (same member)

    @property
    def retryable(self) -> bool:
        """Worth asking again as it is: throttled or transient."""
        return self in (ErrorKind.THROTTLED, ErrorKind.TRANSIENT)


THROTTLE_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
TRANSIENT_CODES = THROTTLE_CODES | frozenset(
    {
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

#: Connection-level failures (botocore class names): the request never got an answer.
CONNECTION_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ProxyConnectionError",
        "SSLError",
        "HTTPClientError",
        "ConnectionError",
    }
)

_NOT_FOUND_WORDS = ("not found", "does not exist", "doesn't exist", "unknown job", "no such")


def classify(code: str | None, http_status: int | None, message: str | None = None) -> ErrorKind:
    """Classify an AWS error response."""
    if code in THROTTLE_CODES or http_status == 429:
        return ErrorKind.THROTTLED
    if code in TRANSIENT_CODES or (http_status or 0) >= 500:
        return ErrorKind.TRANSIENT
    text = (message or "").lower()
    if code in ("ClientException", "ResourceNotFoundException") and any(
        word in text for word in _NOT_FOUND_WORDS
    ):
        return ErrorKind.NOT_FOUND
    return ErrorKind.PERMANENT


def error_response(exc: BaseException) -> tuple[str | None, int | None, str] | None:
    """``(code, http_status, message)`` of a botocore ``ClientError`` (anything carrying its
    ``response`` dict), else ``None``."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping) or "Error" not in response:
        return None
    error: Mapping[str, Any] = response.get("Error") or {}
    meta: Mapping[str, Any] = response.get("ResponseMetadata") or {}
    return error.get("Code"), meta.get("HTTPStatusCode"), error.get("Message") or str(exc)


def classify_exception(exc: BaseException) -> tuple[ErrorKind, str] | None:
    """Map an exception to ``(kind, message)``; ``None`` means "not an AWS error, let it
    propagate" (a bug should fail loudly, not be polled around)."""
    response = error_response(exc)
    if response is not None:
        code, status, message = response
        return classify(code, status, message), f"{code} (HTTP {status}): {message}"
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "BotoCoreError" in names:
        kind = ErrorKind.TRANSIENT if names & CONNECTION_ERRORS else ErrorKind.PERMANENT
        return kind, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ConnectionError | TimeoutError):
        return ErrorKind.TRANSIENT, f"{type(exc).__name__}: {exc}"
    return None


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection trouble: worth asking again."""
    mapped = classify_exception(exc)
    return mapped is not None and mapped[0].retryable
