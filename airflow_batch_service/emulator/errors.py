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


def invalid(operation: str, problems: list[Problem]) -> ClientException:
    """One ClientException naming every broken field and its rule."""
    return ClientException(f"{operation}: " + "; ".join(p.message for p in problems))


def not_found(kind: str, identifier: str) -> ClientException:
    return ClientException(f"{kind} {identifier} does not exist (not found)")
