"""A pause waits only for tasks that will report; a ``to`` for no member is said, not dropped.

A pause on a task of a rejected or refused proposal, or on an id no task
has, used to hold the conversation until ``pause_timeout`` (600 s). The team
now names such ids in the pause message at once and waits only for tasks
that are running or have reported. A reply whose top-level ``to`` names no
member still counts (the selector picks the next speaker), and the message
says so in ``data.to_unknown`` and a note the members read in their history.
Every run here has ``pause_timeout=600`` and is bounded by ``asyncio.wait_for``
far below it, so a pause that waited would fail the test instead of hanging.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.teams.scenarios import (
    check_legal_states,
    check_one_speaker_per_turn,
    check_pauses,
    run_in_process,
)
from weft.agents import FunctionAction, tool
from weft.protocols.teams import MessageType, TeamMessage, TeamOutcome
from weft.runtime.teams import Team
from weft.runtime.teams.pause_checks import check_pause, pause_note

Moves = dict[int, dict[str, Any]]
BLOCKING = pytest.mark.parametrize("blocking", [True, False], ids=["def", "async"])
#: Far below the teams' pause_timeout (600 s): a run that waits for it fails here.
LIMIT = 60.0


def scripted(
    name: str, moves: Moves, *, blocking: bool, seen: list[tuple[str, dict[str, Any]]]
) -> FunctionAction:
    """A member that makes ``moves[turn]`` (votes too; else speaks, or votes yes) and
    records ``(task prose, context)`` of its turns; a plain ``def`` when ``blocking``."""

    def answer(task: str, context: dict[str, Any]) -> Any:
        if context["mode"] == "task":
            return f"{name} did {context['task']['task']}"
        seen.append((task, context))
        default = {"act": "vote", "vote": "yes"} if context["mode"] == "vote" else None
        return moves.get(context["turn"], default or {"act": "speak", "text": f"{name} speaks"})

    def plain(task: str, context: dict[str, Any]) -> Any:
        return answer(task, context)

    async def coroutine(task: str, context: dict[str, Any]) -> Any:
        return answer(task, context)

    function = plain if blocking else coroutine
    function.__name__ = name
    return tool(name=name)(function)


async def run(
    moves: Moves, blocking: bool
) -> tuple[TeamOutcome, list[TeamMessage], list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    members = [scripted(n, moves, blocking=blocking, seen=seen) for n in ("alice", "bob")]
    team = Team("launch", members, pause_timeout=600)
    outcome, log = await asyncio.wait_for(run_in_process(team, "plan the launch"), LIMIT)
    check_legal_states(log)
    check_one_speaker_per_turn(log)
    check_pauses(log)
    return outcome, log, seen


def one(log: list[TeamMessage], kind: MessageType) -> TeamMessage:
    found = [m for m in log if m.type is kind]
    assert len(found) == 1, [m.type.value for m in log]
    return found[0]


@BLOCKING
async def test_a_pause_on_a_rejected_proposals_task_ends_at_once(blocking: bool) -> None:
    moves: Moves = {
        1: {
            "act": "propose",
            "text": "bob drafts",
            "tasks": [{"id": "t1", "to": "bob", "task": "draft", "mode": "async"}],
        },
        2: {"act": "vote", "vote": "no"},  # a tie rejects
        3: {"act": "pause", "text": "waiting for the draft", "to": "zed", "wait_for": ["t1"]},
        4: {"act": "conclude", "text": "done"},
    }
    outcome, log, seen = await run(moves, blocking)
    assert (outcome.conclusion, outcome.reason) == ("done", "concluded")
    assert outcome.task_results == {}
    assert one(log, MessageType.DECISION).data["accepted"] is False
    pause = one(log, MessageType.PAUSE)
    assert pause.wait_for == []
    assert pause.data["unknown"] == []
    assert pause.data["never_started"] == {"t1": "its proposal by alice was rejected"}
    assert pause.data["to_unknown"] == "zed"
    note = (
        "'to' ignored, no one addressed: 'zed' is no member of team 'launch'; "
        "the members are alice, bob; not waiting for task t1, it will never report: "
        "its proposal by alice was rejected; nothing to wait for"
    )
    assert pause.data["note"] == note
    trigger = log[log.index(pause) + 1]
    assert trigger.type is MessageType.TRIGGER
    assert trigger.text == "nothing reported; the conversation resumes"
    # the next speaker reads the note, as data and in its prose
    task, context = seen[-1]
    assert {"sender": pause.sender, "type": "pause", "note": note} in [
        {k: h.get(k) for k in ("sender", "type", "note")} for h in context["history"]
    ]
    assert f"[team note: {note}]" in task


@BLOCKING
async def test_a_pause_waits_only_for_what_runs_and_names_the_rest(blocking: bool) -> None:
    moves: Moves = {
        1: {
            "act": "propose",
            "text": "carol checks",
            "tasks": [{"id": "p1", "to": "carol", "task": "check", "mode": "sync"}],
        },
        2: {
            "act": "assign",
            "text": "bob drafts",
            "tasks": [{"id": "a", "to": "bob", "task": "draft", "mode": "async"}],
            "wait_for": ["p1", "a", "zz"],
        },
        4: {"act": "conclude", "text": "done"},
    }
    outcome, log, _ = await run(moves, blocking)
    assert (outcome.conclusion, outcome.reason) == ("done", "concluded")
    assert outcome.task_results == {"a": "bob did draft"}
    assert one(log, MessageType.DECISION).data["refused"] == {
        "p1": "'carol' is no member of team 'launch'"
    }
    pause = one(log, MessageType.PAUSE)
    assert pause.wait_for == ["a"]
    assert pause.data["unknown"] == ["zz"]
    assert pause.data["never_started"] == {"p1": "its proposal by alice was not put to the vote"}
    assert "to_unknown" not in pause.data
    assert pause.data["note"] == (
        "not waiting for task p1, it will never report: its proposal by alice was not put "
        "to the vote; not waiting for task zz, it will never report: no task has that id; "
        "waiting for a"
    )
    trigger = one(log, MessageType.TRIGGER)
    assert trigger.wait_for == ["a"]
    assert trigger.data["results"] == {"a": "bob did draft"}


@BLOCKING
async def test_a_to_that_names_no_member_is_said_and_the_selector_picks(blocking: bool) -> None:
    moves: Moves = {
        1: {"act": "speak", "text": "over to you", "to": "Bob"},
        2: {"act": "speak", "text": "on it", "to": "alice"},
        3: {"act": "speak", "text": "thanks", "to": ""},
        4: {"act": "conclude", "text": "done"},
    }
    outcome, log, seen = await run(moves, blocking)
    assert outcome.reason == "concluded"
    speeches = [m for m in log if m.type is MessageType.SPEAK]
    assert [(m.sender, m.to) for m in speeches] == [
        ("alice", None),
        ("bob", "alice"),
        ("alice", None),
    ]
    note = (
        "'to' ignored, no one addressed: 'Bob' is no member of team 'launch' "
        "(did you mean 'bob'?); the members are alice, bob"
    )
    assert speeches[0].data == {"selected_by": "round_robin", "to_unknown": "Bob", "note": note}
    assert speeches[1].data == {"selected_by": "round_robin"}  # a member: no note
    assert speeches[2].data == {"selected_by": "addressed"}  # "" addresses no one
    # the turn after the unknown 'to' is the selector's, and its speaker reads why
    task, context = seen[1]
    assert context["you"] == "bob"
    assert context["history"][-1]["note"] == note
    assert f"alice (speak): over to you [team note: {note}]" in task


def test_check_pause_splits_what_will_report_from_what_never_will() -> None:
    check = check_pause(
        ["a", "x", "b", "a", "r"],
        assigned={"a", "b", "r"},
        reporting={"a", "b"},
        dropped={"r": "its proposal by alice was rejected"},
    )
    assert check.waits == ["a", "b"]
    assert check.unknown == ["x"]
    assert check.never_started == {"r": "its proposal by alice was rejected"}
    assert list(check.skipped) == ["x", "r"]
    assert pause_note(check_pause(["a"], {"a"}, {"a"}, {})) == ""
    assert pause_note(check_pause(["q"], {"q"}, set(), {})) == (
        "not waiting for task q, it will never report: it was never started; nothing to wait for"
    )
