"""The blocks the docs build generates from the core, and the markers that ask for them."""

from __future__ import annotations

import re

import pytest
from docs_tooling import ROOT, load

examples = load("examples")
MARKER = re.compile(r"^<!-- generated:([a-z0-9-]+) -->$", re.MULTILINE)


def test_every_marker_in_the_docs_has_a_generator() -> None:
    used = set()
    for page in (ROOT / "docs").rglob("*.md"):
        used |= set(MARKER.findall(page.read_text(encoding="utf-8")))
    assert used <= set(examples.GENERATORS), used - set(examples.GENERATORS)
    assert {"retry-matrix", "explain-examples"} <= used


def test_retry_matrix_rows_come_from_decide() -> None:
    from airflow_batch_service.core.retry import RetryStrategy, decide

    table = examples.retry_matrix()
    strategy = RetryStrategy.from_api(examples.STRATEGIES[0][1])
    expected = decide(strategy, examples.REASONS["validation"], 1).describe()
    assert expected in table
    for cause in (
        "retry_rule",
        "exit_rule",
        "no_rule_matched",
        "attempts_exhausted",
        "terminated",
        "timed_out",
    ):
        assert f"`{cause}`" in table
    # The SDK prefix pitfall is called out by the core's own check.
    assert "unreachable_prefix_rules` flags rule 1" in table


def test_explain_examples_are_the_verdicts_of_their_responses() -> None:
    from airflow_batch_service.core.verdict import Outcome, interpret

    text = examples.explain_examples()
    for _caption, describe in examples.EXAMPLES.values():
        verdict = interpret(describe)
        assert verdict.explain() in text
        assert verdict.outcome in (Outcome.SUCCEEDED, Outcome.FAILED)
    assert "rule 2 EXIT" in text and "Batch queued attempt 2" in text


def test_example_training_job_names_fit_sagemaker() -> None:
    """The examples follow the real naming: AWSBatch + name + 32 hex, at most 63 characters."""
    for _caption, describe in examples.EXAMPLES.values():
        for attempt in describe["attempts"]:
            name = attempt["serviceResourceId"]["value"].rsplit("/", 1)[-1]
            assert re.fullmatch(r"AWSBatch[A-Za-z0-9-]{1,23}[0-9a-f]{32}", name), name
            assert len(name) <= 63


def test_watcher_timeline_reports_each_change_once() -> None:
    text = examples.watcher_timeline()
    assert text.count("attempt 1 of 5 failed") == 1
    assert "without using an attempt" in text


def test_compatibility_tables_come_from_the_project_files() -> None:
    declared = examples.declared_dependencies()
    assert "`>=3.11`" in declared and "apache-airflow-providers-amazon" in declared
    tested = examples.tested_versions()
    for constraints in (ROOT / "constraints").glob("*.txt"):
        assert f"`constraints/{constraints.name}`" in tested
    assert "| apache-airflow |" in tested


def test_runnable_timeout_and_transient_blocks() -> None:
    assert "longer than max_runnable_seconds=3600" in examples.runnable_timeout()
    assert "`TooManyRequestsException`" in examples.transient_errors()


def test_optional_pages_join_the_nav_only_when_they_exist(tmp_path) -> None:
    pytest.importorskip("mkdocs", reason="the hooks module imports mkdocs")
    hooks = load("hooks")

    def nav() -> list:
        return [{"Home": "index.md"}, {"Getting started": [{"Quickstart": "quickstart.md"}]}]

    absent = hooks.on_config({"nav": nav(), "docs_dir": str(tmp_path)})
    assert absent["nav"] == nav()
    (tmp_path / "emulator.md").write_text("# Emulator\n")
    present = hooks.on_config({"nav": nav(), "docs_dir": str(tmp_path)})
    assert present["nav"][1]["Getting started"][-1] == {"Local emulator": "emulator.md"}
    again = hooks.on_config(present)  # already listed: not added twice
    assert again["nav"][1]["Getting started"].count({"Local emulator": "emulator.md"}) == 1


def test_validation_error_is_the_operators_message() -> None:
    text = examples.validation_error()
    assert "Invalid arguments; nothing was submitted:" in text
    assert "retry_strategy (retryStrategy.attempts): must be between 1 and 10, got 11" in text
    assert "serviceRequestPayload.TrainingJobName" in text


def test_sensor_summary_is_the_verdicts_summary() -> None:
    import json

    from airflow_batch_service.core.verdict import interpret

    summary = interpret(examples.EXAMPLES["succeeded-after-retry"][1]).summary()
    assert json.dumps(summary, indent=2) in examples.sensor_summary()


def test_airflow_outcome_follows_finish() -> None:
    table = examples.airflow_outcome()
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines()[2:]}
    assert "retryable" in rows["attempts_exhausted"] and "retryable" in rows["timed_out"]
    assert "retryable" in rows["preemption_limit"]
    assert "retryable" not in rows["exit_rule"] and "retryable" not in rows["terminated"]
    assert all(row.endswith("| `AirflowFailException`: not retried |") for row in rows.values())


def test_example_includes_resolve_to_the_example_dags() -> None:
    pytest.importorskip("mkdocs", reason="the hooks module imports mkdocs")
    hooks = load("hooks")
    used = set()
    for page in (ROOT / "docs").rglob("*.md"):
        used |= set(hooks.INCLUDE.findall(page.read_text(encoding="utf-8")))
    assert ("example_dags/example_batch_service_basic.py", "howto_sensor_batch_service_job") in used
    for path, name in used:
        code = hooks.extract_example(ROOT / path, name)
        assert code and "[START" not in code and not code.startswith(" ")
    with pytest.raises(ValueError):
        hooks.extract_example(ROOT / "example_dags/example_batch_service_basic.py", "nope")
