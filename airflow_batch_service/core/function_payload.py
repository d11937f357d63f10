"""The CreateTrainingJob payload of a ``@task.batch_service`` job, from the decorator's short
form and the user's own ``service_request_payload`` (the escape hatch).

The short form (``image_uri``, ``role_arn``, ``instance_type``...) fills the payload's usual
fields; anything the short form does not cover is written in ``service_request_payload`` and
kept as it is. A field given both ways must agree, or the task is refused: two answers to one
question are a mistake, not a preference. What makes the job run the function is the
decorator's alone: the runner as ``ContainerEntrypoint`` and the function's input channel.

Every problem is reported together, naming the decorator argument, before any AWS call.

Pure: standard library only.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_batch_service.core import function_job
from airflow_batch_service.core.function_checks import environment_problems
from airflow_batch_service.core.training_job import PAYLOAD_NAME_MAX
from airflow_batch_service.core.validation import Problem

DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
DEFAULT_VOLUME_GB = 30
DEFAULT_MAX_RUNTIME_SECONDS = 86_400


@dataclass(frozen=True)
class ShortForm:
    """The decorator's arguments for the usual payload fields (None: not given)."""

    image_uri: str | None = None
    role_arn: str | None = None
    output_s3_uri: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    volume_size_in_gb: int | None = None
    max_runtime_in_seconds: int | None = None
    environment: Mapping[str, str] | None = None
    hyperparameters: Mapping[str, str] | None = None
    python_command: str = "python3"


def training_job_name(function_name: str) -> str:
    """A TrainingJobName from the function's name, cut to what Batch leaves room for."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", function_name).strip("-") or "function"
    return name[:PAYLOAD_NAME_MAX].rstrip("-")


def _merge(
    payload: dict[str, Any],
    path: tuple[str, ...],
    value: Any,
    argument: str,
    problems: list[Problem],
) -> None:
    """Set ``payload[path]`` to ``value`` (when given), refusing a different value there."""
    if value is None:
        return
    node = payload
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    existing = node.get(path[-1])
    if existing is not None and existing != value:
        problems.append(
            Problem(
                argument,
                f"{value!r} differs from service_request_payload.{'.'.join(path)} "
                f"({existing!r}): give it one way",
            )
        )
        return
    node[path[-1]] = value


def compose(
    short: ShortForm,
    user_payload: Mapping[str, Any] | None,
    *,
    function_name: str,
    channel_uri: str,
) -> tuple[dict[str, Any], list[Problem]]:
    """``(payload, problems)``: the job's CreateTrainingJob request running the function whose
    files are under ``channel_uri``."""
    problems: list[Problem] = []
    if user_payload is not None and not isinstance(user_payload, Mapping):
        return {}, [Problem("service_request_payload", "must be a dict (CreateTrainingJob)")]
    payload: dict[str, Any] = copy.deepcopy(dict(user_payload or {}))
    _merge(
        payload, ("AlgorithmSpecification", "TrainingImage"), short.image_uri, "image_uri", problems
    )
    _merge(payload, ("RoleArn",), short.role_arn, "role_arn", problems)
    _merge(
        payload,
        ("OutputDataConfig", "S3OutputPath"),
        short.output_s3_uri,
        "output_s3_uri",
        problems,
    )
    _merge(
        payload, ("ResourceConfig", "InstanceType"), short.instance_type, "instance_type", problems
    )
    _merge(
        payload,
        ("ResourceConfig", "InstanceCount"),
        short.instance_count,
        "instance_count",
        problems,
    )
    _merge(
        payload,
        ("ResourceConfig", "VolumeSizeInGB"),
        short.volume_size_in_gb,
        "volume_size_in_gb",
        problems,
    )
    _merge(
        payload,
        ("StoppingCondition", "MaxRuntimeInSeconds"),
        short.max_runtime_in_seconds,
        "max_runtime_in_seconds",
        problems,
    )
    if short.environment:
        payload["Environment"] = {**(payload.get("Environment") or {}), **short.environment}
    if short.hyperparameters:
        payload["HyperParameters"] = {
            **(payload.get("HyperParameters") or {}),
            **short.hyperparameters,
        }
    problems += _required(payload)
    problems += environment_problems(payload.get("Environment"), "environment")
    _defaults(payload, function_name)
    problems += _runner(payload, short.python_command, channel_uri)
    return payload, problems


def _required(payload: Mapping[str, Any]) -> list[Problem]:
    problems = []
    spec = payload.get("AlgorithmSpecification") or {}
    if not spec.get("TrainingImage"):
        problems.append(
            Problem("image_uri", "is required: the training image (ECR URI) the function runs in")
        )
    if not payload.get("RoleArn"):
        problems.append(
            Problem("role_arn", "is required: the IAM role SageMaker runs the job with")
        )
    output = (payload.get("OutputDataConfig") or {}).get("S3OutputPath")
    if not output:
        problems.append(
            Problem(
                "output_s3_uri",
                "is required: the s3:// prefix where the result and the function's files go",
            )
        )
    else:
        try:
            function_job.split_s3_uri(str(output))
        except ValueError:
            problems.append(
                Problem("output_s3_uri", f"must be an S3 URI (s3://bucket/prefix), got {output!r}")
            )
    return problems


def _defaults(payload: dict[str, Any], function_name: str) -> None:
    payload.setdefault("TrainingJobName", training_job_name(function_name))
    spec = payload.setdefault("AlgorithmSpecification", {})
    spec.setdefault("TrainingInputMode", "File")
    resources = payload.setdefault("ResourceConfig", {})
    if "InstanceGroups" not in resources:
        resources.setdefault("InstanceType", DEFAULT_INSTANCE_TYPE)
        resources.setdefault("InstanceCount", 1)
    resources.setdefault("VolumeSizeInGB", DEFAULT_VOLUME_GB)
    payload.setdefault("StoppingCondition", {}).setdefault(
        "MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS
    )


def _runner(payload: dict[str, Any], python: str, channel_uri: str) -> list[Problem]:
    problems = []
    spec = payload["AlgorithmSpecification"]
    if spec.get("ContainerEntrypoint") not in (None, function_job.entrypoint(python)):
        problems.append(
            Problem(
                "service_request_payload.AlgorithmSpecification.ContainerEntrypoint",
                "is the decorator's (it runs the function's runner): leave it out",
            )
        )
    if spec.get("ContainerArguments"):
        problems.append(
            Problem(
                "service_request_payload.AlgorithmSpecification.ContainerArguments",
                "cannot be given: the function's arguments are the decorated call's",
            )
        )
    spec["ContainerEntrypoint"] = function_job.entrypoint(python)
    channels = [
        c
        for c in payload.get("InputDataConfig") or []
        if not (isinstance(c, Mapping) and c.get("ChannelName") == function_job.CHANNEL)
    ]
    channels.append(
        {
            "ChannelName": function_job.CHANNEL,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": channel_uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "InputMode": "File",
        }
    )
    payload["InputDataConfig"] = channels
    return problems
