"""Every member move is legal or named: a proposal right after a task result is voted on.

A turn in EXECUTION comes only after the execution's sync results are in, so
a proposal there ends the execution first (a ``trigger`` back to DISCUSSION,
then the vote); no move a member makes crashes the team with a bare
``IllegalTransition``.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.teams.scenarios import check_legal_states, check_one_speaker_per_turn, run_in_process
from weft.agents import FunctionAction, tool
from weft.cli._app import cli
from weft.protocols import ActionFailed
from weft.protocols.teams import MessageType, TeamMessage, TeamState
from weft.runtime.engine.runner import run_workflow
from weft.runtime.teams import Team
from weft.runtime.teams.speakers import Selection
from weft.runtime.teams.state_machine import ends_execution_first

Moves = dict[int, dict[str, Any]]


def scripted(name: str, moves: Moves, *, blocking: bool) -> FunctionAction:
    """A member that makes ``moves[turn]`` (else speaks, or votes yes); a plain ``def``
    (run in a worker thread) when ``blocking``, else ``async``."""

    def answer(context: dict[str, Any]) -> Any:
        if context["mode"] == "task":
            return f"{name} did {context['task']['task']}"
        if context["mode"] == "vote":
            return moves.get(context["turn"], {"act": "vote", "vote": "yes"})
        return moves.get(context["turn"], {"act": "speak", "text": f"{name} speaks"})

    def plain(task: str, context: dict[str, Any]) -> Any:
        return answer(context)

    async def coroutine(task: str, context: dict[str, Any]) -> Any:
        return answer(context)

    function = plain if blocking else coroutine
    function.__name__ = name
    return tool(name=name)(function)


def team_of(moves: Moves, *names: str, blocking: bool, **options: Any) -> Team:
    return Team("launch", [scripted(n, moves, blocking=blocking) for n in names], **options)


SYNC_FACTS = {
    "act": "assign",
    "text": "bob, the facts please",
    "tasks": [{"id": "facts", "to": "bob", "task": "find facts", "mode": "sync"}],
}


def kinds(log: list[TeamMessage]) -> list[str]:
    return [m.type.value for m in log]


@pytest.mark.parametrize("blocking", [True, False], ids=["def", "async"])
async def test_a_proposal_right_after_a_sync_task_result_is_voted_on(blocking: bool) -> None:
    moves: Moves = {1: SYNC_FACTS, 2: {"act": "propose", "text": "ship the facts"}}
    team = team_of(moves, "alice", "bob", blocking=blocking)
    outcome, log = await run_in_process(team, "plan the launch")
    assert (outcome.conclusion, outcome.reason) == ("ship the facts", "vote")
    assert outcome.task_results == {"facts": "bob did find facts"}
    assert kinds(log) == [
        "team_up",
        "assign_sync",
        "task_result",
        "trigger",  # the execution is over: back to discussion ...
        "proposal",  # ... where the proposal opens the vote
        "vote",
        "decision",
        "conclusion",
    ]
    trigger = log[3]
    assert (trigger.sender, trigger.state, trigger.wait_for) == (
        "launch",
        TeamState.DISCUSSION,
        ["facts"],
    )
    assert trigger.data["results"] == {"facts": "bob did find facts"}
    assert outcome.states == [
        TeamState.TEAMUP,
        TeamState.DISCUSSION,
        TeamState.EXECUTION,
        TeamState.DISCUSSION,
        TeamState.VOTE,
        TeamState.CONCLUSION,
    ]
    check_legal_states(log)
    check_one_speaker_per_turn(log)


def test_only_a_proposal_in_execution_goes_back_to_discussion_first() -> None:
    firsts = {
        (kind, state)
        for kind in MessageType
        for state in TeamState
        if ends_execution_first(kind, state)
    }
    assert firsts == {(MessageType.PROPOSAL, TeamState.EXECUTION)}


class LeadSpeaks:
    """A speaker rule that always gives the turn to the lead (the first member)."""

    async def choose(self, selection: Selection, caller: Any) -> tuple[str, str]:
        return selection.members[0], "lead"


@pytest.mark.parametrize("blocking", [True, False], ids=["def", "async"])
async def test_the_lead_proposes_on_its_next_turn_after_its_sync_assignment(
    blocking: bool,
) -> None:
    moves: Moves = {1: SYNC_FACTS, 2: {"act": "propose", "text": "ship it"}}
    team = team_of(moves, "alice", "bob", blocking=blocking, selector=LeadSpeaks())
    outcome, log = await run_in_process(team, "plan the launch")
    assert (outcome.conclusion, outcome.reason, outcome.turns) == ("ship it", "vote", 3)
    proposal = next(m for m in log if m.type is MessageType.PROPOSAL)
    assert (proposal.sender, proposal.turn) == ("alice", 2)
    check_legal_states(log)


async def test_a_proposal_after_an_accepted_plan_started_its_tasks_is_voted_on() -> None:
    """An accepted proposal with tasks puts the team in EXECUTION; the next proposal
    ends that execution, and the async task still reports in the discussion."""
    moves: Moves = {
        1: {
            "act": "propose",
            "text": "draft, then decide",
            "tasks": [
                {"id": "outline", "to": "bob", "task": "outline", "mode": "sync"},
                {"id": "figures", "to": "bob", "task": "figures", "mode": "async"},
            ],
        },
        3: {"act": "propose", "text": "publish the outline"},
    }
    outcome, log = await run_in_process(team_of(moves, "alice", "bob", blocking=True), "go")
    assert (outcome.conclusion, outcome.reason) == ("publish the outline", "vote")
    assert outcome.task_results["outline"] == "bob did outline"
    first_decision = kinds(log).index("decision")
    assert log[first_decision].state is TeamState.EXECUTION
    trigger = next(m for m in log if m.type is MessageType.TRIGGER)
    assert trigger.wait_for == ["outline"]
    assert log[log.index(trigger) + 1].type is MessageType.PROPOSAL
    check_legal_states(log)
    check_one_speaker_per_turn(log)


async def test_speech_after_a_sync_result_still_returns_to_discussion_without_a_trigger() -> None:
    moves: Moves = {
        1: SYNC_FACTS,
        2: {"act": "speak", "text": "facts are in"},
        3: {"act": "conclude", "text": "done"},
    }
    outcome, log = await run_in_process(team_of(moves, "alice", "bob", blocking=True), "go")
    assert outcome.reason == "concluded"
    assert kinds(log) == ["team_up", "assign_sync", "task_result", "speak", "conclusion"]
    assert [m.state for m in log[2:4]] == [TeamState.EXECUTION, TeamState.DISCUSSION]


#: One of each move a member can make on its turn (votes out of turn included).
MOVES: list[dict[str, Any]] = [
    {"act": "speak", "text": "hm"},
    {"act": "propose", "text": "plain plan"},
    {"act": "propose", "text": "sync plan", "tasks": [{"to": "b", "task": "x", "mode": "sync"}]},
    {"act": "propose", "text": "async plan", "tasks": [{"to": "c", "task": "y", "mode": "async"}]},
    {"act": "assign", "tasks": [{"to": "b", "task": "x", "mode": "sync"}]},
    {"act": "assign", "tasks": [{"to": "c", "task": "y", "mode": "async"}]},
    {
        "act": "assign",
        "tasks": [{"id": "w", "to": "a", "task": "z", "mode": "async"}],
        "wait_for": ["w"],
    },
    {"act": "pause", "wait_for": ["t1"]},
    {"act": "vote", "vote": "no"},
    {"act": "conclude", "text": "the end"},
]


async def test_no_sequence_of_member_moves_crashes_the_team() -> None:
    """Every sequence of three moves (whatever state each lands in, votes included) ends
    the team with an outcome whose states, on the wire too, are all legal."""
    moves: Moves = {}
    team = team_of(moves, "a", "b", "c", blocking=False, max_turns=6)  # built once: fast
    for sequence in itertools.product(MOVES, repeat=3):
        moves.clear()
        moves.update(enumerate(sequence, start=1))
        outcome, log = await run_in_process(team, "go")
        assert outcome.states[-1] is TeamState.CONCLUSION, sequence
        check_legal_states(log)
        check_one_speaker_per_turn(log)
        for before, message in itertools.pairwise(log):
            if message.type is MessageType.PROPOSAL:
                assert before.state is not TeamState.EXECUTION, sequence


async def test_a_move_the_rules_refuse_fails_the_team_naming_member_move_and_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The safety net under the flow rules: with the rule that ends an execution before
    a proposal switched off, the old crash becomes a named failure of the team."""
    monkeypatch.setattr(
        "weft.runtime.teams.conversation.ends_execution_first", lambda kind, state: False
    )
    moves: Moves = {1: SYNC_FACTS, 2: {"act": "propose", "text": "ship"}}
    with pytest.raises(ActionFailed) as caught:
        await team_of(moves, "alice", "bob", blocking=True).run("plan")
    assert caught.value.error_type == "IllegalTransition"
    message = str(caught.value)
    assert message.startswith("launch: member 'bob' made the move 'propose' in state EXECUTION"), (
        message
    )
    assert "cannot go from EXECUTION to VOTE" in message


MEMBERS = """
from typing import Any


def alice(task: str, context: dict[str, Any]) -> Any:
    if context["mode"] == "vote":
        return {"act": "vote", "vote": "yes"}
    if context["turn"] == 1:
        return {"act": "assign", "text": "bob, the facts please",
                "tasks": [{"id": "facts", "to": "bob", "task": "find facts", "mode": "sync"}]}
    return {"act": "speak", "text": "ok"}


async def bob(task: str, context: dict[str, Any]) -> Any:
    if context["mode"] == "task":
        return "facts: 3"
    if context["mode"] == "vote":
        return {"act": "vote", "vote": "yes"}
    return {"act": "propose", "text": "ship the facts"}
"""

WORKFLOW = """
name: transitions
actions:
  team: {python: "weft.runtime.teams:team_action"}
  alice: {python: "transition_members:alice"}
  bob: {python: "transition_members:bob"}
nodes:
  discuss:
    action: team
    with: {task: "plan the launch", members: [alice, bob], max_turns: 6}
outputs:
  plan: ${discuss.conclusion}
"""


def _workflow(tmp_path: Path) -> Path:
    sys.modules.pop("transition_members", None)  # each test imports its own copy
    (tmp_path / "transition_members.py").write_text(textwrap.dedent(MEMBERS))
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    return tmp_path / "wf.yaml"


async def test_a_yaml_team_votes_on_a_proposal_made_right_after_a_sync_result(
    tmp_path: Path,
) -> None:
    result = await run_workflow(_workflow(tmp_path), journal=False)
    sys.modules.pop("transition_members", None)
    assert result.ok, result.nodes["discuss"].error
    assert result.outputs["plan"] == "ship the facts"


def test_weft_run_shows_the_voted_proposal_not_a_traceback(tmp_path: Path) -> None:
    flow = _workflow(tmp_path)
    shown = CliRunner().invoke(cli, ["run", str(flow)], env={"WEFT_HOME": str(tmp_path)})
    sys.modules.pop("transition_members", None)
    assert shown.exit_code == 0, shown.output
    assert "plan: ship the facts" in shown.output
    assert "IllegalTransition" not in shown.output and "Traceback" not in shown.output
