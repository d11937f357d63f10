# The usual loops. Every target builds the venv first if it is missing.
.PHONY: venv test lint fmt typecheck docs clean

venv:
	scripts/bootstrap.sh

test:
	scripts/test.sh

lint: venv
	.venv/bin/ruff check .

fmt: venv
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format airflow_batch_service tests

typecheck: venv
	.venv/bin/mypy airflow_batch_service

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache *.egg-info

docs: venv
	scripts/docs.sh
