"""The AWS services around Batch that clients of the emulator call: SageMaker, CloudWatch
Logs and IAM, as moto implements them, with the emulator's additions.

- **SageMaker** requests first bring every service job up to date (so DescribeTrainingJob
  reports the status of the attempt behind the training job), and pass the fault plan.
- **CloudWatch Logs** requests pass the fault plan (``GetLogEvents``, ``DescribeLogStreams``
  are what the provider calls).
- **SQS** requests first bring every service job and the state-change events due up to now
  (:func:`catch_up`), so a consumer polling a queue sees every event due by then.
- **IAM** ``SimulatePrincipalPolicy``, which moto does not implement (it answers an HTML 500),
  answers "allowed" for every action and resource: the SageMaker Python SDK's
  ``ModelTrainer`` asks it about its role.

Faults here use each service's own errors (both speak JSON 1.1): throttling is HTTP 400
``ThrottlingException`` "Rate exceeded"; a server error is HTTP 500 (``InternalFailure`` for
SageMaker, ``ServiceUnavailableException`` for Logs); botocore retries both.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.common_types import TYPE_RESPONSE
from moto.iam.responses import IamResponse

from airflow_batch_service.emulator import event_queue
from airflow_batch_service.emulator.backend import service_job_backends
from airflow_batch_service.emulator.errors import JsonServiceError
from airflow_batch_service.emulator.faults import Injected
from airflow_batch_service.emulator.holds import HOLDS
from airflow_batch_service.emulator.responses import lost_response
from airflow_batch_service.emulator.settings import STARTUP, STATE_LOCK, settings

Dispatch = Callable[[Any, str, Any], Any]

JSON_11 = "application/x-amz-json-1.1"


def query_operation(request: Any, full_url: str) -> str:
    """The ``Action`` of a query-protocol request (STS): in the form body or the URL."""
    get_data = getattr(request, "get_data", None)  # werkzeug: cached, moto reads it again
    body = get_data(cache=True) if callable(get_data) else getattr(request, "body", None) or b""
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    for source in (str(body), urlsplit(full_url).query):
        action = parse_qs(source).get("Action")
        if action:
            return action[0]
    return ""


def target_operation(headers: Any) -> str:
    """``X-Amz-Target: Logs_20140328.GetLogEvents`` -> ``GetLogEvents`` (any header case)."""
    items = headers.items() if isinstance(headers, Mapping) or hasattr(headers, "items") else []
    for key, value in items:
        if str(key).lower() == "x-amz-target":
            return str(value).rsplit(".", 1)[-1]
    return ""


def _error(err: JsonServiceError) -> TYPE_RESPONSE:
    headers = {"Content-Type": JSON_11, "x-amzn-ErrorType": err.error_type}
    return int(err.code or 500), headers, err.get_body()


def with_faults(
    service: str,
    inner: Dispatch,
    before: Callable[[], None] | None = None,
    operation_of: Callable[[Any, str, Any], str] | None = None,
) -> Dispatch:
    """Wrap a moto dispatch function so the fault plan applies to ``service``'s calls.
    ``operation_of(request, url, headers)`` names the operation (default: ``X-Amz-Target``)."""

    def dispatch(request: Any, full_url: str, headers: Any) -> Any:
        if operation_of is not None:
            operation = operation_of(request, full_url, headers)
        else:
            operation = target_operation(headers)
        plan = settings().faults
        spec = plan.spec(operation, service)
        if spec is not None and spec.latency_ms:
            time.sleep(spec.latency_ms / 1000)
        if spec is not None and spec.hold:
            HOLDS.hold(f"{service}:{operation}", spec.hold_ms)
        fault = plan.draw(operation, service)
        if fault is Injected.THROTTLE:
            return _error(JsonServiceError(service, "throttle"))
        if fault is Injected.ERROR:
            return _error(JsonServiceError(service, "error"))
        if before is not None:
            before()
        answer = inner(request, full_url, headers)
        if fault is Injected.LOST and spec is not None:
            status, headers_out, body = lost_response(
                spec, operation, full_url, JsonServiceError(service, "error")
            )
            return status, {**headers_out, "Content-Type": JSON_11}, body
        return answer

    return dispatch


def advance_service_jobs() -> None:
    """Bring every service job up to date (SageMaker then reports each attempt's state)."""
    with STATE_LOCK:
        for _, _, backend in list(service_job_backends.iter_backends()):
            backend.advance_all()  # type: ignore[attr-defined]


def catch_up() -> None:
    """Bring every service job, and the state-change events due, up to now; and put back the
    startup event queues (``--event-queue``) a reset removed. What the server's ticker does
    every fraction of a second, every SQS call first, and moving the clock after."""
    with STATE_LOCK:
        advance_service_jobs()
        cfg = settings()
        cfg.events.flush(cfg.clock.now())
        if STARTUP.event_queues:
            event_queue.ensure_missing(STARTUP.event_queues, STARTUP.region, DEFAULT_ACCOUNT_ID)


class EmulatorIamResponse(IamResponse):
    """moto's IAM plus ``SimulatePrincipalPolicy`` (everything allowed: the emulator does
    not evaluate IAM policies)."""

    def simulate_principal_policy(self) -> str:
        actions = self._get_param("ActionNames", []) or []
        resources = self._get_param("ResourceArns", []) or ["*"]
        members = "".join(
            "<member>"
            f"<EvalActionName>{escape(str(action))}</EvalActionName>"
            f"<EvalResourceName>{escape(str(resource))}</EvalResourceName>"
            "<EvalDecision>allowed</EvalDecision>"
            "<MatchedStatements/><MissingContextValues/>"
            "</member>"
            for action in actions
            for resource in resources
        )
        return (
            '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            "<SimulatePrincipalPolicyResult>"
            f"<EvaluationResults>{members}</EvaluationResults><IsTruncated>false</IsTruncated>"
            "</SimulatePrincipalPolicyResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</SimulatePrincipalPolicyResponse>"
        )
