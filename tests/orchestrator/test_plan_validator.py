"""PlanValidator: a plan runs only if it is a bounded DAG of well-formed subtasks."""

from __future__ import annotations

from typing import Any

import pytest

from weft.protocols import CapabilityCard
from weft.runtime.orchestrator import OrchestratorBudget, Plan, PlanInvalid, PlanValidator


def plan(*subtasks: dict[str, Any]) -> Plan:
    return Plan.model_validate(
        {
            "subtasks": [
                {"description": f"do {s['id']}", "capability": "work", **s} for s in subtasks
            ]
        }
    )


def test_a_dag_within_budget_is_valid() -> None:
    ok = plan({"id": "a"}, {"id": "b"}, {"id": "c", "depends_on": ["a", "b"]})
    assert PlanValidator().problems(ok) == []
    PlanValidator().check(ok)


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (plan(), "no subtasks"),
        (plan({"id": "a"}, {"id": "a"}), "used twice"),
        (plan({"id": "a", "depends_on": ["zz"]}), "unknown subtask 'zz'"),
        (plan({"id": "a", "depends_on": ["a"]}), "depends on itself"),
        (
            plan(
                {"id": "a", "depends_on": ["c"]},
                {"id": "b", "depends_on": ["a"]},
                {"id": "c", "depends_on": ["b"]},
            ),
            "cycle: a -> c -> b -> a",
        ),
        (plan({"id": "1st"}), "must start with a letter"),
        (plan({"id": "input"}), "reserved"),
        (plan({"id": "answer"}), "reserved"),
        (plan({"id": "a", "description": "  "}), "empty description"),
        (plan({"id": "a", "capability": ""}), "empty capability"),
    ],
)
def test_each_structural_problem_is_named(broken: Plan, expected: str) -> None:
    problems = PlanValidator().problems(broken)
    assert any(expected in p for p in problems), problems
    with pytest.raises(PlanInvalid, match="invalid plan"):
        PlanValidator().check(broken)


def test_a_repeated_id_is_one_complaint_however_often_it_repeats() -> None:
    """A small model's plan of three "heat-pump" subtasks, each depending on itself, was
    rejected with "... is used twice ..." twice and the self-dependency three times, and
    that repeated text went back to the model in its next prompt."""
    self_looped = {"id": "heat-pump", "depends_on": ["heat-pump"]}
    problems = PlanValidator().problems(plan(self_looped, self_looped, self_looped))
    assert problems == [
        "subtask id 'heat-pump' is used 3 times; ids must be unique",
        "subtask 'heat-pump' depends on itself",
    ]


def test_too_many_subtasks_breaks_the_budget() -> None:
    validator = PlanValidator(OrchestratorBudget(max_subtasks=2))
    problems = validator.problems(plan({"id": "a"}, {"id": "b"}, {"id": "c"}))
    assert problems == ["the plan has 3 subtasks; at most 2 are allowed (merge related steps)"]


def test_all_problems_are_reported_together() -> None:
    problems = PlanValidator().problems(plan({"id": "a", "depends_on": ["x"]}, {"id": "a"}))
    assert len(problems) == 2


def test_estimated_cost_and_critical_path_are_checked_against_the_budget() -> None:
    validator = PlanValidator(OrchestratorBudget(max_cost=1.0, max_time=10.0))
    chain = plan({"id": "a"}, {"id": "b", "depends_on": ["a"]}, {"id": "c"})
    slow = CapabilityCard(agent_id="slow", cost_per_call=0.6, expected_latency_s=6.0)
    cheap = CapabilityCard(agent_id="cheap", cost_per_call=0.0, expected_latency_s=1.0)
    problems = validator.estimate_problems(chain, {"a": slow, "b": slow, "c": cheap})
    assert any("cost $1.2000" in p for p in problems)
    assert any("critical path is expected to take 12.0s" in p for p in problems)
    assert validator.estimate_problems(chain, {"a": slow, "b": cheap, "c": cheap}) == []
