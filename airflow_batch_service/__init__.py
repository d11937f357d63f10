"""Apache Airflow provider for AWS Batch service jobs (SageMaker Training through Batch queues).

This module is imported by every DAG file that uses the provider, so it imports nothing heavy:
no Airflow, no boto3. The public classes live where Airflow users look for them
(``airflow_batch_service.operators``, ``.sensors``, ``.hooks``, ``.triggers``, ``.links``).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
