"""Plug the emulator into moto: Batch routes, the SageMaker status hook.

moto looks its Batch routes up in ``moto.batch.urls.url_paths`` (in-process on every request;
in server mode when the Flask app for Batch is first built), so we point every Batch path at
:class:`ServiceJobResponse`, add the service-job paths, and add a catch-all so unknown
operations get a clear 400 instead of moto's 404 "Not yet implemented". Idempotent.
"""

from __future__ import annotations

import threading
from typing import Any

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


def sagemaker_dispatch(request: Any, full_url: str, headers: Any) -> Any:
    """SageMaker requests first bring every service job up to date, so DescribeTrainingJob
    reports the status of the attempt behind the training job."""
    from moto.sagemaker.responses import SageMakerResponse

    from airflow_batch_service.emulator.backend import service_job_backends
    from airflow_batch_service.emulator.responses import STATE_LOCK

    with STATE_LOCK:
        for _, _, backend in list(service_job_backends.iter_backends()):
            backend.advance_all()  # type: ignore[attr-defined]
    return SageMakerResponse.dispatch(request, full_url, headers)


def install() -> None:
    """Register the routes (safe to call any number of times, before or inside mock_aws)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.batch import urls as batch_urls
        from moto.sagemaker import urls as sagemaker_urls

        from airflow_batch_service.emulator.responses import ServiceJobResponse

        dispatch = ServiceJobResponse.dispatch
        for path in list(batch_urls.url_paths):
            batch_urls.url_paths[path] = dispatch
        for segment in NEW_OPERATIONS:
            batch_urls.url_paths[f"{{0}}/v1/{segment}$"] = dispatch
        batch_urls.url_paths[CATCH_ALL] = dispatch
        for path in list(sagemaker_urls.url_paths):
            sagemaker_urls.url_paths[path] = sagemaker_dispatch
        _installed = True
