"""Console links for the operations tasks: a service environment and a job queue.

The same ``BaseAwsLink`` style as ``links.batch_service`` (and the amazon provider's
``BatchJobQueueLink``): the task persists the parameters in XCom, ``get_link`` formats a
partition-aware console URL, and a missing XCom renders as no link. The service-environment
page's fragment is **inferred** from the console's compute-environment page.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK

from airflow_batch_service.links.batch_service import _ServiceJobLink


class BatchServiceEnvironmentLink(_ServiceJobLink):
    """The service environment in the AWS Batch console."""

    name = "Batch Service Environment"
    key = "batch_service_environment"
    format_str = (
        BASE_AWS_CONSOLE_LINK
        + "/batch/home?region={region_name}#service-environments/detail/{service_environment_arn}"
    )


class BatchServiceJobQueueLink(_ServiceJobLink):
    """The job queue in the AWS Batch console (the amazon provider's ``BatchJobQueueLink`` form)."""

    name = "Batch Job Queue"
    key = "batch_service_job_queue"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/batch/home?region={region_name}#queues/detail/{job_queue_arn}"
    )


def persist_quietly(link: type[_ServiceJobLink], context, operator, **kwargs) -> None:
    """Persist a link; a link is never worth failing the task for."""
    if not getattr(operator, "do_xcom_push", True):
        return
    try:
        link.persist(context=context, operator=operator, **kwargs)
    except Exception:
        operator.log.debug("could not persist the %s link", link.key, exc_info=True)
