"""A team of 100 members holds a 1,000-turn conversation in one process (functional only)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.teams.scenarios import check_legal_states, check_one_speaker_per_turn, run_in_process
from tests.teams.scripted import echo
from weft.runtime.teams import Team

MEMBERS = 100
TURNS = 1000


async def test_a_hundred_members_hold_a_thousand_turns() -> None:
    def speak(context: dict[str, Any]) -> Any:
        turn = context["turn"]
        if turn % 100 == 50:  # now and then a sync task for the next seat
            nxt = context["members"][(context["members"].index(context["you"]) + 1) % MEMBERS]
            return {"act": "assign", "tasks": [{"to": nxt, "task": f"check {turn}"}]}
        if context["mode"] == "task":
            return f"checked by {context['you']}"
        return {"act": "speak", "text": f"{context['you']} at {turn}"}

    team = Team(
        "crowd", [echo(f"m{i:03d}", speak) for i in range(MEMBERS)], max_turns=TURNS, window=10
    )
    outcome, log = await run_in_process(team, "talk for a long time")
    assert outcome.turns == TURNS and outcome.reason == "max_turns"
    check_legal_states(log)
    check_one_speaker_per_turn(log)
    speakers = Counter(m.sender for m in log if m.turn is not None)
    assert len(speakers) == MEMBERS and set(speakers.values()) == {TURNS // MEMBERS}
    assert len(outcome.task_results) == TURNS // 100
