"""The Airflow UI plugin (issue 13): a "Service jobs" task-instance tab and a queue page.

Registered through the ``airflow.plugins`` entry point (``airflow_batch_service.plugins.ui``),
served by the api-server only, on Airflow >= 3.1; inert on 3.0. Nothing here is imported by DAG
files. The modules:

- ``ui``: the :class:`AirflowPlugin` (cheap to import: every Airflow process loads plugins);
- ``app``: the FastAPI app (routes, Airflow authorization, caching);
- ``airflow_data``: what the pages read from Airflow's metadata DB;
- ``timeline`` and ``queues``: pure view-model builders (no Airflow, no boto3);
- ``render``: server-rendered HTML and SVG.
"""
