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
training logs, SageMaker for the training result) is a method here, and every blocking method
that a deferred wait needs has an ``async`` twin written beside it (``describe_service_job`` /
``adescribe_service_job``), the way httpx's ``Client`` and ``AsyncClient`` mirror each other.
The twins run the same boto3 call on the triggerer process's shared client, in a small thread
pool (``shared_clients``: one client per connection, not one per waiting task). Responses lose
``ResponseMetadata`` here, reasons are cut to Batch's 1,000 characters here, and botocore's
exceptions are mapped to ``core.errors`` kinds by ``core.errors.classify_exception``, the one
classification every caller asks (re-exported here).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

# Re-exported: the hook's public name for the one classification of AWS errors.
from airflow_batch_service.core.errors import classify_exception as classify_exception

if TYPE_CHECKING:
    from botocore.config import Config

#: TerminateServiceJob's ``reason`` is at most this long.
MAX_REASON = 1000

#: botocore settings used unless the connection or ``botocore_config`` sets them.
DEFAULT_BOTOCORE_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "total_max_attempts": 3},
    "connect_timeout": 5,
    "read_timeout": 20,
}


#: How long a queue's (or scheduling policy's) description is reused within one process.
QUEUE_CACHE_SECONDS = 300.0
_cache: dict[tuple[str, ...], tuple[float, Any]] = {}


#: How long a queue snapshot is reused within one process: every wait on the queue in the
#: triggerer shares one GetJobQueueSnapshot per this many seconds.
SNAPSHOT_CACHE_SECONDS = 20.0


def _cached(key: tuple[str, ...], load: Any, ttl: float = QUEUE_CACHE_SECONDS) -> Any:
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    value = load()
    if value is not None:  # a missing queue is asked again: the user may be creating it
        _cache[key] = (now, value)
    return value


_inflight: dict[tuple[str, ...], Any] = {}


async def _acached(key: tuple[str, ...], load: Any, ttl: float = QUEUE_CACHE_SECONDS) -> Any:
    """:func:`_cached` for coroutines: concurrent misses share one load (one call, not N)."""
    import asyncio

    hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl:
        return hit[1]
    pending = _inflight.get(key)
    if pending is None:
        pending = _inflight[key] = asyncio.ensure_future(load())
        try:
            value = await pending
        finally:
            _inflight.pop(key, None)
        if value is not None:
            _cache[key] = (time.monotonic(), value)
        return value
    return await asyncio.shield(pending)


def clear_cache() -> None:
    """Forget cached queue, policy, snapshot and limit descriptions (tests that rebuild their
    emulator)."""
    _cache.clear()
    _inflight.clear()


def _log_events_params(log_group: str, stream: str, token: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "logGroupName": log_group,
        "logStreamName": stream,
        "startFromHead": True,
    }
    if token:
        params["nextToken"] = token
    return params


def _strip_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


class BatchServiceJobHook(AwsBaseHook):
    """Interact with AWS Batch service jobs (``batch.submit_service_job`` and friends).

    Takes the usual :class:`AwsBaseHook` arguments (``aws_conn_id``, ``region_name``,
    ``verify``, ``config``); ``client_type`` is always ``batch``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "batch"
        config = kwargs.get("config")
        #: The botocore config as given (a dict), the shared clients' key.
        self.botocore_config: dict[str, Any] | None = (
            dict(config) if isinstance(config, Mapping) else None
        )
        super().__init__(*args, **kwargs)
        self._clients: dict[str, Any] = {}

    def connection_args(self) -> dict[str, Any]:
        """This hook's connection arguments as given (not resolved through the connection:
        that lookup must not run on the triggerer's event loop), as tasks and triggers carry
        them; the shared clients' key."""
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self._region_name,
            "verify": self._verify,
            "botocore_config": self.botocore_config,
        }

    def client(self, service: str = "batch") -> Any:
        """This hook's boto3 client for ``service`` (batch, logs, sagemaker): the same
        connection, endpoint overrides (``service_config.<service>``) and botocore defaults;
        built once per hook."""
        if service == "batch":
            return self.conn
        if service not in self._clients:
            args = self.connection_args()
            args["config"] = args.pop("botocore_config")
            sibling = type(self)(**args)
            sibling.client_type = service
            self._clients[service] = sibling.get_client_type()
        return self._clients[service]

    async def _acall(self, service: str, method: str, **params: Any) -> Any:
        """``method`` of the process's shared ``service`` client, off the event loop."""
        from airflow_batch_service._shared.clients import get_shared_client_async, run_blocking

        client = await get_shared_client_async(service, **self.connection_args())
        return await run_blocking(getattr(client, method), **params)

    @cached_property
    def _effective_config(self) -> Config:
        from botocore.config import Config

        return Config(**DEFAULT_BOTOCORE_CONFIG).merge(super().config)

    @property
    def config(self) -> Config:
        """The connection's botocore config over this hook's defaults (see module doc)."""
        return self._effective_config

    # -- submit / describe / list -------------------------------------------------------

    def submit_service_job(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Call SubmitServiceJob with an API-shaped ``request`` (camelCase keys, None dropped).

        Returns ``{"jobArn", "jobName", "jobId"}``. Validation is the caller's job (the
        operator checks every bound first); this method sends what it is given.
        """
        params = {k: v for k, v in request.items() if v is not None}
        return _strip_metadata(self.conn.submit_service_job(**params))

    def describe_service_job(self, job_id: str) -> dict[str, Any]:
        """DescribeServiceJob: the job's full state, attempts history included."""
        return _strip_metadata(self.conn.describe_service_job(jobId=job_id))

    async def adescribe_service_job(self, job_id: str) -> dict[str, Any]:
        """:meth:`describe_service_job` on the shared client, off the event loop."""
        return _strip_metadata(await self._acall("batch", "describe_service_job", jobId=job_id))

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
        params: dict[str, Any] = {}
        if job_queue is not None:
            params["jobQueue"] = job_queue
        if job_status is not None:
            params["jobStatus"] = job_status
        if filters:
            params["filters"] = [dict(f) for f in filters]
        pagination: dict[str, Any] = {}
        if page_size is not None:
            pagination["PageSize"] = page_size
        if max_items is not None:
            pagination["MaxItems"] = max_items
        if pagination:
            params["PaginationConfig"] = pagination
        for page in self.conn.get_paginator("list_service_jobs").paginate(**params):
            yield from page.get("jobSummaryList", [])

    # -- queues -------------------------------------------------------------------------

    def describe_job_queue(self, job_queue: str) -> dict[str, Any] | None:
        """DescribeJobQueues for one queue (name or ARN): its detail, or None if it does not
        exist. Cached per process for :data:`QUEUE_CACHE_SECONDS` (a mapped sweep's tasks in
        one process check a queue once)."""
        key = ("queue", *self._cache_key(), job_queue)
        return _cached(
            key,
            lambda: next(
                iter(self.conn.describe_job_queues(jobQueues=[job_queue]).get("jobQueues") or []),
                None,
            ),
        )

    def describe_scheduling_policy(self, arn: str) -> dict[str, Any] | None:
        """DescribeSchedulingPolicies for one policy ARN (cached like the queue)."""
        key = ("policy", *self._cache_key(), arn)
        return _cached(
            key,
            lambda: next(
                iter(
                    self.conn.describe_scheduling_policies(arns=[arn]).get("schedulingPolicies")
                    or []
                ),
                None,
            ),
        )

    def _cache_key(self) -> tuple[str, ...]:
        return (str(self.aws_conn_id), str(self._region_name))

    # -- where a RUNNABLE job stands (GetJobQueueSnapshot) and the coalesced listing -----

    def queue_picture(self, job_queue: str, quota_share_name: str | None = None) -> dict[str, Any]:
        """What ``core.standing`` needs for a job of ``job_queue``: ``{"queue": name,
        "snapshot": GetJobQueueSnapshot, "limits": {unit: max}}``, the limits being the quota
        share's or else the service environment's. The snapshot is shared per process for
        :data:`SNAPSHOT_CACHE_SECONDS`, the limits for :data:`QUEUE_CACHE_SECONDS`."""
        base = (*self._cache_key(), job_queue)
        snapshot = _cached(
            ("snapshot", *base),
            lambda: _strip_metadata(self.conn.get_job_queue_snapshot(jobQueue=job_queue)),
            SNAPSHOT_CACHE_SECONDS,
        )
        queue = self.describe_job_queue(job_queue) or {}
        limits = _cached(
            ("limits", *base, str(quota_share_name)),
            lambda: self._limits(queue, quota_share_name),
        )
        return {
            "queue": queue.get("jobQueueName") or job_queue,
            "snapshot": snapshot,
            "limits": limits,
        }

    async def aqueue_picture(
        self, job_queue: str, quota_share_name: str | None = None
    ) -> dict[str, Any]:
        base = (*self._cache_key(), job_queue)

        async def snapshot() -> dict[str, Any]:
            return _strip_metadata(
                await self._acall("batch", "get_job_queue_snapshot", jobQueue=job_queue)
            )

        async def queue() -> dict[str, Any] | None:
            found = await self._acall("batch", "describe_job_queues", jobQueues=[job_queue])
            return next(iter(found.get("jobQueues") or []), None)

        taken = await _acached(("snapshot", *base), snapshot, SNAPSHOT_CACHE_SECONDS)
        detail: dict[str, Any] = await _acached(("queue", *base), queue) or {}

        async def limits() -> dict[str, float]:
            from airflow_batch_service._shared.clients import run_blocking

            return await run_blocking(self._limits, detail, quota_share_name, asynchronous=True)

        found = await _acached(("limits", *base, str(quota_share_name)), limits)
        return {
            "queue": detail.get("jobQueueName") or job_queue,
            "snapshot": taken,
            "limits": found,
        }

    def _limits(
        self, queue: Mapping[str, Any], quota_share_name: str | None, asynchronous: bool = False
    ) -> dict[str, float]:
        """The capacity limits that apply: the quota share's, else the service
        environment's. ``asynchronous``: called in a thread of the triggerer, so use the
        process's shared client (its connection was looked up the triggerer's way)."""
        from airflow_batch_service.core.standing import limits_of

        if asynchronous:
            from airflow_batch_service._shared.clients import get_shared_client

            client = get_shared_client("batch", **self.connection_args())
        else:
            client = self.conn
        arn = queue.get("jobQueueArn")
        if quota_share_name and arn:
            shares = client.list_quota_shares(jobQueue=arn).get("quotaShares") or []
            for share in shares:
                if share.get("quotaShareName") == quota_share_name:
                    return limits_of(share.get("capacityLimits"))
        environments = [
            str(item.get("serviceEnvironment"))
            for item in sorted(
                queue.get("serviceEnvironmentOrder") or [], key=lambda i: i.get("order", 0)
            )
        ]
        if not environments:
            return {}
        found = client.describe_service_environments(serviceEnvironments=environments[:1])
        detail: dict[str, Any] = next(iter(found.get("serviceEnvironments") or []), {})
        return limits_of(detail.get("capacityLimits"))

    async def aiter_active_service_jobs(
        self, job_queue: str
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of summaries of every job of ``job_queue`` that can still change: one
        ListServiceJobs per active status, 100 per page. What one poll of a whole queue costs in
        the triggerer (``coalesce``), instead of one DescribeServiceJob per waiting job. Pages,
        not one list: a round keeps only what it needs of each page."""
        from airflow_batch_service.core.sweep import ACTIVE_STATUSES

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

    # -- training logs (CloudWatch Logs) and the training job (SageMaker) ---------------

    def describe_log_streams(self, log_group: str, prefix: str) -> list[str]:
        """Names of the log streams of ``log_group`` starting with ``prefix``."""
        response = self.client("logs").describe_log_streams(
            logGroupName=log_group, logStreamNamePrefix=prefix
        )
        return [s["logStreamName"] for s in response.get("logStreams", [])]

    async def adescribe_log_streams(self, log_group: str, prefix: str) -> list[str]:
        response = await self._acall(
            "logs", "describe_log_streams", logGroupName=log_group, logStreamNamePrefix=prefix
        )
        return [s["logStreamName"] for s in response.get("logStreams", [])]

    def get_log_events(
        self, log_group: str, stream: str, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One GetLogEvents page from the head (or ``token``): ``(events, nextForwardToken)``."""
        response = self.client("logs").get_log_events(
            **_log_events_params(log_group, stream, token)
        )
        return response.get("events", []), response.get("nextForwardToken")

    async def aget_log_events(
        self, log_group: str, stream: str, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        response = await self._acall(
            "logs", "get_log_events", **_log_events_params(log_group, stream, token)
        )
        return response.get("events", []), response.get("nextForwardToken")

    def describe_training_job(self, name: str) -> dict[str, Any]:
        """SageMaker DescribeTrainingJob (by name; an ARN's last part is its name)."""
        name = name.rsplit("/", 1)[-1]
        return _strip_metadata(self.client("sagemaker").describe_training_job(TrainingJobName=name))

    async def adescribe_training_job(self, name: str) -> dict[str, Any]:
        name = name.rsplit("/", 1)[-1]
        return _strip_metadata(
            await self._acall("sagemaker", "describe_training_job", TrainingJobName=name)
        )

    def terminate_service_jobs(self, job_ids: Iterable[str], reason: str) -> dict[str, list[Any]]:
        """Terminate many jobs, ``MAX_TERMINATE_BATCH`` (50) per TerminateServiceJobs call.

        The API answers HTTP 200 even when some jobs fail; the merged ``successful`` ids and
        ``errors`` (``{job, code, message}``) of every chunk are returned for the caller to
        check. Unknown ids count as successful (documented).
        """
        # Inside the method: DAG files import this hook, and parsing one needs no validation.
        from airflow_batch_service.core.validation import MAX_TERMINATE_BATCH

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
        # Inside the method: DAG files import this hook, and parsing one needs no validation.
        from airflow_batch_service.core.validation import InvalidRequestError, priority_problems

        problems = priority_problems(scheduling_priority)
        if problems:
            raise InvalidRequestError(problems)
        return _strip_metadata(
            self.conn.update_service_job(jobId=job_id, schedulingPriority=scheduling_priority)
        )

    # -- service environments and operations (issue 12) -----------------------------------
    # Used by the operations operators, sensors and triggers (operators/service_operations.py,
    # sensors/service_operations.py, triggers/service_operations.py). Uncached on purpose: a
    # sensor waiting for a status must see each change.

    def create_service_environment(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """CreateServiceEnvironment with an API-shaped ``request`` (None dropped). Returns
        ``{"serviceEnvironmentName", "serviceEnvironmentArn"}``."""
        params = {k: v for k, v in request.items() if v is not None}
        return _strip_metadata(self.conn.create_service_environment(**params))

    def describe_service_environment(self, service_environment: str) -> dict[str, Any] | None:
        """DescribeServiceEnvironments for one environment (name or ARN), or None if it does
        not exist. Not cached."""
        response = self.conn.describe_service_environments(
            serviceEnvironments=[service_environment]
        )
        return next(iter(response.get("serviceEnvironments") or []), None)

    def describe_job_queue_now(self, job_queue: str) -> dict[str, Any] | None:
        """DescribeJobQueues for one queue (name or ARN), or None if it does not exist; unlike
        :meth:`describe_job_queue`, never cached (a status wait must see each change)."""
        response = self.conn.describe_job_queues(jobQueues=[job_queue])
        return next(iter(response.get("jobQueues") or []), None)

    # -- UI plugin (issue 13) -------------------------------------------------------------
    # Read-only calls of the queue page and the "Service jobs" tab (airflow_batch_service.
    # plugins). Uncached here: the plugin caches them for a few seconds per api-server.

    def describe_service_job_queues(self) -> list[dict[str, Any]]:
        """Every SAGEMAKER_TRAINING job queue the connection can see (DescribeJobQueues,
        every page; container-job queues left out)."""
        queues: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            response = self.conn.describe_job_queues(**params)
            queues.extend(
                q
                for q in response.get("jobQueues") or []
                if q.get("jobQueueType") == "SAGEMAKER_TRAINING"
            )
            token = response.get("nextToken")
            if not token:
                return queues
            params["nextToken"] = token

    def describe_service_environments(self, environments: Iterable[str]) -> list[dict[str, Any]]:
        """DescribeServiceEnvironments for these names or ARNs, in one call per 100."""
        names = list(dict.fromkeys(environments))
        found: list[dict[str, Any]] = []
        for start in range(0, len(names), 100):
            response = self.conn.describe_service_environments(
                serviceEnvironments=names[start : start + 100]
            )
            found.extend(response.get("serviceEnvironments") or [])
        return found

    def get_job_queue_snapshot(self, job_queue: str) -> dict[str, Any]:
        """GetJobQueueSnapshot: the first RUNNABLE jobs in order and the capacity in use."""
        return _strip_metadata(self.conn.get_job_queue_snapshot(jobQueue=job_queue))

    def list_quota_shares(self, job_queue: str) -> list[dict[str, Any]]:
        """ListQuotaShares of a quota-share queue, every page."""
        shares: list[dict[str, Any]] = []
        params: dict[str, Any] = {"jobQueue": job_queue}
        while True:
            response = self.conn.list_quota_shares(**params)
            shares.extend(response.get("quotaShares") or [])
            token = response.get("nextToken")
            if not token:
                return shares
            params["nextToken"] = token
