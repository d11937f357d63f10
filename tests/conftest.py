"""Shared test setup. The emulator's fixtures come from its pytest plugin, as users get them."""

pytest_plugins = ["airflow_batch_service.emulator.pytest_plugin"]
