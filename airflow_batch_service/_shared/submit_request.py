"""The SubmitServiceJob request, from the operator's arguments, with every problem named.

``build_submit_request`` turns what a user wrote (dicts or rendered JSON strings, a priority
rendered as a string) into the API-shaped request and lists every broken rule: each documented
bound (``core.validation``), the size quotas (counting what durable submission adds), and the
payload against SageMaker's ``CreateTrainingJob`` model (``payload``). ``describe_problems``
words them in the operator's argument names. No AWS call, no Airflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_batch_service._shared.payload import payload_model_problems
from airflow_batch_service.core.durable import DURABLE_REQUEST_RESERVE
from airflow_batch_service.core.validation import (
    Problem,
    request_size_problems,
    submit_request_problems,
)

#: SubmitServiceJob field -> this operator's argument, so messages name what the user wrote.
ARGUMENT_FOR_FIELD: dict[str, str] = {
    "jobName": "job_name",
    "jobQueue": "job_queue",
    "serviceRequestPayload": "service_request_payload",
    "serviceJobType": "service_job_type",
    "retryStrategy": "retry_strategy",
    "schedulingPriority": "scheduling_priority",
    "shareIdentifier": "share_identifier",
    "quotaShareName": "quota_share_name",
    "preemptionConfiguration": "preemption_configuration",
    "timeoutConfig": "timeout_config",
    "tags": "tags",
    "clientToken": "client_token",
}
_DICT_FIELDS = ("retryStrategy", "preemptionConfiguration", "timeoutConfig", "tags")


def argument_for(field: str) -> str:
    """``retryStrategy.evaluateOnExit[2].action`` -> ``retry_strategy``."""
    head = field.split(".", 1)[0].split("[", 1)[0]
    return ARGUMENT_FOR_FIELD.get(head, head)


def _named(field: str) -> str:
    """A field as the operator's messages name it: ``share_identifier (shareIdentifier)``."""
    return f"{argument_for(field)} ({field})" if field in ARGUMENT_FOR_FIELD else field


def describe_problems(problems: Sequence[Problem]) -> str:
    lines = [f"  - {_named_path(p.field)}: {p.text(_named)}" for p in problems]
    return "Invalid arguments; nothing was submitted:\n" + "\n".join(lines)


def _named_path(field: str) -> str:
    """``retryStrategy.evaluateOnExit[0].action`` -> ``retry_strategy (retryStrategy...)``."""
    if field == "request":  # the whole request (its size), not one argument
        return "request (the whole SubmitServiceJob body)"
    return f"{argument_for(field)} ({field})"


def _maybe_json(field: str, value: Any, problems: list[Problem]) -> Any:
    """Templates render to strings: accept a JSON object string wherever a dict is expected."""
    if not isinstance(value, str):
        return value
    try:
        parsed = json.loads(value)
    except ValueError as err:
        problems.append(Problem(field, f"must be an object or a JSON object string ({err})"))
        return None
    return parsed


def _payload_json(value: Any, problems: list[Problem]) -> tuple[str | None, dict[str, Any] | None]:
    """The payload as the API wants it (a JSON string) and as a dict for the model check."""
    field = "serviceRequestPayload"
    if isinstance(value, Mapping):
        try:
            text = json.dumps(dict(value))
        except (TypeError, ValueError) as err:
            problems.append(Problem(field, f"must be JSON-serialisable ({err})"))
            return None, None
        return text, dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as err:
            problems.append(
                Problem(field, f"must be a dict or a JSON object string; not JSON ({err})")
            )
            return None, None
        if not isinstance(parsed, dict):
            problems.append(Problem(field, f"must be a JSON object, got {type(parsed).__name__}"))
            return None, None
        return value, parsed
    if value is None:
        return None, None
    problems.append(
        Problem(field, f"must be a dict or a JSON object string, got {type(value).__name__}")
    )
    return None, None


def build_submit_request(
    *,
    job_name: Any,
    job_queue: Any,
    service_request_payload: Any,
    service_job_type: Any = "SAGEMAKER_TRAINING",
    retry_strategy: Any = None,
    scheduling_priority: Any = None,
    share_identifier: Any = None,
    quota_share_name: Any = None,
    preemption_configuration: Any = None,
    timeout_config: Any = None,
    tags: Any = None,
    client_token: Any = None,
    validate_payload: bool = True,
) -> tuple[dict[str, Any], list[Problem]]:
    """The SubmitServiceJob request (camelCase, None dropped) and every problem with it."""
    problems: list[Problem] = []
    payload_text, payload = _payload_json(service_request_payload, problems)
    if isinstance(scheduling_priority, str) and scheduling_priority.strip().isdigit():
        scheduling_priority = int(scheduling_priority)  # a rendered template
    request: dict[str, Any] = {
        "jobName": job_name,
        "jobQueue": job_queue,
        "serviceRequestPayload": payload_text,
        "serviceJobType": service_job_type,
        "retryStrategy": retry_strategy,
        "schedulingPriority": scheduling_priority,
        "shareIdentifier": share_identifier,
        "quotaShareName": quota_share_name,
        "preemptionConfiguration": preemption_configuration,
        "timeoutConfig": timeout_config,
        "tags": tags,
        "clientToken": client_token,
    }
    for field in _DICT_FIELDS:
        request[field] = _maybe_json(field, request[field], problems)
    request = {k: v for k, v in request.items() if v is not None}
    core_problems = submit_request_problems(request)
    if payload_text is None and any(p.field == "serviceRequestPayload" for p in problems):
        # Already reported why the payload is unusable; don't also say "is required".
        core_problems = [p for p in core_problems if p.field != "serviceRequestPayload"]
    if not core_problems or all(p.field == "request" for p in core_problems):
        # Size against the quota once the durable-submission token and tags are added too.
        core_problems = request_size_problems(request, reserve=DURABLE_REQUEST_RESERVE)
    problems.extend(core_problems)
    if validate_payload and payload is not None:
        problems.extend(payload_model_problems(payload))
    return request, problems
