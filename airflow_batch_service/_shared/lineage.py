"""OpenLineage for service jobs: S3 inputs -> the model artifact, and the training job.

``ServiceJobLineageMixin`` gives the submit operator and the sensor the methods the OpenLineage
provider's ``DefaultExtractor`` looks for, following what the amazon provider's
``SageMakerTrainingOperator`` emits:

- **inputs**: one dataset per S3 channel of the payload
  (``InputDataConfig[].DataSource.S3DataSource.S3Uri``);
- **output**: the model artifact (``ModelArtifacts.S3ModelArtifacts`` of the final attempt's
  training job, from ``self.training_job_result``, the ``core.training_result`` dict);
- **run facets**: ``externalQuery`` (the training job's name, source ``sagemaker``: the
  standard facet for "the run in the external system", as the Athena and BigQuery operators
  use it) and ``awsBatchServiceJob`` (the service job's id, ARN, queue and the training result:
  artifact, final metrics, training and billable seconds, statuses, failure reason).

Datasets follow OpenLineage's S3 naming, as the amazon provider writes them: namespace
``s3://<bucket>``, name the object key (``/`` for a bucket root).

The operator reads its own (rendered) ``service_request_payload``; the sensor has none, so it
reads ``service_request_payload_seen``, the payload of the job it watched, when its wait set
it. Extraction reads nothing but what the task left on the object: the OpenLineage listener
runs it in a forked child with a time limit (``[openlineage] execution_timeout``), and a call
that waits there (an XCom pull through the task's supervisor, an AWS call) can outlast it and
lose the event. A task without a training result (submit-only, ``read_training_result=False``)
reports its inputs only; a failed job reports its inputs and how far its training job got, never
the artifact. Nothing of OpenLineage is imported until Airflow asks for lineage: the package works
without the OpenLineage provider (``pip install "airflow-batch-service[openlineage]"`` adds it).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from attrs import define

#: The ``externalQuery`` facet's ``source`` for a SageMaker training job.
EXTERNAL_SOURCE = "sagemaker"
#: The run facet carrying the service job and its training result.
RUN_FACET_NAME = "awsBatchServiceJob"


def s3_dataset_parts(uri: str) -> tuple[str, str] | None:
    """``s3://bucket/key`` -> ``("s3://bucket", "key")`` (``"/"`` for the bucket itself), or
    None for anything that is not an S3 URI."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        return None
    return f"s3://{bucket}", key or "/"


def payload_s3_inputs(payload: Any) -> list[str]:
    """The S3 URIs of the payload's input channels, in order, without duplicates. ``payload``
    is the CreateTrainingJob request as a dict or a JSON string; anything else gives []."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return []
    if not isinstance(payload, Mapping):
        return []
    uris: list[str] = []
    channels = payload.get("InputDataConfig")
    for channel in channels if isinstance(channels, list) else []:
        source = channel.get("DataSource") if isinstance(channel, Mapping) else None
        s3 = source.get("S3DataSource") if isinstance(source, Mapping) else None
        uri = s3.get("S3Uri") if isinstance(s3, Mapping) else None
        if isinstance(uri, str) and uri and uri not in uris:
            uris.append(uri)
    return uris


@functools.cache
def _openlineage() -> tuple[Any, Any]:
    """OpenLineage's facet classes (a module) and ``OperatorLineage``, imported when Airflow
    first asks for lineage: the OpenLineage provider is an optional extra."""
    from airflow.providers.common.compat.openlineage import (  # lazy: optional OpenLineage
        facet,
    )
    from airflow.providers.openlineage.extractors import (  # lazy: optional OpenLineage
        OperatorLineage,
    )

    return facet, OperatorLineage


@functools.cache
def _run_facet_class() -> Any:
    """The ``awsBatchServiceJob`` run facet, defined on first use (attrs, as OpenLineage's)."""
    from airflow.providers.common.compat.openlineage.facet import (  # lazy: optional OpenLineage
        RunFacet,
    )

    @define
    class AwsBatchServiceJobRunFacet(RunFacet):
        """The AWS Batch service job behind an Airflow task, and its training result."""

        jobId: str | None = None
        jobArn: str | None = None
        jobQueue: str | None = None
        trainingJob: dict | None = None

    return AwsBatchServiceJobRunFacet


class ServiceJobLineageMixin:
    """OpenLineage facets for a task that submitted or watched a service job.

    Mix into an operator or sensor class (before the Airflow base class). It reads, when set:
    ``service_request_payload`` (operator) or ``service_request_payload_seen`` (sensor): the
    CreateTrainingJob request; ``training_job_result``: the ``core.training_result`` dict of
    the final attempt's training job; ``job_id``: the service job. The task's own ``execute``
    / ``execute_complete`` / ``poke`` set them, on the object the listener extracts from (after
    a deferral, the resumed object's ``execute_complete`` sets them again). Missing pieces leave
    their part of the lineage out; extraction does no I/O and never fails the task (the
    extractor logs and drops errors, and this code raises none of its own).
    """

    def _lineage_payload(self) -> Any:
        return getattr(self, "service_request_payload", None) or getattr(
            self, "service_request_payload_seen", None
        )

    def _lineage_training_result(self) -> Mapping[str, Any] | None:
        """The training result the task left on this object, or None. Never read from
        anywhere else: the listener extracts in a forked child with a time limit, and an XCom
        pull through the task's supervisor (or an AWS call) there can outlast it, which loses
        the whole event. A task that did not read a result reports its inputs only."""
        result = getattr(self, "training_job_result", None)
        return result if isinstance(result, Mapping) else None

    @staticmethod
    def _datasets(uris: list[str]) -> list[Any]:
        facet, _ = _openlineage()
        out = []
        for uri in uris:
            parts = s3_dataset_parts(uri)
            if parts is not None:
                out.append(facet.Dataset(namespace=parts[0], name=parts[1], facets={}))
        return out

    def get_openlineage_facets_on_start(self) -> Any:
        """At the start only the inputs are known (the payload's S3 channels)."""
        _, operator_lineage = _openlineage()
        return operator_lineage(inputs=self._datasets(payload_s3_inputs(self._lineage_payload())))

    def _lineage(self, *, with_artifact: bool) -> Any:
        """Inputs, the model artifact as output when asked and known, and the training job
        as run facets; from attributes only (see ``_lineage_training_result``)."""
        facet, operator_lineage = _openlineage()
        inputs = self._datasets(payload_s3_inputs(self._lineage_payload()))
        result = self._lineage_training_result()
        artifact = (result or {}).get("modelArtifacts") if with_artifact else None
        outputs = self._datasets([artifact]) if isinstance(artifact, str) else []
        run_facets: dict[str, Any] = {}
        job_id = getattr(self, "job_id", None)
        if result is not None and result.get("trainingJobName"):
            run_facets["externalQuery"] = facet.ExternalQueryRunFacet(
                externalQueryId=str(result["trainingJobName"]), source=EXTERNAL_SOURCE
            )
        if result is not None or job_id:
            run_facets[RUN_FACET_NAME] = _run_facet_class()(
                jobId=str(job_id) if job_id else None,
                jobArn=getattr(self, "job_arn", None),
                jobQueue=getattr(self, "job_queue", None),
                trainingJob=dict(result) if result is not None else None,
            )
        return operator_lineage(inputs=inputs, outputs=outputs, run_facets=run_facets)

    def get_openlineage_facets_on_complete(self, task_instance: Any = None) -> Any:
        """Inputs, the model artifact as output, and the training job as run facets.
        ``task_instance`` is not used: nothing is read that the task did not leave on the
        object."""
        return self._lineage(with_artifact=True)

    def get_openlineage_facets_on_failure(self, task_instance: Any = None) -> Any:
        """A failed job: what it read, and as far as its training job got (run facets), but
        no artifact: a failed training job's describe still names its S3 output path, and
        nothing usable was written there."""
        return self._lineage(with_artifact=False)
