"""Check a ``serviceRequestPayload`` against SageMaker's ``CreateTrainingJob`` input model.

Batch accepts any JSON at submit and only hands it to SageMaker when capacity frees up, maybe
hours later: a typo in ``ResourceConfig`` then fails an attempt (and, under a catch-all RETRY
rule, several paid ones). botocore ships SageMaker's model and its own validator, so the
operator runs the exact client-side check ``sagemaker.create_training_job`` would, before any
AWS call. The SageMaker model is loaded on first use (tens of milliseconds), never when a DAG
file is parsed: only a running task imports this module (through ``submit_request``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidator

from airflow_batch_service.core.training_job import (
    BATCH_NAME_OVERHEAD,
    PAYLOAD_NAME_MAX,
    SAGEMAKER_NAME_MAX,
)
from airflow_batch_service.core.validation import Problem

TRAINING_JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@lru_cache(maxsize=1)
def _create_training_job_shape() -> Shape:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateTrainingJob").input_shape


def training_job_name_problems(payload: dict[str, Any], path: str) -> list[Problem]:
    name = payload.get("TrainingJobName")
    if not isinstance(name, str):
        return []  # absence and type are the model check's to report
    out: list[Problem] = []
    if len(name) > PAYLOAD_NAME_MAX:
        out.append(
            Problem(
                f"{path}.TrainingJobName",
                f"must be at most {PAYLOAD_NAME_MAX} characters, got {len(name)} ({name!r}): "
                f"Batch names each attempt's training job 'AWSBatch<TrainingJobName><32 hex "
                f"characters>', adding {BATCH_NAME_OVERHEAD} characters, and SageMaker allows "
                f"{SAGEMAKER_NAME_MAX}",
            )
        )
    if not TRAINING_JOB_NAME_RE.fullmatch(name):
        out.append(
            Problem(
                f"{path}.TrainingJobName",
                f"must be letters and digits, optionally joined by hyphens "
                f"([a-zA-Z0-9](-*[a-zA-Z0-9])*), got {name!r}",
            )
        )
    return out


def payload_model_problems(
    payload: dict[str, Any], path: str = "serviceRequestPayload"
) -> list[Problem]:
    """Every way ``payload`` breaks botocore's ``CreateTrainingJob`` input model (required
    members, unknown keys, types, minimum lengths and values) plus the name-length rule."""
    report = ParamValidator().validate(payload, _create_training_job_shape())
    out: list[Problem] = []
    if report.has_errors():
        out.extend(
            Problem(path, f"does not match SageMaker CreateTrainingJob: {line.strip()}")
            for line in report.generate_report().splitlines()
            if line.strip()
        )
    out.extend(training_job_name_problems(payload, path))
    return out
