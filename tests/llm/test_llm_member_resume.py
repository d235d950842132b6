"""An LLM agent that is a team's (or cluster's) member goes on where it stopped on resume.

The defect: a team's member call was made without the state the member saved
when it asked (``ActionResult.resume_state``), and the team's own
``needs_input`` result saved nothing, so a resumed team called its LLM
member from its start: the model was asked again from turn 1 and the
member's finished tool calls were made again (a refund twice). Now the
team's result nests the asking member's state, and the resumed team hands
it to the same member call. Real ``openai`` client, scripted local server.
"""

from __future__ import annotations

import json
from pathlib import Path

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.protocols import Action, ActionCall
from weft.protocols.teams import MemberReply
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.teams import Cluster, Team
from weft.runtime.teams.local_context import LocalContext
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls


def refund_tool(made: list[str]) -> Action:
    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?", choices=["yes", "no"]) != "yes":
            return f"refund of {order} declined"
        made.append(order)
        return f"refunded {order}"

    return refund


TWO_REFUNDS = tool_calls(
    ("refund", {"order": "A1", "amount": 50}), ("refund", {"order": "B2", "amount": 500})
)
CONCLUDE = text(json.dumps({"act": "conclude", "text": "Refunded A1 and B2."}))


def support(server: OpenAIServer, made: list[str]) -> LLMAgent:
    return LLMAgent(
        "support",
        model="m",
        base_url=server.base_url,
        tools=[refund_tool(made)],
        output_type=MemberReply,
    )


async def _resumed(wf: Workflow, journal: Journal, node: str) -> tuple[RunState, RunState]:
    first = await run_workflow(wf, journal=journal, tracer=False)
    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={node: "yes"}, tracer=False
    )
    return first.state, done.state


async def test_a_resumed_team_s_llm_member_makes_only_the_tool_call_that_asked(
    tmp_path: Path,
) -> None:
    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, CONCLUDE])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        wf = Workflow("desk")
        wf.node("team", Team("desk", [support(server, made)], max_turns=2), with_={"task": "help"})
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        saved = journal.resume_states(first.run_id)["team"]
        assert saved["kind"] == "weft.team_member" and saved["member"] == "support"
        assert saved["state"]["kind"] == "weft.llm_agent"  # the member's, nested
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"team": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["team"].error
    assert done.nodes["team"].output["conclusion"] == "Refunded A1 and B2."
    assert made == ["A1", "B2"]  # A1 once
    assert len(model.requests) == 2  # turn 1 once, then the turn after the answer


async def test_a_nested_team_s_llm_member_goes_on_inside_the_outer_team(tmp_path: Path) -> None:
    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, CONCLUDE])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        inner = Team("inner", [support(server, made)], max_turns=2)
        wf = Workflow("desk")
        wf.node("outer", Team("outer", [inner], max_turns=1), with_={"task": "help"})
        states = await _resumed(wf, journal, "outer")
    assert states == (RunState.NEEDS_INPUT, RunState.SUCCEEDED)
    assert made == ["A1", "B2"]
    assert len(model.requests) == 2


async def test_a_resumed_cluster_s_llm_member_makes_only_the_tool_call_that_asked(
    tmp_path: Path,
) -> None:
    made: list[str] = []

    @tool
    def editor(task: str, context: dict[str, object]) -> str:
        return "edited"

    model = ScriptedModel([TWO_REFUNDS, CONCLUDE])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        cluster = Cluster("desk", [support(server, made), editor], rounds=0, synthesizer=editor)
        wf = Workflow("desk")
        wf.node("c", cluster, with_={"task": "help", "subtasks": ["refund", "edit"]})
        states = await _resumed(wf, journal, "c")
    assert states == (RunState.NEEDS_INPUT, RunState.SUCCEEDED)
    assert made == ["A1", "B2"]
    assert len(model.requests) == 2


async def test_a_team_state_whose_member_call_differs_is_not_used() -> None:
    """A member call with other arguments than the one that saved the state (the goal
    changed) starts from its beginning: the state of another call is never applied."""
    made: list[str] = []
    model = ScriptedModel([TWO_REFUNDS, TWO_REFUNDS, CONCLUDE])
    async with OpenAIServer(model) as server:
        team = Team("desk", [support(server, made)], max_turns=2)
        tools = {a.spec.name: a for a in team.bundled_actions}
        call = ActionCall(action="desk", arguments={"task": "help"})
        first = await team.invoke(call, LocalContext(call, tools))
        assert first.resume_state is not None
        again = ActionCall(
            action="desk",
            arguments={"task": "help someone else"},
            answers=("yes",),
            resume_state=first.resume_state,
        )
        done = await team.invoke(again, LocalContext(again, tools))
    assert done.ok, done.error
    assert made == ["A1", "A1", "B2"]  # replayed from its start
    assert len(model.requests) == 3


async def test_a_team_in_a_workflow_brings_its_llm_member_s_tools(tmp_path: Path) -> None:
    """A member's tool objects are registered with the team, as with a lone agent: before,
    the member found no ``refund`` and was lost (``ToolNotAvailable``)."""
    made: list[str] = []
    model = ScriptedModel([tool_calls(("refund", {"order": "A1", "amount": 50})), CONCLUDE])
    async with OpenAIServer(model) as server:
        wf = Workflow("desk")
        wf.node("team", Team("desk", [support(server, made)], max_turns=1), with_={"task": "help"})
        done = await run_workflow(wf, tracer=False)
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.nodes["team"].output["conclusion"] == "Refunded A1 and B2."
    assert made == ["A1"]
