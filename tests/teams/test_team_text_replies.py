"""Members and speaker choosers that answer in text: a YAML ``llm:`` agent has no structured
output, so it follows the team's reply format by writing the JSON object as its text.

Read as prose, such a reply was a ``speak`` whose text was JSON: the team never
concluded (it ran to ``max_turns`` and gave the raw JSON as its conclusion), and
an ``llm:`` moderator's choice always fell back to round robin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.teams.scenarios import run_in_process
from tests.teams.scripted import echo
from weft.protocols.teams import MessageType
from weft.runtime.engine.runner import run_workflow
from weft.runtime.teams import Team
from weft.runtime.teams.member import reply_of, task_output
from weft.runtime.teams.speakers import LLMSelector
from weft.testing import FunctionModel, ModelRequest, OpenAIServer


def as_text(reply: dict[str, Any], *, fenced: bool = False) -> str:
    body = json.dumps(reply)
    return f"```json\n{body}\n```" if fenced else body


async def test_a_member_reply_written_as_json_text_is_that_move() -> None:
    def researcher(context: dict[str, Any]) -> str:
        return as_text({"act": "speak", "text": "three facts", "to": "editor"})

    def writer(context: dict[str, Any]) -> str:
        return "I have nothing to add."

    def editor(context: dict[str, Any]) -> str:
        return as_text({"act": "conclude", "text": "the final post"}, fenced=True)

    team = Team(
        "crew", [echo("researcher", researcher), echo("writer", writer), echo("editor", editor)]
    )
    outcome, log = await run_in_process(team, "write a post")
    assert outcome.reason == "concluded"
    assert outcome.conclusion == "the final post"
    # the researcher's 'to' was followed: the editor spoke next, not the writer
    assert [(m.turn, m.sender) for m in log if m.turn is not None] == [
        (1, "researcher"),
        (2, "editor"),
    ]
    assert log[1].type is MessageType.SPEAK and log[1].text == "three facts"


def test_text_that_is_not_one_json_object_with_an_act_stays_a_speak() -> None:
    for text in (
        'I would answer {"act": "conclude"} but not yet',
        '{"act": "conclude", "text": "cut off',
        '{"text": "no act here"}',
        "[1, 2]",
    ):
        reply = reply_of(text)
        assert (reply.act, reply.text) == ("speak", text)


def test_a_bad_value_in_a_field_the_move_does_not_use_is_ignored() -> None:
    """A model without structured output copies the format's placeholders into fields
    its move does not read; the move still counts (``MemberReply``: they are ignored)."""
    copied = {
        "to": None,
        "vote": "yes|no|abstain or null",
        "tasks": [{"id": "t1", "to": "member", "task": "...", "mode": "sync|async"}],
        "wait_for": ["task ids"],
    }
    reply = reply_of(as_text({"act": "conclude", "text": "the post", **copied}))
    assert (reply.act, reply.text, reply.vote, reply.tasks) == ("conclude", "the post", None, [])
    vote = reply_of({"act": "vote", "vote": "yes", "tasks": copied["tasks"]})
    assert (vote.act, vote.vote) == ("vote", "yes")


def test_a_bad_value_in_a_field_the_move_uses_is_still_a_malformed_speak() -> None:
    reply = reply_of({"act": "vote", "vote": "yes|no|abstain or null"})
    assert reply.act == "speak" and reply.text.startswith("(malformed reply: ")


def test_a_task_answered_with_a_json_member_reply_as_text_gives_its_text() -> None:
    assert task_output(as_text({"act": "speak", "text": "the outline"})) == "the outline"
    assert task_output('{"outline": [1, 2]}') == '{"outline": [1, 2]}'


async def test_a_speaker_chooser_that_writes_its_choice_as_json_text_is_followed() -> None:
    def chooser(context: dict[str, Any]) -> str:
        return as_text({"name": "c", "reason": "c knows"}, fenced=True)

    def conclude(context: dict[str, Any]) -> dict[str, Any]:
        return {"act": "conclude", "text": f"{context['you']} concluded"}

    team = Team(
        "pick",
        [echo(n, conclude) for n in ("a", "b", "c")],
        selector=LLMSelector(echo("moderator", chooser)),
    )
    outcome, _ = await run_in_process(team, "go")
    assert outcome.conclusion == "c concluded"


CREW = """\
name: crew
actions:
  team: {{python: "weft.runtime.teams:team_action"}}
  manager:
    llm: {{instructions: "You manage the crew.", base_url: "{url}"}}
  researcher:
    llm: {{instructions: "You are the researcher.", base_url: "{url}"}}
  writer:
    llm: {{instructions: "You are the writer.", base_url: "{url}"}}
  editor:
    llm: {{instructions: "You are the editor.", base_url: "{url}"}}
nodes:
  crew:
    action: team
    with:
      task: "Write a post about agents"
      members: [editor, writer, researcher]
      selector: "llm:manager"
      max_turns: 6
"""


def crew_model(request: ModelRequest) -> str:
    """The manager picks researcher, writer, editor in turn; each answers as JSON text."""
    said = request.last_user_text.split("Conversation so far:")[-1]
    if request.system == "You manage the crew.":
        name = next((n for n in ("researcher", "writer") if f"- {n} (" not in said), "editor")
        return json.dumps({"name": name, "reason": "next in line"})
    if request.system == "You are the editor.":
        return as_text({"act": "conclude", "text": "Agents: the edited post."}, fenced=True)
    return json.dumps({"act": "speak", "text": f"{request.system} spoke"})


async def test_a_yaml_team_of_llm_agents_concludes_in_the_order_its_llm_moderator_picks(
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
    assert (outcome["reason"], outcome["conclusion"]) == ("concluded", "Agents: the edited post.")
    spoke = [r.system for r in model.requests if r.system != "You manage the crew."]
    assert spoke == ["You are the researcher.", "You are the writer.", "You are the editor."]
