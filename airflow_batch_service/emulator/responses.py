"""HTTP handlers: moto's ``BatchResponse`` extended with the service-job operations.

Every Batch request passes :meth:`ServiceJobResponse.call_action`, which counts it, applies
the API quotas and the fault plan, serialises access to emulator state, answers operations
nobody implements with a 400 at once (a 404/500 would be retried by boto3 or read as "not
found"), and makes every answer ``Content-Type: application/json``.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ReadTimeoutError
from moto.batch.responses import BatchResponse
from moto.core.common_types import TYPE_RESPONSE

from airflow_batch_service.emulator import resources as res
from airflow_batch_service.emulator import settings as settings_module
from airflow_batch_service.emulator.backend import ServiceJobBackend, service_job_backends
from airflow_batch_service.emulator.errors import (
    QUOTA_THROTTLE_MESSAGE,
    ClientException,
    ServerException,
    TooManyRequestsException,
)
from airflow_batch_service.emulator.faults import FaultSpec, Injected, LostResponseMode
from airflow_batch_service.emulator.holds import HOLDS
from airflow_batch_service.emulator.operations import operation_name
from airflow_batch_service.emulator.settings import STATE_LOCK, settings

JOB_ID_OPERATIONS = ("DescribeServiceJob", "TerminateServiceJob", "UpdateServiceJob")


def _error(err: Any) -> TYPE_RESPONSE:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": err.error_type}
    return err.code, headers, err.get_body()


def _json(answer: TYPE_RESPONSE) -> TYPE_RESPONSE:
    """Batch answers JSON, errors included (moto leaves some answers without a type)."""
    status, headers, body = answer
    headers = {k: v for k, v in dict(headers).items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    return status, headers, body


def lost_response(spec: FaultSpec, what: str, url: str, error: Any) -> TYPE_RESPONSE:
    """The request took effect; the client never sees its answer.

    ``error`` mode answers ``error`` (a 5xx). ``timeout`` mode: a served emulator holds the
    answer ``lostResponseHoldMs`` (a client whose read timeout is shorter gives up) and then
    answers ``error``; in-process there is no socket, so botocore's own ``ReadTimeoutError``
    is raised from the mocked send, which botocore treats exactly like a real read timeout.
    """
    if spec.lost_response_mode is LostResponseMode.TIMEOUT:
        if not settings_module.SERVING:
            raise ReadTimeoutError(
                endpoint_url=url, error=f"{what}: response lost (emulator fault injection)"
            )
        time.sleep(spec.lost_response_hold_ms / 1000)
    return _error(error)


def _page(key: str, items: list[Any], token: str | None) -> str:
    """A paged list answer: ``{key: items}``, with ``nextToken`` when there is more."""
    out: dict[str, Any] = {key: items}
    if token:
        out["nextToken"] = token
    return json.dumps(out)


def _named(kind: str, name: str, arn: str, **more: str) -> str:
    """The ``{<kind>Name, <kind>Arn, ...more}`` answer of a create, submit or update."""
    return json.dumps({f"{kind}Name": name, f"{kind}Arn": arn, **more})


def _lost_error(operation: str) -> ServerException:
    return ServerException(
        f"{operation}: internal error (emulator fault injection: the request took effect, its response was lost)"
    )


class ServiceJobResponse(BatchResponse):
    def _operation(self) -> str:
        return operation_name(self._get_action(), self.method)

    def call_action(self) -> TYPE_RESPONSE:
        operation = self._operation()
        cfg = settings()
        cfg.count(operation)
        spec = cfg.faults.spec(operation)
        if spec is not None and spec.latency_ms:
            time.sleep(spec.latency_ms / 1000)
        if spec is not None and spec.hold:
            HOLDS.hold(operation, spec.hold_ms)  # outside every lock: the rest goes on
        if not cfg.quotas.admit(self.current_account, self.region, operation, cfg.clock.now()):
            cfg.count_throttled(operation)
            return _error(TooManyRequestsException(QUOTA_THROTTLE_MESSAGE))
        fault = cfg.faults.draw(operation)
        if fault is Injected.THROTTLE:
            return _error(TooManyRequestsException())
        if fault is Injected.ERROR:
            return _error(ServerException())
        action = self._get_action()
        if action == "_emulator_unimplemented" or not callable(getattr(type(self), action, None)):
            answer = _error(
                ClientException(
                    f"{operation} is not implemented by the airflow-batch-service emulator "
                    "(see docs/emulator.md for the operations it implements)"
                )
            )
        else:
            with STATE_LOCK:
                answer = _json(super().call_action())
        if fault is Injected.LOST and spec is not None:
            return lost_response(spec, operation, self.uri, _lost_error(operation))
        return answer

    # ------------------------------------------------------------------ helpers
    @property
    def services(self) -> ServiceJobBackend:
        return service_job_backends[self.current_account][self.region]

    def _body(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            body = json.loads(self.body)
        except ValueError:
            raise ClientException("the request body is not JSON") from None
        return body if isinstance(body, dict) else {}

    def _not_found_for_ms(self) -> float:
        spec = settings().faults.spec(self._operation())
        return spec.not_found_for_ms if spec is not None else 0.0

    # ------------------------------------------------------- service environments
    def createserviceenvironment(self) -> str:
        env = self.services.create_environment(self._body())
        return _named("serviceEnvironment", env.name, env.arn)

    def describeserviceenvironments(self) -> str:
        envs, token = self.services.describe_environments(self._body())
        return _page("serviceEnvironments", envs, token)

    def updateserviceenvironment(self) -> str:
        env = self.services.update_environment(self._body())
        return _named("serviceEnvironment", env.name, env.arn)

    def deleteserviceenvironment(self) -> str:
        self.services.delete_environment(str(self._body().get("serviceEnvironment")))
        return "{}"

    # ------------------------------------------------------------------- queues
    def createjobqueue(self) -> str:
        body = self._body()
        if body.get("jobQueueType") == res.SAGEMAKER_TRAINING or body.get(
            "serviceEnvironmentOrder"
        ):
            if body.get("jobQueueType") != res.SAGEMAKER_TRAINING:
                raise ClientException(
                    "CreateJobQueue: jobQueueType: serviceEnvironmentOrder needs jobQueueType SAGEMAKER_TRAINING"
                )
            queue = self.services.create_queue(body)
            return _named("jobQueue", queue.name, queue.arn)
        if self.services.find_queue(str(body.get("jobQueueName"))) is not None:
            raise ClientException(
                f"CreateJobQueue: job queue {body.get('jobQueueName')} already exists"
            )
        return super().createjobqueue()

    def describejobqueues(self) -> str:
        wanted = self._get_param("jobQueues")
        ordinary = self.batch_backend.describe_job_queues(wanted)
        mine = [
            q.describe(self.services._tags(q.arn))
            for q in self.services.queues.values()
            if not wanted or q.arn in wanted or q.name in wanted
        ]
        return json.dumps({"jobQueues": ordinary + mine})

    def updatejobqueue(self) -> str:
        body = self._body()
        queue = self.services.find_queue(str(body.get("jobQueue")))
        if queue is None:
            return super().updatejobqueue()
        self.services.update_queue(queue, body)
        return _named("jobQueue", queue.name, queue.arn)

    def deletejobqueue(self) -> str:
        body = self._body()
        queue = self.services.find_queue(str(body.get("jobQueue")))
        if queue is None:
            return super().deletejobqueue()
        self.services.delete_queue(queue)
        return "{}"

    # ------------------------------------------------------- scheduling policies
    def createschedulingpolicy(self) -> str:
        body = self._body()
        quota = body.get("quotaSharePolicy")
        if quota is not None and body.get("fairsharePolicy") is not None:
            raise ClientException(
                "CreateSchedulingPolicy: quotaSharePolicy: cannot be given together with fairsharePolicy"
            )
        if quota is not None and (
            not isinstance(quota, dict)
            or quota.get("idleResourceAssignmentStrategy", "FIFO") != "FIFO"
        ):
            raise ClientException(
                "CreateSchedulingPolicy: quotaSharePolicy.idleResourceAssignmentStrategy: must be FIFO"
            )
        answer = super().createschedulingpolicy()
        if quota is not None:
            arn = json.loads(answer)["arn"]
            self.services.quota_policies[arn] = {"idleResourceAssignmentStrategy": "FIFO", **quota}
        return answer

    def describeschedulingpolicies(self) -> str:
        policies = json.loads(super().describeschedulingpolicies())["schedulingPolicies"]
        for policy in policies:
            quota = self.services.quota_policies.get(policy["arn"])
            if quota is not None:
                policy.pop("fairsharePolicy", None)
                policy["quotaSharePolicy"] = quota
        return json.dumps({"schedulingPolicies": policies})

    def updateschedulingpolicy(self) -> str:
        body = self._body()
        arn = body.get("arn")
        if arn not in self.batch_backend._scheduling_policies:
            raise ClientException(
                f"UpdateSchedulingPolicy: arn: scheduling policy {arn} does not exist (not found)"
            )
        if arn in self.services.quota_policies:
            if body.get("fairsharePolicy") is not None:
                raise ClientException(
                    "UpdateSchedulingPolicy: fairsharePolicy: cannot be set on a quota-share policy"
                )
            if body.get("quotaSharePolicy") is not None:
                self.services.quota_policies[arn] = dict(body["quotaSharePolicy"])
            return "{}"
        if body.get("quotaSharePolicy") is not None:
            raise ClientException(
                "UpdateSchedulingPolicy: quotaSharePolicy: cannot be set on a fair-share policy"
            )
        return super().updateschedulingpolicy()

    def deleteschedulingpolicy(self) -> str:
        arn = self._body().get("arn")
        answer = super().deleteschedulingpolicy()
        self.services.quota_policies.pop(str(arn), None)
        return answer

    # ------------------------------------------------------------- quota shares
    def createquotashare(self) -> str:
        share = self.services.create_quota_share(self._body())
        return _named("quotaShare", share.name, share.arn)

    def describequotashare(self) -> str:
        share = self.services.get_quota_share(
            self._body().get("quotaShareArn"), "DescribeQuotaShare"
        )
        return json.dumps({**share.describe(), "tags": self.services._tags(share.arn)})

    def listquotashares(self) -> str:
        shares, token = self.services.list_quota_shares(self._body())
        return _page("quotaShares", shares, token)

    def updatequotashare(self) -> str:
        share = self.services.update_quota_share(self._body())
        return _named("quotaShare", share.name, share.arn)

    def deletequotashare(self) -> str:
        self.services.delete_quota_share(self._body().get("quotaShareArn"))
        return "{}"

    # ------------------------------------------------------------- service jobs
    def submitservicejob(self) -> str:
        job, _ = self.services.submit(self._body())
        return _named("job", job.job_name, job.job_arn, jobId=job.job_id)

    def describeservicejob(self) -> str:
        job = self.services.get_job(
            self._body().get("jobId"), "DescribeServiceJob", self._not_found_for_ms()
        )
        return json.dumps(job.describe())

    def listservicejobs(self) -> str:
        summaries, token = self.services.list_jobs(self._body())
        return _page("jobSummaryList", summaries, token)

    def terminateservicejob(self) -> str:
        body = self._body()
        self.services.terminate(
            body.get("jobId"), body.get("reason"), not_found_for_ms=self._not_found_for_ms()
        )
        return "{}"

    def terminateservicejobs(self) -> str:
        body = self._body()
        successful, errors = self.services.terminate_many(body.get("jobs"), body.get("reason"))
        return json.dumps({"successful": successful, "errors": errors})

    def updateservicejob(self) -> str:
        body = self._body()
        job = self.services.update_job(
            body.get("jobId"), body.get("schedulingPriority"), self._not_found_for_ms()
        )
        return _named("job", job.job_name, job.job_arn, jobId=job.job_id)

    def getjobqueuesnapshot(self) -> str:
        """moto has no route for it; the catch-all brings it here. Service queues only."""
        return json.dumps(self.services.snapshot(self._body().get("jobQueue")))

    # --------------------------------------------------------------------- tags
    def tags(self) -> str:
        arn = unquote(urlsplit(self.uri).path).split("/v1/tags/", 1)[-1].rstrip("/")
        if ":service-job/" not in arn:
            return super().tags()
        if self.method == "GET":
            return json.dumps({"tags": dict(self.services.job_for_arn(arn).tags)})
        if self.method == "DELETE":
            self.services.untag_job(arn, self.querystring.get("tagKeys") or [])
            return "{}"
        self.services.tag_job(arn, self._body().get("tags"))
        return "{}"
