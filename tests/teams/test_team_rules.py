"""Turn-taking: one speaker per turn, the addressed member next, the max-turns guard, selectors."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.teams.scenarios import check_legal_states, check_one_speaker_per_turn, run_in_process
from tests.teams.scripted import Script, echo, members
from weft.agents import LLMAgent, tool
from weft.protocols import ActionContext, ActionFailed
from weft.protocols.teams import MemberReply, SpeakerChoice, TeamState
from weft.runtime.teams import Team
from weft.runtime.tracing.spans import MemoryTracer
from weft.testing import OpenAIServer, ScriptedModel, json_output


async def test_members_take_turns_round_robin_until_max_turns() -> None:
    script = Script({})
    tracer = MemoryTracer()
    team = Team("rr", members(script, "a", "b", "c"), max_turns=7, tracer=tracer)
    outcome = await team.run("chat")
    assert outcome.reason == "max_turns"
    assert outcome.turns == 7
    assert [n for _, n in script.speakers] == ["a", "b", "c", "a", "b", "c", "a"]
    assert outcome.states[-1] is TeamState.CONCLUSION


async def test_the_addressed_member_speaks_next() -> None:
    script = Script(
        {
            1: {"act": "speak", "text": "c, your view?", "to": "c"},
            2: {"act": "speak", "text": "a again", "to": "a"},
            3: {"act": "conclude", "text": "done"},
        }
    )
    outcome = await Team("addr", members(script, "a", "b", "c")).run("chat")
    assert [n for _, n in script.speakers] == ["a", "c", "a"]
    assert (outcome.conclusion, outcome.reason, outcome.turns) == ("done", "concluded", 3)


async def test_every_message_is_a_team_span_with_its_transition() -> None:
    script = Script({2: {"act": "propose", "text": "ship it"}})
    tracer = MemoryTracer()
    outcome = await Team("traced", members(script, "a", "b"), tracer=tracer).run("decide")
    spans = [s for s in tracer.spans if s.kind == "team"]
    assert len(spans) == outcome.messages
    moves = [(s.attributes["weft.team.from_state"], s.attributes["weft.team.state"]) for s in spans]
    assert moves == [
        ("TEAMUP", "DISCUSSION"),  # team_up
        ("DISCUSSION", "DISCUSSION"),  # turn 1, a speaks
        ("DISCUSSION", "VOTE"),  # turn 2, b proposes
        ("VOTE", "VOTE"),  # turn 3, a votes yes
        ("VOTE", "VOTE"),  # the decision
        ("VOTE", "CONCLUSION"),
    ]
    # each member call hangs under the span of the message it produced
    turn_ids = {s.span_id for s in spans if s.attributes["weft.team.turn"] is not None}
    calls = [s for s in tracer.spans if s.kind == "call"]
    assert len(calls) == 3 and {c.parent_id for c in calls} == turn_ids


async def test_a_chat_model_picks_the_next_speaker_and_the_choice_is_traced() -> None:
    script = Script({3: {"act": "conclude", "text": "agreed"}})
    model = ScriptedModel(
        [
            json_output({"name": "c", "reason": "c knows"}),
            json_output({"name": "nobody"}),  # not a member: round robin after c
            json_output({"name": "b", "reason": "b decides"}),
        ]
    )
    tracer = MemoryTracer()
    async with OpenAIServer(model) as server:
        chooser = LLMAgent(
            "moderator", base_url=server.base_url, api_key="k", output_type=SpeakerChoice
        )
        team = Team("mod", members(script, "a", "b", "c"), selector=chooser, tracer=tracer)
        outcome = await team.run("plan")
    model.assert_complete()
    assert [n for _, n in script.speakers] == ["c", "a", "b"]
    assert outcome.conclusion == "agreed"
    choices = [s for s in tracer.spans if s.name.startswith("select speaker")]
    assert [s.attributes["weft.team.selected_by"] for s in choices] == [
        "llm",
        "llm_fallback",
        "llm",
    ]
    assert len([s for s in tracer.spans if s.kind == "llm"]) == 3


async def test_an_llm_agent_with_structured_output_is_a_member() -> None:
    model = ScriptedModel(
        [
            json_output({"act": "propose", "text": "use SQLite"}),
        ]
    )
    script = Script({})
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "architect", base_url=server.base_url, api_key="k", output_type=MemberReply
        )
        outcome = await Team("arch", [agent, *members(script, "dev")]).run("pick a database")
    model.assert_complete()
    assert model.requests[0].messages[-1]["content"].startswith("You are architect")
    assert (outcome.reason, outcome.conclusion) == ("vote", "use SQLite")


async def test_an_unknown_pause_task_is_ignored_and_a_stray_vote_is_speech() -> None:
    def reply(context: dict[str, Any]) -> Any:
        turn = context["turn"]
        if turn == 1:
            return {"act": "vote", "vote": "yes", "text": "early vote"}
        if turn == 2:
            return {"act": "pause", "wait_for": ["nope"]}
        return {"act": "conclude", "text": "ok"}

    tracer = MemoryTracer()
    outcome = await Team("odd", [echo("solo", reply)], tracer=tracer).run("x")
    assert outcome.turns == 3 and outcome.conclusion == "ok"
    kinds = [s.attributes["weft.team.message"] for s in tracer.spans if s.kind == "team"]
    assert kinds == ["team_up", "speak", "pause", "trigger", "conclusion"]


async def test_a_long_conversation_keeps_one_speaker_per_turn_and_legal_states() -> None:
    script = Script(
        {
            5: {"act": "propose", "text": "p"},
            6: {"act": "vote", "vote": "no"},
            7: {"act": "vote", "vote": "no"},
        }
    )
    team = Team("long", members(script, "a", "b", "c"), max_turns=12)
    outcome, log = await run_in_process(team, "talk")
    assert outcome.reason == "max_turns" and outcome.turns == 12
    assert len(script.speakers) == 12
    assert outcome.states == [
        TeamState.TEAMUP,
        TeamState.DISCUSSION,
        TeamState.VOTE,
        TeamState.DISCUSSION,
        TeamState.CONCLUSION,
    ]
    check_legal_states(log)
    check_one_speaker_per_turn(log)
    decision = next(m for m in log if m.type.value == "decision")
    assert decision.data == {"accepted": False, "yes": 1, "no": 2, "proposal": log[5].id}


async def test_a_task_reports_progress_on_the_team_topic_before_its_result() -> None:
    @tool
    async def worker(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        if context["mode"] == "task":
            ctx.progress("half way", 0.5)
            return "built"
        if context["turn"] == 1:
            return {"act": "assign", "tasks": [{"id": "b", "to": "worker", "task": "build"}]}
        return {"act": "conclude", "text": "shipped"}

    outcome, log = await run_in_process(Team("progress", [worker]), "ship")
    assert outcome.task_results == {"b": "built"}
    kinds = [(m.type.value, m.task_id) for m in log if m.task_id]
    assert kinds == [("progress", "b"), ("task_result", "b")]
    progress = next(m for m in log if m.type.value == "progress")
    assert (progress.text, progress.data["fraction"]) == ("half way", 0.5)


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"max_turns": 0}, "team 'bad': max_turns must be an integer >= 1, not 0"),
        ({"window": -2}, "team 'bad': window must be an integer >= 1, not -2"),
        ({"team_up_depth": 0}, "team 'bad': team_up_depth must be an integer >= 1, not 0"),
        ({"turn_timeout": 0}, "team 'bad': turn_timeout must be a number of seconds > 0"),
        ({"selector": "roundrobin"}, "(did you mean 'round_robin'?)"),
        ({"selector": "llm:"}, "speaker rule 'llm:' names no action"),
        ({"selector": "manager"}, "unknown speaker rule 'manager' (did you mean 'llm:manager'?)"),
        ({"selector": "llm"}, "(did you mean 'llm:<action>', naming the action that picks?)"),
    ],
)
def test_a_bad_setting_is_refused_when_the_team_is_made(
    settings: dict[str, Any], message: str
) -> None:
    script = Script({})
    with pytest.raises(ValueError, match=re.escape(message)):
        Team("bad", members(script, "a"), **settings)


async def test_an_unknown_llm_selector_fails_before_anyone_speaks() -> None:
    script = Script({})
    team = Team("t", members(script, "a", "b"), selector="llm:moderatr")
    with pytest.raises(ActionFailed, match="speaker chooser 'moderatr'"):
        await team.run("chat")
    assert script.speakers == []


async def test_a_selector_that_picks_a_stranger_fails_the_team_naming_it() -> None:
    class Stranger:
        async def choose(self, selection: Any, caller: Any) -> tuple[str, str]:
            return "zed", "mine"

    script = Script({})
    team = Team("t", members(script, "a", "b"), selector=Stranger())
    with pytest.raises(ActionFailed, match=r"chose 'zed', which is not a member \(a, b\)"):
        await team.run("chat")
