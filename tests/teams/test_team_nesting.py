"""Teams nest (a member can be a team) and stop forming at ``team_up_depth``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.teams.scripted import echo
from weft.runtime.teams import Team
from weft.runtime.tracing.spans import MemoryTracer


def _concluder(level: int) -> Any:
    def reply(context: dict[str, Any]) -> Any:
        return {"act": "conclude", "text": f"level {level} done"}

    return echo(f"closer{level}", reply)


def _tower(levels: int, limit: int, depths: list[int]) -> Team:
    """Team 0 holds team 1 ... holds team levels-1, whose lead is a leaf member."""

    def leaf(context: dict[str, Any]) -> Any:
        depths.append(context["team_depth"])
        return {"act": "speak", "text": "leaf speaks"}

    member: Any = echo("leaf", leaf)
    for level in reversed(range(levels)):
        member = Team(f"team{level}", [member, _concluder(level)], team_up_depth=limit)
    return member


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_nesting_stops_at_the_depth_limit(limit: int) -> None:
    depths: list[int] = []
    tracer = MemoryTracer()
    top = _tower(5, limit, depths)
    top.tracer = tracer
    outcome = await top.run("build it")
    formed = [
        s.attributes["weft.team"]
        for s in tracer.spans
        if s.attributes.get("weft.team.message") == "team_up"
    ]
    assert formed == [f"team{level}" for level in range(limit)]
    alone = [s for s in tracer.spans if s.attributes.get("weft.team.message") == "lead_alone"]
    # spans end innermost first
    assert sorted(s.attributes["weft.team"] for s in alone) == [f"team{n}" for n in range(limit, 5)]
    assert depths == [limit]  # the leaf is reached once, called by the deepest formed team
    assert outcome.conclusion == "level 0 done"


async def test_a_nested_team_speaks_its_conclusion_in_the_outer_team() -> None:
    heard: list[str] = []

    def chair(context: dict[str, Any]) -> Any:
        heard.extend(m.get("text", "") for m in context["history"] if m["sender"] == "inner")
        return {"act": "conclude", "text": "outer done"}

    def inner_member(context: dict[str, Any]) -> Any:
        return {"act": "conclude", "text": f"inner answer to: {context['goal'][:12]}"}

    inner = Team("inner", [echo("specialist", inner_member)])
    outcome = await Team("outer", [inner, echo("chair", chair)]).run("design a cache")
    assert outcome.conclusion == "outer done"
    assert heard == ["inner answer to: design a cac"]
