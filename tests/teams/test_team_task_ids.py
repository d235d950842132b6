"""Task ids are unique in a team; a member that addresses itself is told so.

Generated ids (``t1``, ``t2``, ...) used to be ``t{number of tasks + 1}``,
which could be an id a member had already given a task of its own: the new
task then replaced the old one in the team's books (its result, a pause on
it). Now a generated id skips every id in use, and a task whose explicit id
repeats an earlier task's is renamed, with a note (``data.renamed``, new id
-> the id given) the members read; a ``wait_for`` of the same reply follows
the renaming. A reply whose ``to`` names its own speaker is not followed
(the selector picks) and says why, as a ``to`` naming no member does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.teams.scenarios import (
    check_legal_states,
    check_one_speaker_per_turn,
    check_pauses,
    run_in_process,
)
from weft.agents import FunctionAction, tool
from weft.protocols.teams import Assignment, MessageType, TeamMessage, TeamOutcome
from weft.runtime.teams import Team
from weft.runtime.teams.task_ids import numbered

Moves = dict[int, dict[str, Any]]
Seen = list[tuple[str, dict[str, Any]]]
LIMIT = 60.0


def scripted(name: str, moves: Moves, seen: Seen) -> FunctionAction:
    """A member that makes ``moves[turn]`` (else speaks, or votes yes) and records its turns."""

    async def member(task: str, context: dict[str, Any]) -> Any:
        if context["mode"] == "task":
            return f"{name} did {context['task']['task']}"
        seen.append((task, context))
        default = {"act": "vote", "vote": "yes"} if context["mode"] == "vote" else None
        return moves.get(context["turn"], default or {"act": "speak", "text": f"{name} speaks"})

    member.__name__ = name
    return tool(name=name)(member)


async def run(moves: Moves) -> tuple[TeamOutcome, list[TeamMessage], Seen]:
    seen: Seen = []
    members = [scripted(n, moves, seen) for n in ("alice", "bob")]
    team = Team("launch", members, pause_timeout=600)
    outcome, log = await asyncio.wait_for(run_in_process(team, "plan the launch"), LIMIT)
    check_legal_states(log)
    check_one_speaker_per_turn(log)
    check_pauses(log)
    return outcome, log, seen


def results(log: list[TeamMessage]) -> dict[str, Any]:
    return {m.task_id: m.output for m in log if m.type is MessageType.TASK_RESULT}


async def test_a_generated_id_never_takes_an_id_a_member_gave() -> None:
    moves: Moves = {
        1: {
            "act": "assign",
            "text": "two drafts",
            "tasks": [
                {"id": "t2", "to": "bob", "task": "draft A", "mode": "sync"},
                {"to": "bob", "task": "draft B", "mode": "sync"},
            ],
        },
        2: {
            "act": "assign",
            "text": "one more",
            "tasks": [
                {"to": "alice", "task": "draft C", "mode": "sync"},
                {"id": "t1", "to": "alice", "task": "draft D", "mode": "sync"},
            ],
        },
        3: {"act": "conclude", "text": "done"},
    }
    outcome, log, _ = await run(moves)
    assigns = [m for m in log if m.type is MessageType.ASSIGN_SYNC]
    assert [[t.id for t in m.tasks] for m in assigns] == [["t2", "t1"], ["t3", "t4"]]
    assert outcome.task_results == {
        "t2": "bob did draft A",
        "t1": "bob did draft B",
        "t3": "alice did draft C",
        "t4": "alice did draft D",
    }
    # t1 was generated in turn 1, so the given t1 of turn 2 is renamed, and said so
    assert "renamed" not in assigns[0].data
    assert assigns[1].data["renamed"] == {"t4": "t1"}
    assert assigns[1].data["note"] == (
        "task id 't1' is taken by an earlier task: this task is 't4'"
    )


async def test_a_repeated_explicit_id_is_renamed_and_its_wait_for_follows() -> None:
    moves: Moves = {
        1: {
            "act": "assign",
            "text": "facts first",
            "tasks": [{"id": "facts", "to": "bob", "task": "old facts", "mode": "sync"}],
        },
        2: {
            "act": "assign",
            "text": "facts again",
            "tasks": [
                {"id": "facts", "to": "bob", "task": "new facts", "mode": "async"},
                {"id": "facts", "to": "alice", "task": "more facts", "mode": "async"},
            ],
            "wait_for": ["facts"],
        },
        3: {"act": "conclude", "text": "done"},
    }
    outcome, log, seen = await run(moves)
    assert outcome.task_results == {
        "facts": "bob did old facts",
        "t2": "bob did new facts",
        "t3": "alice did more facts",
    }
    assign = next(m for m in log if m.type is MessageType.ASSIGN_ASYNC)
    assert [t.id for t in assign.tasks] == ["t2", "t3"]
    assert assign.data["renamed"] == {"t2": "facts", "t3": "facts"}
    note = (
        "task id 'facts' is taken by an earlier task: this task is 't2'; "
        "task id 'facts' is taken by an earlier task: this task is 't3'; "
        "wait_for follows: facts -> t2, t3"
    )
    assert assign.data["note"] == note
    pause = next(m for m in log if m.type is MessageType.PAUSE)
    assert pause.wait_for == ["t2", "t3"]  # the new tasks, not the one that reported
    # the member reads the renaming in its history
    _, context = seen[-1]
    assert any(h.get("note") == note for h in context["history"])


def test_numbered_skips_ids_in_use_and_reserves_the_given_ones() -> None:
    taken = {"t1": Assignment(id="t1", to="a", task="x")}
    tasks, renamed = numbered(
        [
            Assignment(to="a", task="x"),
            Assignment(id="t2", to="a", task="y"),
            Assignment(id="t1", to="a", task="z"),
            Assignment(to="a", task="w"),
        ],
        taken,
    )
    assert [t.id for t in tasks] == ["t3", "t2", "t4", "t5"]
    assert renamed == {"t4": "t1"}


async def test_a_member_that_addresses_itself_is_told_and_the_selector_picks() -> None:
    moves: Moves = {
        1: {"act": "speak", "text": "I will go on", "to": "alice"},
        3: {"act": "conclude", "text": "done"},
    }
    outcome, log, seen = await run(moves)
    assert outcome.reason == "concluded"
    speeches = [m for m in log if m.type is MessageType.SPEAK]
    assert [(m.sender, m.to) for m in speeches] == [("alice", None), ("bob", None)]
    note = (
        "'to' ignored, no one addressed: 'alice' is the speaker itself, and a member "
        "cannot address itself; the members are alice, bob"
    )
    assert speeches[0].data == {"selected_by": "round_robin", "to_self": "alice", "note": note}
    task, context = seen[1]
    assert context["you"] == "bob"
    assert context["history"][-1]["note"] == note
    assert f"alice (speak): I will go on [team note: {note}]" in task
