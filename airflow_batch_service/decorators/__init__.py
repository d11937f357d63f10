"""TaskFlow decorators: ``@task.batch_service`` (``decorators.batch_service``)."""
