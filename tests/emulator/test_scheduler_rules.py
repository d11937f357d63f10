"""The pure scheduling rules (``emulator.scheduler``), without moto."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_batch_service.emulator import scheduler as rules
from airflow_batch_service.emulator.scheduler import NUM_INSTANCES, Usage

GPU, CPU = "ml.g5.xlarge", "ml.m5.xlarge"


def used(**by_type: float) -> Usage:
    out = Usage()
    for unit, qty in by_type.items():
        out.add({unit.replace("_", "."): qty})
    return out


def test_demand_from_capacity_usage_and_payload_without_resource_config() -> None:
    assert rules.demand_of(
        [{"capacityUnit": GPU, "quantity": 2.0}, {"capacityUnit": CPU, "quantity": 1.0}]
    ) == {
        GPU: 2.0,
        CPU: 1.0,
    }
    assert rules.demand_of([]) == {None: 1.0}  # one instance of unknown type


def test_num_instances_limit_counts_every_type() -> None:
    limits = rules.limit_map([{"maxCapacity": 4, "capacityUnit": NUM_INSTANCES}])
    assert rules.fits(limits, used(ml_g5_xlarge=2), {CPU: 2})
    assert not rules.fits(limits, used(ml_g5_xlarge=2, ml_m5_xlarge=1), {CPU: 2})
    assert rules.fits(limits, Usage(), {None: 1})
    assert rules.exhausted(limits, used(ml_g5_xlarge=4))
    assert not rules.can_ever_fit(limits, {GPU: 5})


def test_instance_type_limits_count_their_type_and_refuse_other_types() -> None:
    limits = rules.limit_map([{"maxCapacity": 2, "capacityUnit": GPU}])
    assert rules.fits(limits, used(ml_m5_xlarge=10), {GPU: 2})
    assert not rules.fits(limits, used(ml_g5_xlarge=1), {GPU: 2})
    # Documented: a job of a type with no matching limit waits for one.
    assert rules.need_for(limits, {CPU: 1}) is None
    assert not rules.can_ever_fit(limits, {CPU: 1})
    # A limit's allowance can be stretched (borrowing).
    assert rules.fits(limits, used(ml_g5_xlarge=2), {GPU: 1}, extra={GPU: 1})


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"strategy": "LEND_AND_BORROW", "borrowLimit": 50}, None),
        ({"strategy": "LEND_AND_BORROW", "borrowLimit": -1}, None),
        ({"strategy": "LEND_AND_BORROW"}, None),
        ({"strategy": "LEND"}, None),
        ({"strategy": "LEND", "borrowLimit": 50}, "resourceSharingConfiguration.borrowLimit"),
        ({"strategy": "RESERVE", "borrowLimit": -1}, "resourceSharingConfiguration.borrowLimit"),
        (
            {"strategy": "LEND_AND_BORROW", "borrowLimit": -5},
            "resourceSharingConfiguration.borrowLimit",
        ),
        ({"strategy": "SHARE"}, "resourceSharingConfiguration.strategy"),
        (None, "resourceSharingConfiguration.strategy"),
    ],
)
def test_sharing_problems(config: Any, problem: str | None) -> None:
    found = rules.sharing_problems(config)
    assert [p.field for p in found] == ([problem] if problem else [])


def test_borrow_allowance() -> None:
    limits = {GPU: 4.0}
    assert rules.borrow_allowance(limits, {"strategy": "RESERVE"}) == {GPU: 0.0}
    assert rules.borrow_allowance(limits, {"strategy": "LEND"}) == {GPU: 0.0}
    assert rules.borrow_allowance(limits, {"strategy": "LEND_AND_BORROW", "borrowLimit": 50}) == {
        GPU: 2.0
    }
    assert rules.borrow_allowance(limits, {"strategy": "LEND_AND_BORROW", "borrowLimit": -1}) == {
        GPU: math.inf
    }
    assert rules.borrow_allowance(limits, {"strategy": "LEND_AND_BORROW"}) == {GPU: math.inf}


@dataclass
class Share:
    limits: dict[str, float]
    sharing: dict[str, Any]
    used: Usage = field(default_factory=Usage)


def test_borrowing_needs_a_lender_and_respects_borrow_limit() -> None:
    borrower = Share(
        {GPU: 4.0}, {"strategy": "LEND_AND_BORROW", "borrowLimit": 50}, used(ml_g5_xlarge=4)
    )
    reserve = Share({GPU: 4.0}, {"strategy": "RESERVE"})
    lender = Share({GPU: 4.0}, {"strategy": "LEND"})
    # A RESERVE share lends nothing.
    assert not rules.can_borrow(borrower, [borrower, reserve], {GPU: 1}, {})
    # A LEND share lends its idle capacity, up to the borrower's borrowLimit (50% of 4 = 2).
    assert rules.can_borrow(borrower, [borrower, lender], {GPU: 2}, {})
    assert not rules.can_borrow(borrower, [borrower, lender], {GPU: 3}, {})
    # Capacity no share owns can be borrowed too (the emulator's choice).
    assert rules.can_borrow(borrower, [borrower, reserve], {GPU: 1}, {GPU: 1.0})
    # What is already borrowed is not lent twice.
    lender.used.add({GPU: 3})
    assert rules.lendable([borrower, lender], GPU) == 1.0
    assert not rules.can_borrow(borrower, [borrower, lender], {GPU: 2}, {})


@dataclass
class Job:
    name: str
    priority: int = 0
    created: float = 0.0
    seq: int = 0
    share: str = ""
    size: float = 1.0
    dispatched: float = 0.0


def test_fifo_and_priority_keys() -> None:
    jobs = [
        Job("b", priority=5, created=2, seq=2),
        Job("a", priority=1, created=1, seq=1),
        Job("c", priority=5, created=3, seq=3),
    ]
    assert [j.name for j in sorted(jobs, key=rules.fifo_key)] == ["a", "b", "c"]
    assert [j.name for j in sorted(jobs, key=rules.priority_key)] == ["b", "c", "a"]


def test_fair_share_order_priority_then_share_usage_then_submit_time() -> None:
    jobs = [
        Job("a1", share="A", created=1, seq=1),
        Job("a2", share="A", created=2, seq=2),
        Job("a3", share="A", created=3, seq=3),
        Job("b1", share="B", created=4, seq=4),
        Job("b2", share="B", created=5, seq=5),
        Job("urgent", share="B", priority=9, created=6, seq=6),
    ]
    order = rules.fair_share_order(jobs, lambda j: j.share, {}, lambda s: 1.0, lambda j: j.size)
    # urgent first (priority); it counts as B's usage, so A goes twice before B's turn, then
    # the shares alternate (equal usage: submission time decides).
    assert [j.name for j in order] == ["urgent", "a1", "a2", "b1", "a3", "b2"]
    # A share already using capacity goes after one that uses none.
    order = rules.fair_share_order(
        jobs[:5], lambda j: j.share, {"A": 2.0}, lambda s: 1.0, lambda j: j.size
    )
    assert [j.name for j in order][:3] == ["b1", "b2", "a1"]
    # A smaller weightFactor gets more.
    weights = {"A": 0.5, "B": 1.0}
    order = rules.fair_share_order(
        jobs[:5], lambda j: j.share, {}, weights.__getitem__, lambda j: j.size
    )
    assert [j.name for j in order] == ["a1", "b1", "a2", "a3", "b2"]


def test_share_weight_lookup() -> None:
    dist = [
        {"shareIdentifier": "team*", "weightFactor": 0.5},
        {"shareIdentifier": "teamx", "weightFactor": 2},
    ]
    assert rules.share_weight(dist, "teamx") == 2
    assert rules.share_weight(dist, "teamy") == 0.5
    assert rules.share_weight(dist, "other") == 1.0


def test_victims_lowest_priority_then_latest_dispatched_and_only_when_enough() -> None:
    jobs = [
        Job("old-low", priority=1, dispatched=10, seq=1),
        Job("new-low", priority=1, dispatched=20, seq=2),
        Job("high", priority=9, dispatched=30, seq=3),
    ]
    freed: list[str] = []

    def release(job: Job) -> None:
        freed.append(job.name)

    victims = rules.choose_victims(jobs, release, lambda: len(freed) >= 2)
    assert [v.name for v in victims or []] == ["new-low", "old-low"]
    freed.clear()
    # Not enough room even with every candidate gone: nobody is preempted.
    assert rules.choose_victims(jobs, release, lambda: len(freed) >= 4) is None
    freed.clear()
    # Ineligible candidates are skipped.
    victims = rules.choose_victims(
        jobs, release, lambda: len(freed) >= 1, lambda j: j.name != "new-low"
    )
    assert [v.name for v in victims or []] == ["old-low"]


def test_scheduler_module_imports_neither_moto_nor_boto3() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(rules))
    names = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    names |= {
        (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    assert not names & {"moto", "boto3", "botocore"}
