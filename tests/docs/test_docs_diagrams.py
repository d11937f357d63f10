"""The diagrams agree with the core, and the committed SVGs are what their specs draw."""

from __future__ import annotations

import copy

import pytest
from docs_tooling import load

diagrams = load("diagrams")


@pytest.fixture(scope="module")
def decision_spec():
    return diagrams.load_spec(diagrams.DIAGRAM_DIR / "retry-decision.toml")


@pytest.fixture(scope="module")
def lifecycle_spec():
    return diagrams.load_spec(diagrams.DIAGRAM_DIR / "lifecycle.toml")


def test_retry_diagram_agrees_with_decide(decision_spec) -> None:
    assert diagrams.check_decision_spec(decision_spec) == []


def test_retry_diagram_covers_every_cause_decide_returns(decision_spec) -> None:
    from airflow_batch_service.core.retry import Cause

    drawn = {n["cause"] for n in decision_spec["node"] if "cause" in n}
    # PREEMPTION_LIMIT is decided by interpret() from the job's reason, never by decide().
    assert drawn == {c.value for c in Cause} - {Cause.PREEMPTION_LIMIT.value}


def test_a_reordered_diagram_is_caught(decision_spec) -> None:
    """Drawing the attempts check before the EXIT rule (a plausible mistake) is detected."""
    spec = copy.deepcopy(decision_spec)
    nodes = {n["id"]: n for n in spec["node"]}
    nodes["timed_out"]["no"] = "attempts_left"
    nodes["attempts_left"]["yes"] = "exit_rule"
    nodes["exit_rule"]["no"] = "rule_matched"
    problems = diagrams.check_decision_spec(spec)
    assert problems and any("exit_rule" in p for p in problems)


def test_a_wrong_cause_name_is_caught(decision_spec) -> None:
    spec = copy.deepcopy(decision_spec)
    next(n for n in spec["node"] if n.get("cause") == "exit_rule")["cause"] = "exit"
    assert any("not a core.retry.Cause" in p for p in diagrams.check_decision_spec(spec))


def test_lifecycle_diagram_draws_the_real_statuses(lifecycle_spec) -> None:
    assert diagrams.check_lifecycle_spec(lifecycle_spec) == []
    spec = copy.deepcopy(lifecycle_spec)
    spec["node"][0]["title"] = "QUEUED"
    problems = diagrams.check_lifecycle_spec(spec)
    assert "'QUEUED' is not a ServiceJobStatus" in problems
    assert "status SUBMITTED is missing" in problems


def test_committed_svgs_are_up_to_date() -> None:
    assert diagrams.stale() == [], "run python docs/_tooling/diagrams.py and commit the SVGs"


def test_svgs_are_well_formed_and_self_contained() -> None:
    import xml.etree.ElementTree as ET

    for path, svg in diagrams.build_all().items():
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg"), path
        assert "href" not in svg, f"{path.name} references something outside itself"


def test_overlapping_labels_are_caught(lifecycle_spec) -> None:
    assert diagrams.draw(lifecycle_spec).overlaps() == []
    spec = copy.deepcopy(lifecycle_spec)
    spec["edge"][5]["label_at"] = [1, 2]  # right on top of the RUNNABLE box
    assert any("box RUNNABLE" in p for p in diagrams.draw(spec).overlaps())
