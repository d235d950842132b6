"""A reply's ``to`` names the next speaker on every move that leaves a next turn to give.

It used to be followed on a ``speak`` only: on an ``assign`` or a ``pause``
it was dropped without a word (the selector picked), so "carol, check bob's
outline" went to whoever came next in turn. Now ``to`` is followed on a
speak, an assign (once the sync results are in) and a pause (once its tasks
have reported); on a propose, a vote and a conclude, whose next turn the
flow rules fix, it is noted as ignored (``data.to_ignored`` and a note the
members read), never silently dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.teams.scenarios import check_legal_states, check_one_speaker_per_turn, run_in_process
from tests.teams.scripted import Script, members
from weft.agents import tool
from weft.protocols.teams import MessageType, TeamMessage
from weft.runtime.engine.runner import run_workflow
from weft.runtime.teams import Team
from weft.runtime.teams.member import REPLY_FORMAT
from weft.testing import FunctionModel, ModelRequest, OpenAIServer


async def converse(replies: dict[int, dict[str, Any]]) -> list[TeamMessage]:
    """alice, bob and carol in round robin (bob would follow alice), scripted by turn."""
    script = Script(replies)
    team = Team("launch", members(script, "alice", "bob", "carol"), max_turns=6)
    _outcome, log = await run_in_process(team, "plan the launch")
    check_legal_states(log)
    check_one_speaker_per_turn(log)
    return log


def turns(log: list[TeamMessage]) -> list[tuple[int | None, str, str]]:
    """(turn, speaker, how chosen) of every member turn."""
    return [(m.turn, m.sender, m.data.get("selected_by", "")) for m in log if m.turn is not None]


async def test_an_assignment_s_to_speaks_once_the_sync_results_are_in() -> None:
    task = {"id": "o", "to": "bob", "task": "outline", "mode": "sync"}
    log = await converse(
        {
            1: {
                "act": "assign",
                "text": "bob, outline; carol, check it",
                "tasks": [task],
                "to": "carol",
            },
            2: {"act": "conclude", "text": "checked"},
        }
    )
    assign = next(m for m in log if m.type is MessageType.ASSIGN_SYNC)
    assert assign.to == "carol" and "to_ignored" not in assign.data
    assert turns(log)[:2] == [(1, "alice", "round_robin"), (2, "carol", "addressed")]
    result = next(m for m in log if m.type is MessageType.TASK_RESULT)
    assert log.index(result) < log.index(next(m for m in log if m.turn == 2))


async def test_an_async_assignment_that_pauses_hands_the_turn_on_after_the_trigger() -> None:
    task = {"id": "f", "to": "bob", "task": "facts", "mode": "async"}
    log = await converse(
        {
            1: {"act": "assign", "tasks": [task], "wait_for": ["f"], "to": "carol"},
            2: {"act": "conclude", "text": "done"},
        }
    )
    kinds = [m.type for m in log]
    assert MessageType.TRIGGER in kinds
    assert turns(log)[:2] == [(1, "alice", "round_robin"), (2, "carol", "addressed")]
    second = next(m for m in log if m.turn == 2)
    assert kinds.index(MessageType.TRIGGER) < log.index(second)


async def test_a_pause_s_to_speaks_once_its_tasks_reported() -> None:
    task = {"id": "f", "to": "carol", "task": "facts", "mode": "async"}
    log = await converse(
        {
            1: {"act": "assign", "tasks": [task]},
            2: {"act": "pause", "text": "waiting", "wait_for": ["f"], "to": "alice"},
            3: {"act": "conclude", "text": "done"},
        }
    )
    pause = next(m for m in log if m.type is MessageType.PAUSE)
    assert (pause.sender, pause.to) == ("bob", "alice")
    assert turns(log)[:3] == [
        (1, "alice", "round_robin"),
        (2, "bob", "round_robin"),
        (3, "alice", "addressed"),  # round robin would have given it to carol
    ]


NOTE_END = "('to' names the next speaker on speak, assign, pause)"


async def test_a_proposal_s_to_is_noted_as_ignored_and_every_other_member_votes_in_order() -> None:
    log = await converse({1: {"act": "propose", "text": "ship friday", "to": "carol"}})
    proposal = next(m for m in log if m.type is MessageType.PROPOSAL)
    assert proposal.to is None and proposal.data["to_ignored"] == "carol"
    note = proposal.data["note"]
    assert note.startswith("'to' ignored, no one addressed: every other member votes on a")
    assert note.endswith(f"so a propose takes no 'to' {NOTE_END}")
    votes = [m.sender for m in log if m.type is MessageType.VOTE]
    assert votes == ["bob", "carol"]  # the team's order, not the proposer's 'to'
    decision = next(m for m in log if m.type is MessageType.DECISION)
    assert decision.data["accepted"] is True


async def test_a_vote_s_and_a_conclusion_s_to_are_noted_as_ignored() -> None:
    log = await converse(
        {
            1: {"act": "propose", "text": "ship friday"},
            2: {"act": "vote", "vote": "no", "to": "alice"},
            3: {"act": "vote", "vote": "no"},
            4: {"act": "conclude", "text": "not friday", "to": "bob"},
        }
    )
    vote = next(m for m in log if m.type is MessageType.VOTE and m.sender == "bob")
    assert vote.to is None and vote.data["to_ignored"] == "alice"
    assert "the vote goes on in the team's order" in vote.data["note"]
    conclusion = log[-1]
    assert conclusion.type is MessageType.CONCLUSION and conclusion.data["to_ignored"] == "bob"
    assert "a conclusion ends the conversation" in conclusion.data["note"]
    assert conclusion.data["reason"] == "concluded"


async def test_the_member_that_wrote_an_ignored_to_reads_why_on_its_next_turn() -> None:
    seen: list[str] = []

    @tool(name="alice")
    async def alice(task: str, context: dict[str, Any]) -> Any:
        seen.append(task)
        if context["turn"] == 1:
            return {"act": "propose", "text": "ship friday", "to": "bob"}
        return {"act": "conclude", "text": "not friday"}

    @tool(name="bob")
    async def bob(task: str, context: dict[str, Any]) -> Any:
        return {"act": "vote", "vote": "no"}  # a tie rejects: back to discussion, alice's turn

    _outcome, log = await run_in_process(Team("launch", [alice, bob], max_turns=4), "plan")
    assert [m.sender for m in log if m.turn is not None] == ["alice", "bob", "alice"]
    note = "'to' ignored, no one addressed: every other member votes on a proposal"
    assert f"alice (proposal): ship friday [team note: {note}" in seen[-1], seen[-1]


def test_the_reply_format_tells_members_which_moves_take_a_to() -> None:
    assert '"to" names the member who speaks next, on speak, assign' in REPLY_FORMAT
    assert 'propose, vote and conclude take no "to"' in REPLY_FORMAT


CREW = """\
name: crew
actions:
  team: {{python: "weft.runtime.teams:team_action"}}
  lead:
    llm: {{instructions: "You lead.", base_url: "{url}"}}
  researcher:
    llm: {{instructions: "You research.", base_url: "{url}"}}
  editor:
    llm: {{instructions: "You edit.", base_url: "{url}"}}
nodes:
  crew:
    action: team
    with:
      task: "Write a post about agents"
      members: [lead, researcher, editor]
      max_turns: 4
"""


def crew_model(request: ModelRequest) -> str:
    """The lead assigns research and hands the next turn to the editor, who concludes."""
    if request.system == "You lead.":
        task = {"id": "r", "to": "researcher", "task": "find facts", "mode": "sync"}
        return json.dumps({"act": "assign", "text": "go", "tasks": [task], "to": "editor"})
    if request.system == "You research.":
        return "three facts"
    return json.dumps({"act": "conclude", "text": "the post"})


async def test_llm_members_are_told_the_rule_and_an_assign_s_to_is_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("WEFT_MODEL", "m")
    model = FunctionModel(crew_model)
    async with OpenAIServer(model) as server:
        path = tmp_path / "crew.yaml"
        path.write_text(CREW.format(url=server.base_url))
        result = await run_workflow(path, record=False)
    assert result.ok, result.error
    outcome = result.outputs["crew"]
    assert (outcome["reason"], outcome["conclusion"], outcome["turns"]) == (
        "concluded",
        "the post",
        2,
    )
    asked = [r.system for r in model.requests]
    assert asked == ["You lead.", "You research.", "You edit."]  # the editor, not in turn
    assert 'propose, vote and conclude take no "to"' in model.requests[0].last_user_text
