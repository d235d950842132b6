"""examples/team runs offline: an IoA team with sync and async assignment and a pause-and-trigger.

The members are real ``LLMAgent``s on the real ``openai`` client against
``weft.testing.OpenAIServer`` serving the example's scripted answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.examples.example_modules import example_run
from weft.protocols.teams import MessageType, TeamState
from weft.runtime.teams import is_legal


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    with example_run("team") as module:
        yield module


async def test_the_launch_team_assigns_pauses_votes_and_concludes(example: ModuleType) -> None:
    lines: list[str] = []
    outcome, transcript = await example.run_offline("teams", show=lines.append)
    assert outcome.reason == "vote"
    assert outcome.conclusion.startswith("weft now has teams:")
    kinds = [m.type for m in transcript]
    assert MessageType.ASSIGN_SYNC in kinds
    assign = transcript[kinds.index(MessageType.ASSIGN_SYNC)]
    assert {(t.id, t.mode) for t in assign.tasks} == {("facts", "async"), ("outline", "sync")}
    pause, trigger = kinds.index(MessageType.PAUSE), kinds.index(MessageType.TRIGGER)
    facts = next(i for i, m in enumerate(transcript) if m.task_id == "facts")
    outline = next(i for i, m in enumerate(transcript) if m.task_id == "outline")
    assert outline < kinds.index(MessageType.SPEAK)  # the sync task reported before turn 2
    assert pause < facts < trigger  # the pause waited for the async task
    assert is_legal([TeamState.TEAMUP, *(m.state for m in transcript)])
    assert outcome.task_results["facts"].count("\n") == 2
    assert len(lines) == len(transcript) == outcome.messages


def test_a_lost_member_is_shown_with_its_error(example: ModuleType) -> None:
    """Against a real tiny model the lead failed its first turn: the transcript showed an
    empty conclusion, and nothing said which member was lost or why."""
    from weft.protocols.teams import TeamMessage

    message = TeamMessage(
        team="launch-1",
        type=MessageType.CONCLUSION,
        sender="launch",
        state=TeamState.CONCLUSION,
        data={
            "lost": "lead",
            "error": {"type": "Timeout", "message": "lead: no answer within 60 s"},
            "reason": "member_lost",
        },
    )
    shown = example.line(message)
    assert "lead lost (Timeout: lead: no answer within 60 s)" in shown
