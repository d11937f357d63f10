"""The errors the emulator answers with, in Batch's wire form.

Batch has only ``ClientException`` (400) and ``ServerException`` (500); throttling arrives as
HTTP 429 ``TooManyRequestsException``. An unknown job must say "does not exist" so that
``core.errors.classify`` sees NOT_FOUND.
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError

from airflow_batch_service.core.validation import Problem


class ClientException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ClientException", message)


class ServerException(JsonRESTError):
    code = 500

    def __init__(self, message: str = "Injected server error (emulator fault injection)") -> None:
        super().__init__("ServerException", message)


class TooManyRequestsException(JsonRESTError):
    code = 429

    def __init__(self, message: str = "Too Many Requests (emulator fault injection)") -> None:
        super().__init__("TooManyRequestsException", message)


#: What Batch says when an API rate quota is exceeded (the message real clients log).
QUOTA_THROTTLE_MESSAGE = "Too Many Requests."

#: The error code and HTTP status CloudWatch Logs / SageMaker answer for a throttled call
#: and for a server-side failure (botocore's models; both services speak JSON 1.1).
JSON_SERVICE_ERRORS = {
    "logs": {
        "throttle": ("ThrottlingException", 400, "Rate exceeded"),
        "error": (
            "ServiceUnavailableException",
            500,
            "The service cannot complete the request (emulator fault injection)",
        ),
    },
    "sagemaker": {
        "throttle": ("ThrottlingException", 400, "Rate exceeded"),
        "error": ("InternalFailure", 500, "An internal error occurred (emulator fault injection)"),
    },
}


class JsonServiceError(JsonRESTError):
    """A CloudWatch Logs or SageMaker error, ``kind`` "throttle" or "error"."""

    def __init__(self, service: str, kind: str) -> None:
        error_type, self.code, message = JSON_SERVICE_ERRORS[service][kind]
        super().__init__(error_type, message)


def invalid(operation: str, problems: list[Problem]) -> ClientException:
    """One ClientException naming every broken field and its rule."""
    return ClientException(f"{operation}: " + "; ".join(p.message for p in problems))


def not_found(kind: str, identifier: str) -> ClientException:
    return ClientException(f"{kind} {identifier} does not exist (not found)")
