"""What runs inside a ``@task.batch_service`` training container: ``function_runner``.

Shipped as a file, not imported: the decorator uploads ``function_runner.py`` as the job's
``ContainerEntrypoint`` script, and the image's own Python runs it. So it imports nothing but
the standard library, not even this package.
"""
