"""``BatchServiceJobHook``: the boto3 calls for AWS Batch service jobs, and nothing else.

Thin on purpose: the meaning of a response lives in ``airflow_batch_service.core``; this module
only talks to AWS through :class:`AwsBaseHook`, so the ``aws`` connection's ``endpoint_url``,
``service_config.batch.endpoint_url``, region, ``verify`` and role settings all apply, and the
boto3 client is built once per hook (``self.conn`` is cached) instead of once per poll.

Retries, and why a poke never takes minutes: botocore retries throttles, 5xx and connection
errors by itself. Its "legacy" default (5 attempts, 60 s connect and read timeouts) or a
connection's ``config_kwargs`` asking for 10 attempts can hold one DescribeServiceJob call
for minutes, during which a sensor cannot log, honour ``timeout`` or notice a stuck job.
Unless the connection's ``config_kwargs`` or ``botocore_config`` set them, this hook uses
standard mode with at most 3 requests per call (``total_max_attempts=3``: the first and two
retries, jittered backoff of at most a few seconds in all; botocore's own ``max_attempts``
counts retries only, so ``max_attempts=3`` would send 4) and 5 s / 20 s connect / read
timeouts: a throttled poke takes a few seconds, a black-holed endpoint about 20 s, a hung one
about a minute. Longer outages are ridden out one level up: by the wait loop's own logged
backoff (``core.watch.PollPolicy``), which never fails the task for a transient error, and for
SubmitServiceJob by the durable submitter's patience (``submit_patience``, minutes). botocore
also retries SubmitServiceJob after a 5xx or a read timeout: the operator always sends a
``clientToken``, so such a retry is rejected as a repeat (or answered with the first job)
instead of queueing a second job.

The one I/O boundary. Every AWS call of the provider (Batch, CloudWatch Logs for the
training logs, SageMaker for the training result) is a method of this hook, and every blocking
method that a deferred wait needs has an ``async`` twin written beside it
(``describe_service_job`` / ``adescribe_service_job``), the way httpx's ``Client`` and
``AsyncClient`` mirror each other. The twins run the same boto3 call on the triggerer
process's shared client, in a small thread pool (``_clients``: one client per connection, not
one per waiting task). Responses lose ``ResponseMetadata`` here, reasons are cut to Batch's
1,000 characters here, and botocore's exceptions are mapped to ``core.errors`` kinds by
``core.errors.classify_exception``, the one classification every caller asks (still importable
here).

The calls are grouped by job, one module each, all on one base (``_base``: the connection,
the clients, the defaults above): the jobs' own calls here; the cached queue descriptions and
a RUNNABLE job's standing in ``_queues``; the training job's logs and result in
``_training``; service environments, queues and quota shares, uncached, in ``_resources``;
a decorated task's S3 objects (the function's files, its result) in ``_artifacts``; the SQS
queue that carries the service-job events in ``_events``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from airflow_batch_service.hooks._artifacts import ArtifactCalls

# ``X as X``: re-exported, the hook module's public names: the one classification of AWS
# errors, the botocore defaults, the queue cache and its settings.
from airflow_batch_service.hooks._base import DEFAULT_BOTOCORE_CONFIG as DEFAULT_BOTOCORE_CONFIG
from airflow_batch_service.hooks._base import strip_metadata, without_none
from airflow_batch_service.hooks._events import EventQueueCalls
from airflow_batch_service.hooks._queues import QUEUE_CACHE_SECONDS as QUEUE_CACHE_SECONDS
from airflow_batch_service.hooks._queues import SNAPSHOT_CACHE_SECONDS as SNAPSHOT_CACHE_SECONDS
from airflow_batch_service.hooks._queues import QueueCalls
from airflow_batch_service.hooks._queues import clear_cache as clear_cache
from airflow_batch_service.hooks._resources import ServiceResourceCalls
from airflow_batch_service.hooks._training import TrainingJobCalls

#: TerminateServiceJob's ``reason`` is at most this long.
MAX_REASON = 1000


class BatchServiceJobHook(
    QueueCalls, TrainingJobCalls, ServiceResourceCalls, ArtifactCalls, EventQueueCalls
):
    """Interact with AWS Batch service jobs (``batch.submit_service_job`` and friends).

    Takes the usual :class:`AwsBaseHook` arguments (``aws_conn_id``, ``region_name``,
    ``verify``, ``config``); ``client_type`` is always ``batch``.
    """

    # -- submit / describe / list -------------------------------------------------------

    def submit_service_job(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Call SubmitServiceJob with an API-shaped ``request`` (camelCase keys, None dropped).

        Returns ``{"jobArn", "jobName", "jobId"}``. Validation is the caller's job (the
        operator checks every bound first); this method sends what it is given.
        """
        return strip_metadata(self.conn.submit_service_job(**without_none(request)))

    def describe_service_job(self, job_id: str) -> dict[str, Any]:
        """DescribeServiceJob: the job's full state, attempts history included."""
        return strip_metadata(self.conn.describe_service_job(jobId=job_id))

    async def adescribe_service_job(self, job_id: str) -> dict[str, Any]:
        """:meth:`describe_service_job` on the shared client, off the event loop."""
        return strip_metadata(await self._acall("batch", "describe_service_job", jobId=job_id))

    def list_service_jobs(
        self,
        *,
        job_queue: str | None = None,
        job_status: str | None = None,
        filters: Iterable[Mapping[str, Any]] | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield job summaries from every page of ListServiceJobs.

        ``filters`` is the API's ``[{"name": "JOB_NAME", "values": ["train-*"]}]`` form
        (note: Batch ignores ``job_status`` when filters are given, and lists only RUNNING
        jobs when given neither, as ListJobs does). Summaries carry no
        attempts history; describe a job for that.
        """
        params = without_none({"jobQueue": job_queue, "jobStatus": job_status})
        if filters:
            params["filters"] = [dict(f) for f in filters]
        pagination = without_none({"PageSize": page_size, "MaxItems": max_items})
        if pagination:
            params["PaginationConfig"] = pagination
        for page in self.conn.get_paginator("list_service_jobs").paginate(**params):
            yield from page.get("jobSummaryList", [])

    async def aiter_active_service_jobs(
        self, job_queue: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of summaries of every job of ``job_queue`` that can still change: one
        ListServiceJobs per active status, 100 per page. What one poll of a whole queue costs in
        the triggerer (``coalesce``), instead of one DescribeServiceJob per waiting job. Pages,
        not one list: a round keeps only what it needs of each page."""
        from airflow_batch_service.core.sweep import ACTIVE_STATUSES  # lazy: triggerer only

        for status in ACTIVE_STATUSES:
            params: dict[str, Any] = {"jobQueue": job_queue, "jobStatus": status, "maxResults": 100}
            while True:
                page = await self._acall("batch", "list_service_jobs", **params)
                yield page.get("jobSummaryList") or []
                token = page.get("nextToken")
                if not token:
                    break
                params["nextToken"] = token

    # -- terminate / update -------------------------------------------------------------

    def terminate_service_job(self, job_id: str, reason: str) -> None:
        """TerminateServiceJob. ``reason`` becomes the job's statusReason: make it say who
        (cut to Batch's 1,000 characters)."""
        self.conn.terminate_service_job(jobId=job_id, reason=reason[:MAX_REASON])

    async def aterminate_service_job(self, job_id: str, reason: str) -> None:
        """:meth:`terminate_service_job` on the shared client, off the event loop."""
        await self._acall(
            "batch", "terminate_service_job", jobId=job_id, reason=reason[:MAX_REASON]
        )

    def terminate_service_jobs(self, job_ids: Iterable[str], reason: str) -> dict[str, list[Any]]:
        """Terminate many jobs, ``MAX_TERMINATE_BATCH`` (50) per TerminateServiceJobs call.

        The API answers HTTP 200 even when some jobs fail; the merged ``successful`` ids and
        ``errors`` (``{job, code, message}``) of every chunk are returned for the caller to
        check. Unknown ids count as successful (documented).
        """
        from airflow_batch_service.core.validation import (  # lazy: DAG parse needs no validation
            MAX_TERMINATE_BATCH,
        )

        ids = list(dict.fromkeys(job_ids))
        merged: dict[str, list[Any]] = {"successful": [], "errors": []}
        for start in range(0, len(ids), MAX_TERMINATE_BATCH):
            chunk = ids[start : start + MAX_TERMINATE_BATCH]
            response = self.conn.terminate_service_jobs(jobs=chunk, reason=reason)
            merged["successful"].extend(response.get("successful", []))
            merged["errors"].extend(response.get("errors", []))
        if merged["errors"]:
            self.log.warning(
                "%d of %d service job(s) could not be terminated: %s",
                len(merged["errors"]),
                len(ids),
                merged["errors"],
            )
        return merged

    def update_service_job_priority(self, job_id: str, scheduling_priority: int) -> dict[str, Any]:
        """UpdateServiceJob. Priority 0 is a real value (0-9999; fair-share/quota-share queues)."""
        from airflow_batch_service.core.validation import (  # lazy: DAG parse needs no validation
            InvalidRequestError,
            priority_problems,
        )

        problems = priority_problems(scheduling_priority)
        if problems:
            raise InvalidRequestError(problems)
        return strip_metadata(
            self.conn.update_service_job(jobId=job_id, schedulingPriority=scheduling_priority)
        )


def __getattr__(name: str) -> Any:
    """``classify_exception`` stays importable from here, loaded when asked for: DAG parsing
    does not pay for the error classification's enum."""
    if name == "classify_exception":
        from airflow_batch_service.core.errors import classify_exception  # lazy: DAG parse

        return classify_exception
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
