"""The Airflow UI plugin: a "Service jobs" task-instance tab and a queue page.

Registered through the ``airflow.plugins`` entry point (``airflow_batch_service.plugins.ui``),
served by the api-server only, on Airflow >= 3.1; inert on 3.0. Nothing here is imported by DAG
files. One job per module:

- the plugin and its routes: ``ui`` (the :class:`AirflowPlugin`; cheap to import, every
  Airflow process loads plugins), ``app`` (the FastAPI app: routes and their authorization),
  ``access`` (the viewer checks the routes' dependencies cannot make);
- data gathering: ``tab_data`` and ``queue_data`` (what each page shows, from AWS and
  Airflow), ``airflow_data`` (Airflow's metadata DB), ``task_instances`` (a task instance as
  plain data), ``services`` (the metadata reader, hooks and clock the routes use);
- caching: ``cache`` (how long each AWS answer is reused);
- view models, pure (no Airflow, no boto3): ``segments`` and ``timeline`` (a job's lane),
  ``queues`` (a queue's capacity and who waits), ``values`` (lenient readers);
- rendering, pure: ``render`` (the page frame), ``render_tab``, ``render_queues``.
"""
