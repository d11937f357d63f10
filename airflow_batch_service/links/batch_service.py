"""Console links for a service job, in the amazon provider's ``BaseAwsLink`` style.

Each link stores its parameters in XCom under ``key`` (``persist``) and formats a
partition-aware console URL from them (``get_link``). ``BaseAwsLink.get_link`` already returns
``""`` when the XCom is missing (a task that failed before submitting, a reschedule that
cleared it), and ``format_link`` returns ``""`` when a parameter is missing.

The training-job links point at the *latest attempt's* training job
(``latestAttempt.serviceResourceId``): each attempt is a new SageMaker training job named
``AWSBatch<TrainingJobName><32 hex>``, so the payload's name is never the right one.
"""

from __future__ import annotations

from urllib.parse import quote

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

from airflow_batch_service.core.training_job import LOG_GROUP


def _cloudwatch_escape(value: str) -> str:
    """The CloudWatch console's ``logsV2`` fragment double-encodes with ``$`` for ``%``."""
    return quote(quote(value, safe=""), safe="").replace("%", "$")


class _ServiceJobLink(BaseAwsLink):
    """Our links' shared rule: without XCom pushes there is nothing to read, so no read."""

    def get_link(self, operator, *, ti_key) -> str:
        if not getattr(operator, "do_xcom_push", True):
            return ""  # nothing was persisted: reading would only log "XCom not found"
        return super().get_link(operator, ti_key=ti_key)


class BatchServiceJobDetailsLink(_ServiceJobLink):
    """The service job in the AWS Batch console (fragment form **inferred** from the
    container-job page: ``#service-jobs/detail/<jobId>``)."""

    name = "Batch Service Job Details"
    key = "batch_service_job_details"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/batch/home?region={region_name}#service-jobs/detail/{job_id}"
    )


class SageMakerTrainingJobLink(_ServiceJobLink):
    """The SageMaker training job of the latest attempt."""

    name = "SageMaker Training Job"
    key = "batch_service_training_job"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/sagemaker/home?region={region_name}#/jobs/{training_job_name}"
    )


class TrainingJobLogsLink(_ServiceJobLink):
    """CloudWatch log streams of the latest attempt's training job."""

    name = "Training Job Logs"
    key = "batch_service_training_job_logs"
    format_str = (
        BASE_AWS_CONSOLE_LINK
        + "/cloudwatch/home?region={region_name}#logsV2:log-groups/log-group/{log_group}"
        + "$3FlogStreamNameFilter$3D{stream_prefix}"
    )

    def format_link(self, **kwargs) -> str:
        name = kwargs.get("training_job_name")
        if not name:
            return ""
        kwargs["log_group"] = _cloudwatch_escape(LOG_GROUP)
        kwargs["stream_prefix"] = _cloudwatch_escape(f"{name}/")
        return super().format_link(**kwargs)


def persist_link_placeholders(context, operator) -> None:
    """Push an empty value for each link before anything else can fail.

    At the end of every try the worker reads each extra link's XCom; a missing one is logged
    at error level ("XCom not found") even when the task succeeded, e.g. a submit-only task
    never has a training job, a validation failure never has a job. An empty value makes the
    link render as none, quietly; the real value overwrites it once known.
    """
    if not getattr(operator, "do_xcom_push", True):
        return
    ti = context.get("ti")
    if ti is None:
        return
    for link in SERVICE_JOB_LINKS:
        try:
            ti.xcom_push(key=link.key, value={})
        except Exception:  # a link is never worth failing the task for
            operator.log.debug("could not push the %s placeholder", link.key, exc_info=True)


def persist_training_job_links(
    context, operator, *, region_name: str, aws_partition: str, training_job_arn: str | None
) -> None:
    """Persist both training-job links for the latest attempt (no-op without an attempt)."""
    if not training_job_arn:
        return
    name = training_job_arn.rsplit("/", 1)[-1]
    for link in (SageMakerTrainingJobLink, TrainingJobLogsLink):
        link.persist(
            context=context,
            operator=operator,
            region_name=region_name,
            aws_partition=aws_partition,
            training_job_name=name,
        )


class ServiceJobLinks:
    """A task's links, persisted as its wait learns them: the job's at once, the training job's
    when the latest attempt has one (and again when a new attempt replaces it). Shared by the
    operator and the sensor; each persist happens once per value."""

    def __init__(self, context, task) -> None:
        self.context, self.task = context, task
        self._seen: dict[str, str] = {}

    def _where(self) -> dict[str, str]:
        hook = self.task.hook
        return {"region_name": hook.conn_region_name, "aws_partition": hook.conn_partition}

    def job(self, job_id: str) -> None:
        if self._seen.get("job") != job_id:
            self._seen["job"] = job_id
            BatchServiceJobDetailsLink.persist(
                context=self.context, operator=self.task, job_id=job_id, **self._where()
            )

    def training(self, training_job_arn: str | None) -> None:
        if training_job_arn and self._seen.get("training") != training_job_arn:
            self._seen["training"] = training_job_arn
            persist_training_job_links(
                self.context, self.task, training_job_arn=training_job_arn, **self._where()
            )

    def seen(self, verdict) -> None:
        """A fresh ``core.verdict.Verdict``: persist what it adds."""
        self.job(verdict.job_id)
        self.training(verdict.latest_training_job_arn)


#: The links every task of this provider shows (operator and sensor alike).
SERVICE_JOB_LINKS = (
    BatchServiceJobDetailsLink(),
    SageMakerTrainingJobLink(),
    TrainingJobLogsLink(),
)
