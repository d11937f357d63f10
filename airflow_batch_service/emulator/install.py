"""Plug the emulator into moto: Batch routes, SageMaker / CloudWatch Logs / IAM hooks.

moto looks its routes up in ``moto.<service>.urls.url_paths`` (in-process on every request;
in server mode when the Flask app for the service is first built), so we point every Batch
path at :class:`ServiceJobResponse`, add the service-job paths, a tags path for ARNs with two
slashes (quota shares; the served app decodes ``%2F`` before routing, so moto's one- and
two-part tag routes miss them and Flask answered an HTML 404), and a catch-all so unknown
operations get a clear 400 instead of moto's 404 "Not yet implemented". SageMaker and Logs
paths get the fault plan (``side_services``), SQS paths first bring jobs and state-change
events up to now (``side_services.catch_up``) and moto's queue counts read the clock once
per pass (``sqs_speed``), IAM gets ``SimulatePrincipalPolicy``. Idempotent.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.batch import urls as batch_urls
from moto.iam import urls as iam_urls
from moto.logs import urls as logs_urls
from moto.logs.responses import LogsResponse
from moto.sagemaker import urls as sagemaker_urls
from moto.sagemaker.responses import SageMakerResponse
from moto.sqs import urls as sqs_urls
from moto.sqs.responses import SQSResponse
from moto.sts import urls as sts_urls
from moto.sts.responses import TokenResponse

from airflow_batch_service.emulator import sqs_speed
from airflow_batch_service.emulator.responses import ServiceJobResponse
from airflow_batch_service.emulator.side_services import (
    EmulatorIamResponse,
    advance_service_jobs,
    catch_up,
    query_operation,
    with_faults,
)

_lock = threading.Lock()
_installed = False

#: Service-job and quota-share operations this emulator adds (path segment after /v1/).
NEW_OPERATIONS = (
    "createserviceenvironment",
    "describeserviceenvironments",
    "updateserviceenvironment",
    "deleteserviceenvironment",
    "submitservicejob",
    "describeservicejob",
    "listservicejobs",
    "terminateservicejob",
    "terminateservicejobs",
    "updateservicejob",
    "createquotashare",
    "describequotashare",
    "listquotashares",
    "updatequotashare",
    "deletequotashare",
)
CATCH_ALL = "{0}/v1/(?P<operation>[a-z]+)/?$"
#: ``/v1/tags/arn:aws:batch:REGION:ACCOUNT:quota-share/QUEUE/SHARE`` once decoded.
TAGS_THREE_PARTS = (
    "{0}/v1/tags/(?P<arn_part_1>[^/]+)/(?P<arn_part_2>[^/]+)/(?P<arn_part_3>[^/]+)/?$"
)


def sagemaker_dispatch(request: Any, full_url: str, headers: Any) -> Any:
    """SageMaker requests pass the fault plan, then bring every service job up to date, so
    DescribeTrainingJob reports the status of the attempt behind the training job."""
    return with_faults("sagemaker", SageMakerResponse.dispatch, before=advance_service_jobs)(
        request, full_url, headers
    )


def logs_dispatch(request: Any, full_url: str, headers: Any) -> Any:
    """CloudWatch Logs requests pass the fault plan."""
    return with_faults("logs", LogsResponse.dispatch)(request, full_url, headers)


def sts_dispatch(request: Any, full_url: str, headers: Any) -> Any:
    """STS requests (a connection's ``role_arn``) pass the fault plan: a test can hold the
    AssumeRole that building a client makes."""
    return with_faults(
        "sts",
        TokenResponse.dispatch,
        operation_of=lambda req, url, _headers: query_operation(req, url),
    )(request, full_url, headers)


def sqs_dispatch(request: Any, full_url: str, headers: Any) -> Any:
    """SQS requests first bring jobs and state-change events up to now: a consumer polling
    its queue sees every event due by then, server or not."""
    catch_up()
    return SQSResponse.dispatch(request, full_url, headers)


def install() -> None:
    """Register the routes (safe to call any number of times, before or inside mock_aws)."""
    global _installed
    with _lock:
        if _installed:
            return
        dispatch = ServiceJobResponse.dispatch
        for path in list(batch_urls.url_paths):
            batch_urls.url_paths[path] = dispatch
        for segment in NEW_OPERATIONS:
            batch_urls.url_paths[f"{{0}}/v1/{segment}$"] = dispatch
        batch_urls.url_paths[TAGS_THREE_PARTS] = dispatch
        batch_urls.url_paths[CATCH_ALL] = dispatch
        for path in list(sagemaker_urls.url_paths):
            sagemaker_urls.url_paths[path] = sagemaker_dispatch
        for path in list(logs_urls.url_paths):
            logs_urls.url_paths[path] = logs_dispatch
        for path in list(sts_urls.url_paths):
            sts_urls.url_paths[path] = sts_dispatch
        for path in list(sqs_urls.url_paths):
            sqs_urls.url_paths[path] = sqs_dispatch
        for path in list(iam_urls.url_paths):
            iam_urls.url_paths[path] = EmulatorIamResponse.dispatch
        sqs_speed.install()
        _installed = True
