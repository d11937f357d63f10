"""``python -m airflow_batch_service.cli``: the same as the ``airflow-batch-service`` script."""

from airflow_batch_service.cli import main

raise SystemExit(main())
