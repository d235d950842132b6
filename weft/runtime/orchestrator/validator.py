"""Plan validation: a plan runs only if it is a bounded DAG of well-formed subtasks.

Every problem is reported (not just the first) in words a planner LLM can act
on, because the messages are fed back to it when the orchestrator re-asks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from weft.protocols import CapabilityCard, WeftError
from weft.runtime.orchestrator.plan import RESERVED_IDS, OrchestratorBudget, Plan

#: What a subtask id may be (also given to the model in the planner's schema).
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)


class PlanInvalid(WeftError):
    """A plan failed validation; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid plan: " + "; ".join(problems))


def find_cycle(edges: Mapping[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a list of ids (first id repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in edges:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            deps = [d for d in edges.get(node, []) if d in edges]
            if index < len(deps):
                stack.append((node, index + 1))
                dep = deps[index]
                if state.get(dep) == 1:
                    return [*path[path.index(dep) :], dep]
                if not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[node] = 2
                path.pop()
    return None


class PlanValidator:
    """Checks plans against structure rules and an ``OrchestratorBudget``."""

    def __init__(self, budget: OrchestratorBudget | None = None) -> None:
        self.budget = budget or OrchestratorBudget()

    def problems(self, plan: Plan) -> list[str]:
        """Everything wrong with ``plan`` (empty list: valid)."""
        found: list[str] = []
        subtasks = plan.subtasks
        if not subtasks:
            return ["the plan has no subtasks"]
        if len(subtasks) > self.budget.max_subtasks:
            found.append(
                f"the plan has {len(subtasks)} subtasks; at most {self.budget.max_subtasks} "
                "are allowed (merge related steps)"
            )
        seen: set[str] = set()
        repeated: dict[str, int] = {}
        for subtask in subtasks:
            if not _ID_RE.match(subtask.id):
                found.append(
                    f"subtask id {subtask.id!r} must start with a letter and contain only "
                    "letters, digits, '_' or '-' (at most 64 characters)"
                )
            elif subtask.id in RESERVED_IDS:
                found.append(f"subtask id {subtask.id!r} is reserved; choose another id")
            if subtask.id in seen:
                repeated[subtask.id] = repeated.get(subtask.id, 1) + 1
            seen.add(subtask.id)
            if not subtask.description.strip():
                found.append(f"subtask {subtask.id!r} has an empty description")
            if not subtask.capability.strip():
                found.append(f"subtask {subtask.id!r} has an empty capability")
        # one line per id, however often it repeats: a small model's three "heat-pump"
        # subtasks read "... used twice ..." twice, in the error and in the model's next prompt
        found.extend(
            f"subtask id {sid!r} is used {'twice' if n == 2 else f'{n} times'}; ids must be unique"
            for sid, n in repeated.items()
        )
        for subtask in subtasks:
            for dep in subtask.depends_on:
                if dep == subtask.id:
                    found.append(f"subtask {subtask.id!r} depends on itself")
                elif dep not in seen:
                    found.append(f"subtask {subtask.id!r} depends on unknown subtask {dep!r}")
        cycle = find_cycle({s.id: list(s.depends_on) for s in subtasks})
        if cycle is not None and len(cycle) > 2:  # a self-loop is reported above
            found.append("dependencies form a cycle: " + " -> ".join(cycle))
        return list(dict.fromkeys(found))  # two subtasks of one id make the same complaints

    def estimate_problems(
        self, plan: Plan, cards: Mapping[str, CapabilityCard | None]
    ) -> list[str]:
        """Budget problems visible before running, from the routed agents' cards.

        ``cards`` maps subtask id to the chosen agent's card. Cost is the sum of
        ``cost_per_call``; time is the critical path of ``expected_latency_s``.
        """
        found: list[str] = []
        budget = self.budget
        if budget.max_cost is not None:
            cost = sum(c.cost_per_call for c in cards.values() if c is not None)
            if cost > budget.max_cost:
                found.append(
                    f"the routed agents are expected to cost ${cost:.4f}, over the budget of "
                    f"${budget.max_cost:.4f} (use fewer or cheaper subtasks)"
                )
        if budget.max_time is not None:
            finish: dict[str, float] = {}
            by_id = {s.id: s for s in plan.subtasks}

            def done(sid: str) -> float:
                if sid not in finish:
                    finish[sid] = 0.0  # guards against cycles; validated elsewhere
                    deps = [d for d in by_id[sid].depends_on if d in by_id]
                    card = cards.get(sid)
                    latency = card.expected_latency_s if card is not None else 0.0
                    finish[sid] = max((done(d) for d in deps), default=0.0) + latency
                return finish[sid]

            longest = max((done(s.id) for s in plan.subtasks), default=0.0)
            if longest > budget.max_time:
                found.append(
                    f"the critical path is expected to take {longest:.1f}s, over the budget of "
                    f"{budget.max_time:.1f}s (make steps independent or fewer)"
                )
        return found

    def check(self, plan: Plan) -> None:
        """Raise ``PlanInvalid`` unless the plan is valid."""
        problems = self.problems(plan)
        if problems:
            raise PlanInvalid(problems)
