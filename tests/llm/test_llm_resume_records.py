"""How an LLM agent's saved conversation is recorded: never masked, never shown to listeners.

Two defects. The journal masks secrets, and a conversation saved with a
secret in it (a pending tool call's ``password``, a model turn that called a
tool with a password) came back on resume with ``[REDACTED]`` in its place:
the tool was called again with the mask, the model was shown a conversation
it never had. Now such a state is not kept: the agent starts again from its
beginning with the real values (a warning says so). And the whole saved
conversation went to every run listener with the ``node_finished`` event
(the terminal display, run events on the bus); it is now the journal's
alone. Real ``openai`` client, scripted local server.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.protocols import RunEvent
from weft.runtime import Journal, resume_run, run_workflow
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls

PIN = "7731-kestrel-0098"


def requests_text(model: ScriptedModel) -> str:
    return json.dumps([r.messages for r in model.requests])


async def test_a_pending_tool_call_with_a_secret_argument_is_made_again_with_the_real_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pins: list[str] = []

    @tool
    def transfer(account: str, amount: int, password: str, ctx: ActionContext) -> str:
        """Move money; a person approves transfers over 100."""
        pins.append(password)
        if amount > 100 and ctx.ask(f"Transfer {amount} to {account}?") != "yes":
            return "declined"
        return f"sent {amount} to {account}"

    turn = tool_calls(("transfer", {"account": "ann", "amount": 500, "password": PIN}))
    model = ScriptedModel([turn, turn, text("Sent.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("bank", model="m", base_url=server.base_url, tools=[transfer])
        wf = Workflow("bank")
        wf.node("agent", agent, with_={"task": "Send ann 500."})
        with caplog.at_level(logging.WARNING, logger="weft.engine"):
            first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        assert journal.resume_states(first.run_id) == {}  # not kept: it holds the password
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert set(pins) == {PIN}  # never "[REDACTED]"
    assert "[REDACTED]" not in requests_text(model)
    warned = [r.getMessage() for r in caplog.records if r.name == "weft.engine"]
    assert len(warned) == 1 and "agent: its saved state holds a secret" in warned[0]


async def test_a_model_turn_that_called_a_tool_with_a_password_is_not_shown_masked(
    tmp_path: Path,
) -> None:
    """The finished ``login`` call's password is in the saved messages: the resumed model
    would have been shown ``[REDACTED]`` in its own earlier turn."""
    made: list[str] = []

    @tool
    def login(user: str, password: str) -> str:
        """Log in."""
        return f"{user} logged in"

    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?") != "yes":
            return "declined"
        made.append(order)
        return f"refunded {order}"

    turn = tool_calls(
        ("login", {"user": "ann", "password": PIN}), ("refund", {"order": "B2", "amount": 500})
    )
    model = ScriptedModel([turn, turn, text("Done.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("desk", model="m", base_url=server.base_url, tools=[login, refund])
        wf = Workflow("desk")
        wf.node("agent", agent, with_={"task": "Log in and refund B2."})
        first = await run_workflow(wf, journal=journal, tracer=False)
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["agent"].error
    assert made == ["B2"]
    assert "[REDACTED]" not in requests_text(model)
    assert PIN in json.dumps(model.requests[-1].messages)  # the model's own turn, as it was


async def test_a_state_without_secrets_is_still_kept(tmp_path: Path) -> None:
    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?") != "yes":
            return "declined"
        return f"refunded {order}"

    model = ScriptedModel([tool_calls(("refund", {"order": "B2", "amount": 500}))])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("desk", model="m", base_url=server.base_url, tools=[refund])
        wf = Workflow("desk")
        wf.node("agent", agent, with_={"task": "Refund B2."})
        first = await run_workflow(wf, journal=journal, tracer=False)
    assert journal.resume_states(first.run_id)["agent"]["kind"] == "weft.llm_agent"


async def test_run_listeners_do_not_get_the_saved_conversation(tmp_path: Path) -> None:
    events: list[RunEvent] = []

    @tool
    def refund(order: str, amount: int, ctx: ActionContext) -> str:
        """Refund an order; a person approves refunds over 100."""
        if amount > 100 and ctx.ask(f"Refund {amount} on {order}?") != "yes":
            return "declined"
        return f"refunded {order}"

    model = ScriptedModel([tool_calls(("refund", {"order": "B2", "amount": 500}))])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("desk", model="m", base_url=server.base_url, tools=[refund])
        wf = Workflow("desk")
        wf.node("agent", agent, with_={"task": "Refund B2."})
        first = await run_workflow(wf, journal=journal, tracer=False, listeners=[events.append])
    assert first.state is RunState.NEEDS_INPUT
    finished = [e for e in events if e.kind.value == "node_finished" and e.node == "agent"]
    assert finished and finished[-1].state == "needs_input"
    assert all("resume_state" not in e.data for e in events)
    assert "weft.llm_agent" not in json.dumps([e.model_dump(mode="json") for e in events])
    assert "agent" in journal.resume_states(first.run_id)  # the journal keeps it
