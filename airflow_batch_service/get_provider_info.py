"""Provider metadata for Airflow's ``apache_airflow_provider`` entry point.

Airflow calls this on every ``providers`` lookup, so it is a plain dict with no imports.
``package-name`` must equal the distribution name, or ``airflow providers list`` breaks for
every provider. The ``aws`` connection type is reused: this provider registers none.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-batch-service",
        "name": "AWS Batch service jobs",
        "description": (
            "Submit, watch and explain AWS Batch service jobs (SageMaker Training queued "
            "through Batch job queues), with a local emulator for development."
        ),
        "integrations": [
            {
                "integration-name": "AWS Batch service jobs",
                "external-doc-url": "https://docs.aws.amazon.com/batch/latest/userguide/service-jobs.html",
                "tags": ["aws"],
            }
        ],
        "hooks": [
            {
                "integration-name": "AWS Batch service jobs",
                "python-modules": ["airflow_batch_service.hooks.batch_service"],
            }
        ],
        "operators": [
            {
                "integration-name": "AWS Batch service jobs",
                "python-modules": [
                    "airflow_batch_service.operators.batch_service",
                    "airflow_batch_service.operators.service_operations",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "AWS Batch service jobs",
                "python-modules": [
                    "airflow_batch_service.sensors.batch_service",
                    "airflow_batch_service.sensors.service_operations",
                ],
            }
        ],
        "task-decorators": [
            {
                "name": "batch_service",
                "class-name": "airflow_batch_service.decorators.batch_service.batch_service_task",
            }
        ],
        "triggers": [
            {
                "integration-name": "AWS Batch service jobs",
                "python-modules": [
                    "airflow_batch_service.triggers.batch_service",
                    "airflow_batch_service.triggers.service_operations",
                    "airflow_batch_service.triggers.service_job_events",
                ],
            }
        ],
        "extra-links": [
            "airflow_batch_service.links.batch_service.BatchServiceJobDetailsLink",
            "airflow_batch_service.links.batch_service.SageMakerTrainingJobLink",
            "airflow_batch_service.links.batch_service.TrainingJobLogsLink",
            "airflow_batch_service.links.service_operations.BatchServiceEnvironmentLink",
            "airflow_batch_service.links.service_operations.BatchServiceJobQueueLink",
        ],
    }
