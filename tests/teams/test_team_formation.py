"""Team formation: members picked through a router by capability, runners-up as their pool."""

from __future__ import annotations

from typing import Any

from tests.teams.scenarios import run_in_process
from tests.teams.scripted import echo, failing
from weft.protocols import CapabilityCard
from weft.protocols.teams import MessageType
from weft.runtime.routing.lexical_router import LexicalRouter
from weft.runtime.teams import Formation, Team


def _card(agent: str, description: str) -> CapabilityCard:
    return CapabilityCard(agent_id=agent, description=description)


ROUTER = LexicalRouter(
    [
        _card("sql_writer", "writes SQL queries for databases"),
        _card("sql_tuner", "tunes slow SQL queries and database indexes"),
        _card("chart_maker", "draws charts and plots of data"),
    ]
)


async def test_formation_seats_one_member_per_capability_with_a_pool() -> None:
    seats = await Formation(ROUTER, ["write SQL queries", "draw charts"], pool_size=1).form()
    assert [
        (s.name, [p if isinstance(p, str) else p.spec.name for p in s.pool]) for s in seats
    ] == [
        ("sql_writer", ["sql_tuner"]),
        ("chart_maker", []),
    ]


async def test_a_formed_team_replaces_a_dead_member_with_the_next_best_agent() -> None:
    def speaks(context: dict[str, Any]) -> Any:
        if context["turn"] >= 3:
            return {"act": "conclude", "text": f"{context['you']} wraps up"}
        return {"act": "speak", "text": f"{context['you']} here"}

    actions = {
        "sql_writer": failing("sql_writer"),
        "sql_tuner": echo("sql_tuner", speaks),
        "chart_maker": echo("chart_maker", speaks),
    }
    formation = Formation(ROUTER, ["write SQL queries", "draw charts"], actions=actions)
    outcome, log = await run_in_process(Team("analysts", formation=formation), "report")
    assert log[0].type is MessageType.TEAM_UP
    assert log[0].data["members"] == [
        "sql_writer",
        "chart_maker",
    ]
    assert outcome.members == ["sql_tuner", "chart_maker"]
    assert [(m.turn, m.sender) for m in log if m.turn is not None] == [
        (1, "sql_tuner"),
        (2, "chart_maker"),
        (3, "sql_tuner"),
    ]
    assert outcome.conclusion == "sql_tuner wraps up"
