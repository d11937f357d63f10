"""Names Batch and SageMaker accept, made from what a DAG run has.

Two traps this module exists for:

- Under a real scheduler a manual run has no logical date in Airflow 3, so ``{{ ds }}`` fails.
  Build names from ``{{ run_id }}``, which every run has, made safe with :func:`batch_name`.
- Batch names each attempt's training job ``AWSBatch<TrainingJobName><32 hex>`` and SageMaker
  allows 63 characters, so only :data:`PAYLOAD_NAME_MAX` characters of the payload's
  ``TrainingJobName`` fit. :func:`unique_training_job_name` makes a unique one that fits.

``TEMPLATE_FILTERS`` plugs both into a DAG: ``DAG(..., user_defined_filters=TEMPLATE_FILTERS)``
then ``job_name="train-{{ run_id | batch_name }}"``. Standard library only: DAG files import it.
"""

from __future__ import annotations

import hashlib
import re

from airflow_batch_service.core.training_job import PAYLOAD_NAME_MAX

#: jobName: 1-128 letters, digits, hyphens, underscores.
JOB_NAME_MAX = 128

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]+")


def batch_name(value: str, limit: int = JOB_NAME_MAX) -> str:
    """``manual__2026-11-24T06:42:30+00:00`` -> ``manual__2026-11-24T06-42-30-00-00``."""
    cleaned = re.sub(r"-{2,}", "-", _NOT_ALLOWED.sub("-", value)).strip("-_")
    return cleaned[:limit].rstrip("-_") or "job"


def short_hash(value: str, length: int = 10) -> str:
    """A stable short hex digest: unique enough per run, short enough for SageMaker."""
    return hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()[:length]


def unique_training_job_name(prefix: str, unique: str, hash_length: int = 10) -> str:
    """``<prefix>-<hash of unique>``, at most :data:`PAYLOAD_NAME_MAX` characters.

    SageMaker's rule is ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``: no underscores.
    """
    room = PAYLOAD_NAME_MAX - hash_length - 1
    head = re.sub(r"[^A-Za-z0-9-]+", "-", prefix).strip("-")[:room].rstrip("-")
    tail = short_hash(unique, hash_length)
    return f"{head}-{tail}" if head else tail


#: For ``DAG(user_defined_filters=...)``.
TEMPLATE_FILTERS = {
    "batch_name": batch_name,
    "short_hash": short_hash,
    "unique_training_job_name": unique_training_job_name,
}
