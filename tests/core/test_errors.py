from __future__ import annotations

import pytest

from airflow_batch_service.core.errors import ErrorKind, classify


@pytest.mark.parametrize(
    ("code", "status", "message", "kind"),
    [
        ("TooManyRequestsException", 429, "Too Many Requests", ErrorKind.THROTTLED),
        ("ThrottlingException", 400, "Rate exceeded", ErrorKind.THROTTLED),
        ("ServerException", 500, "oops", ErrorKind.TRANSIENT),
        (None, 503, None, ErrorKind.TRANSIENT),
        ("ClientException", 400, "Service job abc does not exist", ErrorKind.NOT_FOUND),
        ("ClientException", 400, "Job abc not found", ErrorKind.NOT_FOUND),
        ("ClientException", 400, "jobQueue: is required", ErrorKind.FATAL),
        ("AccessDeniedException", 403, "not authorized", ErrorKind.FATAL),
    ],
)
def test_classify(
    code: str | None, status: int | None, message: str | None, kind: ErrorKind
) -> None:
    assert classify(code, status, message) is kind
