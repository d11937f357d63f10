"""Extra links for service jobs (see :mod:`.batch_service`)."""
