"""The blocks generated from the core, the markers that ask for them, and the committed pages:
every page holds exactly what ``scripts/gen_docs.py`` writes, and what it writes about failures,
retries and resubmits follows ``core.wait`` and ``core.durable``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docs_tooling import ROOT, load

examples = load("examples")
blocks = load("blocks")
outcomes = load("outcomes")
MARKER = re.compile(r"^<!-- generated:([a-z0-9-]+) -->$", re.MULTILINE)


def test_every_marker_in_the_docs_has_a_generator() -> None:
    used = set()
    for page in (ROOT / "docs").rglob("*.md"):
        used |= set(MARKER.findall(page.read_text(encoding="utf-8")))
    known = set(load("blocks").all_generators())
    assert used <= known, used - known
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


def test_example_includes_resolve_to_the_example_dags() -> None:
    used = set()
    for page in blocks.pages():
        for block in blocks.parse(page.read_text(encoding="utf-8"), str(page)):
            if block.kind == "include":
                used.add(tuple(block.arg.split(":")))
    assert ("example_dags/example_batch_service_basic.py", "howto_sensor_batch_service_job") in used
    for path, name in used:
        code = blocks.extract_example(ROOT / path, name)
        assert code and "[START" not in code and not code.startswith(" ")
    with pytest.raises(ValueError):
        blocks.extract_example(ROOT / "example_dags/example_batch_service_basic.py", "nope")


# ------------------------------------------------------------------ the committed pages


def test_committed_pages_hold_what_gen_docs_writes() -> None:
    """A page read on GitHub is complete: every block is filled, and current."""
    stale = [str(path.relative_to(ROOT)) for path in blocks.stale()]
    assert not stale, f"generated blocks out of date in {stale}: run {blocks.REGENERATE}"
    for page in blocks.pages():
        for block in blocks.parse(page.read_text(encoding="utf-8"), str(page)):
            assert block.end is not None and block.end > block.start + 1, (page, block)


def _page(tmp_path: Path, text: str) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    page = docs / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_a_bare_marker_or_an_edited_block_is_stale_until_rewritten(tmp_path: Path) -> None:
    include = "example_dags/example_batch_service_basic.py:howto_sensor_batch_service_job"
    page = _page(
        tmp_path,
        "# Page\n\n<!-- generated:runnable-timeout -->\n\nText.\n\n"
        f"<!-- include:{include} -->\n\n```python\nhand-edited\n```\n\n"
        f"<!-- end include:{include} -->\n\nThe end.\n",
    )
    docs = page.parent
    assert blocks.stale(docs) == [page]
    assert blocks.write_all(docs) == [page]
    assert blocks.stale(docs) == [] and blocks.write_all(docs) == []
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Page\n\n<!-- generated:runnable-timeout -->\n\n```text\n")
    assert "<!-- end generated:runnable-timeout -->\n\nText.\n" in text
    assert "hand-edited" not in text and "job_id=submit.output" in text
    assert text.endswith(f"<!-- end include:{include} -->\n\nThe end.\n")
    # The site shows the blocks without their markers.
    site = blocks.fill(text, markers=False)
    assert "<!--" not in site and "job_id=submit.output" in site


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<!-- end generated:retry-matrix -->\n", "closes no block"),
        (
            "<!-- generated:retry-matrix -->\nx\n<!-- end generated:explain-examples -->\n",
            "does not close",
        ),
        ("<!-- generated:no-such-block -->\n", "unknown generated block 'no-such-block'"),
        ("<!-- include:example_dags/nope.py:x -->\n", "nope.py"),
    ],
)
def test_a_broken_block_names_the_page_and_line(tmp_path: Path, text: str, error: str) -> None:
    page = _page(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(error)):
        blocks.write_all(page.parent)


def test_gen_docs_check_fails_on_a_stale_page_and_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    gen_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_docs)
    assert gen_docs.main(["--check"]) == 0
    page = _page(tmp_path, "<!-- generated:runnable-timeout -->\n")
    monkeypatch.setattr(blocks, "DOCS", page.parent)
    monkeypatch.setattr(blocks, "pages", lambda docs_dir=page.parent: [page])
    monkeypatch.setattr(blocks, "ROOT", tmp_path)
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    assert gen_docs.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "out of date: docs/page.md: run .venv/bin/python scripts/gen_docs.py" in err
    assert page.read_text(encoding="utf-8") == "<!-- generated:runnable-timeout -->\n"
    assert gen_docs.main([]) == 0
    assert "<!-- end generated:runnable-timeout -->" in page.read_text(encoding="utf-8")


# ------------------------------------------------------- what fails, retries, resubmits


#: What each documented way a wait ends must mean, pinned here by hand: (the operator's wait's
#: ending, the sensor's ending, what the next try of the operator does). The tables in the docs
#: are computed from the core; this is what they must say.
EXPECTED: dict[str, tuple[str | None, str | None, str]] = {
    "succeeded": ("return", "return", "reattach"),
    "exit_rule": ("fail", "fail", "fail"),
    "attempts_exhausted_retry_rule": ("retry", "fail", "submit"),
    "attempts_exhausted_no_rule": ("retry", "fail", "submit"),
    "timed_out": ("retry", "fail", "submit"),
    "preemption_limit": ("retry", "fail", "submit"),
    "unknown": ("retry", "fail", "submit"),
    "terminated": ("fail", "fail", "submit"),
    "max_runnable_seconds": ("fail", "fail", "submit"),
    "wait_timeout": ("fail", None, "submit"),
    "sensor_timeout": (None, "sensor_timeout", "reattach"),
    "execution_timeout": ("task_timeout", "task_timeout", "submit"),
    "not_found": ("fail", "fail", "submit"),
    "fatal_error": ("retry", "retry", "reattach"),
}


def test_each_documented_outcome_follows_core_wait_and_core_durable() -> None:
    """FAILED by an EXIT rule: the task fails without an Airflow retry, and a clear fails again;
    Batch gave up without one: a retryable error, and the retry submits a new job; a job still
    running or succeeded is reattached to."""
    seen = {}
    for scenario in outcomes.SCENARIOS:
        operator = scenario.ending().value if scenario.operator else None
        sensor = scenario.ending(sensor=True).value if scenario.sensor else None
        seen[scenario.key] = (operator, sensor, scenario.next_try().action.value)
    assert seen == EXPECTED


def test_every_final_cause_of_a_wait_is_documented() -> None:
    from airflow_batch_service.core.retry import Cause
    from airflow_batch_service.core.wait import RESUBMITTABLE_CAUSES

    shown = {s.outcome().cause for s in outcomes.SCENARIOS}
    final = {Cause.EXIT_RULE.value, Cause.TERMINATED.value, "not_found"}
    assert RESUBMITTABLE_CAUSES | final <= shown


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows[cells[0]] = cells
    return rows


def test_the_operator_table_says_what_the_core_decides() -> None:
    rows = _rows(outcomes.operator_endings())
    by_key = {s.key: rows[s.when] for s in outcomes.SCENARIOS if s.operator}
    assert by_key["exit_rule"][2:] == [
        "`AirflowFailException`",
        "no",
        "fails again with `AirflowFailException`, submits nothing",
    ]
    for key in ("attempts_exhausted_retry_rule", "attempts_exhausted_no_rule", "timed_out"):
        assert by_key[key][2:] == [
            "`AirflowException`",
            "yes, while `retries` last",
            "submits a new job",
        ], key
    assert by_key["succeeded"][2:] == ["none: succeeds", "-", "reattaches (returns the job)"]
    assert by_key["fatal_error"][4] == "reattaches (waits on the job)"
    assert by_key["execution_timeout"][2] == "`AirflowTaskTimeout`"


def test_the_sensor_never_retries_a_failed_job() -> None:
    rows = _rows(outcomes.sensor_endings())
    for scenario in outcomes.SCENARIOS:
        if scenario.sensor and scenario.outcome(sensor=True).status == "failed":
            assert rows[scenario.sensor_when or scenario.when][2:] == [
                "`AirflowFailException`",
                "no",
            ], scenario.key


def test_the_durable_table_is_core_durable_decide() -> None:
    from airflow_batch_service.core.durable import decide

    rows = _rows(outcomes.durable_decisions())
    expected = {
        "none": "submit",
        "in progress (`RUNNABLE`)": "reattach",
        "in progress (`RUNNING`)": "reattach",
        "a status this version does not know": "reattach",
        "`SUCCEEDED`": "reattach",
        "`FAILED`: an EXIT rule matched": "fail",
        "`FAILED`: attempts exhausted": "submit",
        "`FAILED`: an attempt timed out": "submit",
        "`FAILED`: the preemption limit": "submit",
        "`FAILED`: terminated": "submit",
        "`FAILED` with no attempt-level detail": "submit",
    }
    assert {label: cells[1].strip("`") for label, cells in rows.items()} == expected
    for label, previous in outcomes.PREVIOUS_JOBS:
        assert rows[label][1] == f"`{decide(previous).action.value}`"
    assert (
        "`previous job X failed for good because an EXIT rule matched: not resubmitting`"
        in (rows["`FAILED`: an EXIT rule matched"])
    )


def test_pages_quote_the_resubmit_note_as_the_core_words_it() -> None:
    from airflow_batch_service.core.wait import RESUBMIT_NOTE

    quoted = 0
    for page in blocks.pages():
        text = " ".join(page.read_text(encoding="utf-8").split())
        if "Batch gave up on this job without an EXIT rule" in text:
            assert RESUBMIT_NOTE in text, page
            quoted += 1
    assert quoted >= 2


def test_no_page_says_a_waiting_operator_never_retries_a_failed_job() -> None:
    """The claim this page set once made, against ``core.wait.ending``: only an EXIT rule, a
    termination or a missing job are final for the operator's own wait."""
    wrong = re.compile(
        r"If the operator waits[^.]*a job that ends\s+`?FAILED`?\s+fails the task with\s+"
        r"`AirflowFailException`",
        re.IGNORECASE,
    )
    for page in blocks.pages():
        text = " ".join(page.read_text(encoding="utf-8").split())
        assert not wrong.search(text), page
