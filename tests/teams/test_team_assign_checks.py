"""An assignment is checked when it is made: a task for no member is refused at once.

Small LLMs assign tasks to ``"1"``, to ``""`` or to a member that is not in
the team. The team refuses such a task right away, with a ``task_result``
from the team that names the unknown member and the members, which the
assigner reads on its next turn; the valid tasks of the same assignment go
ahead. A proposal whose tasks name no member is not put to the vote.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.teams.scenarios import check_legal_states, check_one_speaker_per_turn, run_in_process
from weft.agents import FunctionAction, tool
from weft.protocols.teams import Assignment, TeamMessage, TeamState
from weft.runtime.teams import Team
from weft.runtime.teams.task_checks import refusals

Moves = dict[int, dict[str, Any]]
BLOCKING = pytest.mark.parametrize("blocking", [True, False], ids=["def", "async"])


def scripted(
    name: str, moves: Moves, *, blocking: bool, seen: list[dict[str, Any]] | None = None
) -> FunctionAction:
    """A member that makes ``moves[turn]`` (else speaks, or votes yes) and records the
    contexts of its turns in ``seen``; a plain ``def`` (worker thread) when ``blocking``."""

    def answer(context: dict[str, Any]) -> Any:
        if context["mode"] == "task":
            return f"{name} did {context['task']['task']}"
        if seen is not None:
            seen.append(context)
        if context["mode"] == "vote":
            return {"act": "vote", "vote": "yes"}
        return moves.get(context["turn"], {"act": "speak", "text": f"{name} speaks"})

    def plain(task: str, context: dict[str, Any]) -> Any:
        return answer(context)

    async def coroutine(task: str, context: dict[str, Any]) -> Any:
        return answer(context)

    function = plain if blocking else coroutine
    function.__name__ = name
    return tool(name=name)(function)


def kinds(log: list[TeamMessage]) -> list[tuple[str, str]]:
    return [(m.sender, m.type.value) for m in log]


def refusals_in(log: list[TeamMessage]) -> list[TeamMessage]:
    return [m for m in log if m.data.get("refused") is True]


@BLOCKING
async def test_a_task_for_no_member_is_refused_at_once_and_the_others_run(
    blocking: bool,
) -> None:
    seen: list[dict[str, Any]] = []
    moves: Moves = {
        1: {
            "act": "assign",
            "text": "split it",
            "tasks": [
                {"id": "a", "to": "1", "task": "find facts", "mode": "sync"},
                {"id": "b", "to": "bob", "task": "draft", "mode": "sync"},
            ],
        },
        3: {"act": "conclude", "text": "done"},
    }
    alice = scripted("alice", moves, blocking=blocking, seen=seen)
    team = Team("launch", [alice, scripted("bob", moves, blocking=blocking)])
    outcome, log = await run_in_process(team, "plan the launch")
    assert (outcome.conclusion, outcome.reason) == ("done", "concluded")
    assert outcome.task_results == {"b": "bob did draft"}
    assert kinds(log) == [
        ("launch", "team_up"),
        ("alice", "assign_sync"),
        ("launch", "task_result"),  # the refusal comes first, from the team ...
        ("bob", "task_result"),  # ... then the valid task's result
        ("bob", "speak"),
        ("alice", "conclusion"),
    ]
    refusal = log[2]
    assert refusal.task_id == "a"
    assert refusal.data["ok"] is False
    assert refusal.data["to"] == "1"
    assert refusal.data["error"]["type"] == "UnknownMember"
    assert refusal.text == (
        "task a refused, not started: '1' is no member of team 'launch'; the members are alice, bob"
    )
    # the assigner reads the refusal on its next turn
    history = seen[-1]["history"]
    assert {"sender": "launch", "type": "task_result", "task_id": "a", "text": refusal.text} in [
        {k: h.get(k) for k in ("sender", "type", "task_id", "text")} for h in history
    ]
    check_legal_states(log)
    check_one_speaker_per_turn(log)


@BLOCKING
async def test_an_empty_to_is_refused_and_a_pause_for_it_ends(blocking: bool) -> None:
    moves: Moves = {
        1: {
            "act": "assign",
            "text": "go",
            "tasks": [{"id": "a", "to": "", "task": "x", "mode": "async"}],
            "wait_for": ["a"],
        },
        3: {"act": "conclude", "text": "done"},
    }
    team = Team("launch", [scripted(n, moves, blocking=blocking) for n in ("alice", "bob")])
    outcome, log = await run_in_process(team, "go")
    assert outcome.reason == "concluded"
    assert outcome.task_results == {}
    assert kinds(log)[:5] == [
        ("launch", "team_up"),
        ("alice", "assign_async"),
        ("launch", "task_result"),  # refused before the pause: it does not wait for it
        ("alice", "pause"),
        ("launch", "trigger"),
    ]
    assert log[2].text == (
        "task a refused, not started: it names no member ('to' is empty); "
        "the members are alice, bob"
    )
    check_legal_states(log)


@BLOCKING
async def test_a_proposal_naming_no_member_is_not_voted_on(blocking: bool) -> None:
    seen: list[dict[str, Any]] = []
    moves: Moves = {
        1: {
            "act": "propose",
            "text": "the plan",
            "tasks": [
                {"id": "a", "to": "Bob", "task": "draft", "mode": "sync"},
                {"id": "b", "to": "alice", "task": "check", "mode": "sync"},
            ],
        },
        3: {"act": "conclude", "text": "done"},
    }
    alice = scripted("alice", moves, blocking=blocking, seen=seen)
    team = Team("launch", [alice, scripted("bob", moves, blocking=blocking)])
    outcome, log = await run_in_process(team, "plan")
    assert (outcome.conclusion, outcome.reason) == ("done", "concluded")
    assert outcome.task_results == {}  # no task of the refused plan ran
    assert kinds(log) == [
        ("launch", "team_up"),
        ("alice", "proposal"),
        ("launch", "decision"),  # no vote: refused at once
        ("bob", "speak"),
        ("alice", "conclusion"),
    ]
    decision = log[2]
    assert decision.state is TeamState.DISCUSSION
    assert decision.data["accepted"] is False
    assert decision.data["refused"] == {
        "a": "'Bob' is no member of team 'launch' (did you mean 'bob'?)"
    }
    assert decision.text == (
        "proposal not put to the vote: task a: 'Bob' is no member of team 'launch' "
        "(did you mean 'bob'?); the members are alice, bob; propose again with tasks "
        "for members"
    )
    assert any(h["type"] == "decision" and h["text"] == decision.text for h in seen[-1]["history"])
    check_legal_states(log)
    check_one_speaker_per_turn(log)


@BLOCKING
async def test_a_member_may_assign_a_task_to_itself(blocking: bool) -> None:
    moves: Moves = {
        1: {
            "act": "assign",
            "tasks": [{"id": "mine", "to": "alice", "task": "outline", "mode": "sync"}],
        },
        3: {"act": "conclude", "text": "done"},
    }
    team = Team("launch", [scripted(n, moves, blocking=blocking) for n in ("alice", "bob")])
    outcome, log = await run_in_process(team, "plan")
    assert outcome.task_results == {"mine": "alice did outline"}
    assert refusals_in(log) == []
    assert ("alice", "task_result") in kinds(log)


def test_refusals_name_what_is_wrong_and_keep_valid_tasks() -> None:
    tasks = [
        Assignment(id="t1", to="bob", task="x"),
        Assignment(id="t2", to="carol", task="x"),
        Assignment(id="t3", to="  ", task="x"),
        Assignment(id="t4", to="alice", task="x"),
    ]
    assert refusals(tasks, ["alice", "bob"], "launch") == {
        "t2": "'carol' is no member of team 'launch'",
        "t3": "it names no member ('to' is empty)",
    }
