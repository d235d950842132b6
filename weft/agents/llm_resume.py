"""What an ``LLMAgent`` saves when a tool asks a person, to go on from there on resume.

An agent whose tool asks (``ctx.ask``, a nested agent or team that asks)
stops ``needs_input``. Without a saved state, ``weft resume`` would call it
from its start: every model turn requested (and billed) again, every tool
call that had finished made again (a refund made twice). So the agent's
``needs_input`` result carries ``ActionResult.resume_state``: this module's
``SavedConversation`` as JSON. The engine journals it with the question and
hands it back on the resumed call (``ActionCall.resume_state``); the agent
then answers the tool calls that asked, keeps the replies of those that had
finished, and asks the model for its next turn.

A saved state is checked before it is used (``saved_conversation``): one
that does not fit this agent (another agent's, a newer format, tools
changed since it was saved, or its instructions, model, tool parameters or
output schema (``agent_setup``), answers that do not reach its calls) is
dropped with a warning on the ``weft.agents.llm`` logger and the agent
starts again from its beginning, as it did before states were saved. A
journal written before then has no state, and resumes that way too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weft.agents.openai_tools import ToolSet
from weft.protocols import ActionResult, ActionState, ErrorInfo

log = logging.getLogger("weft.agents.llm")

#: ``SavedConversation.kind``: tells an LLM agent's state from any other action's.
STATE_KIND: Final = "weft.llm_agent"


class SavedToolCall(BaseModel):
    """One tool call of the model turn the agent stopped in: finished, or asking."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The model's id of the tool call (``tool_call_id``).")
    name: str | None = Field(
        default=None, description="The tool's name as the model called it; None: not a function."
    )
    arguments: str = Field(default="{}", description="The arguments as the model sent them.")
    reply: dict[str, Any] | None = Field(
        default=None,
        description="The ``tool`` message that reports its result, when it finished: "
        "it is not called again.",
    )
    question: ErrorInfo | None = Field(
        default=None, description="What it asked, when it stopped for a person's answer."
    )
    given: int = Field(
        default=0, ge=0, description="How many answers it had been given when it asked."
    )
    state: dict[str, Any] | None = Field(
        default=None,
        description="The state it saved when it asked (a nested agent's), handed back to it.",
    )

    @property
    def asked(self) -> ActionResult | None:
        """Its ``needs_input`` result, rebuilt, when it asked; None when it finished."""
        if self.reply is not None or self.question is None:
            return None
        return ActionResult(
            call_id=self.id,
            state=ActionState.NEEDS_INPUT,
            error=self.question,
            resume_state=self.state,
        )


class SavedConversation(BaseModel):
    """An ``LLMAgent``'s conversation, stopped in a model turn whose tools asked a person."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["weft.llm_agent"] = Field(default=STATE_KIND, description="What saved it.")
    version: Literal[1] = Field(default=1, description="Format of this state.")
    agent: str = Field(description="The agent's name.")
    tools: list[str] = Field(description="The tools the agent offered, by action name.")
    setup: dict[str, str] = Field(
        description="What the conversation was made with (``agent_setup``): its model, "
        "digests of its instructions, tool parameters and output schema. A resume with "
        "another setup starts again from the beginning."
    )
    messages: list[dict[str, Any]] = Field(
        description="The messages so far, up to the assistant turn with the tool calls."
    )
    turn: int = Field(ge=0, description="The model turn (from 0) that made the tool calls.")
    repairs: int = Field(default=0, ge=0, description="Structured-output repairs used so far.")
    taken: int = Field(
        default=0,
        ge=0,
        description="Answers taken before the first tool call that asked (by earlier turns "
        "and the calls before it): that call's answers start there.",
    )
    calls: list[SavedToolCall] = Field(description="The turn's tool calls, in the model's order.")
    chain: list[str] = Field(
        default_factory=list,
        description="The agents the call went through, from the first to this one, when it "
        "was handed over (``weft.agents.handoffs``); a resume goes on in this one.",
    )
    preamble: int = Field(
        default=0,
        ge=0,
        description="How many of ``messages`` are the agent's own (instructions, examples): "
        "the conversation after them is what a handoff carries on.",
    )
    history: int = Field(
        default=0,
        ge=0,
        description="How many messages after the preamble came from the session "
        "(``weft.agents.sessions``): the call's own turn follows them.",
    )


#: What ``agent_setup`` names, in the words a warning uses.
_SETUP_WORDS: Final = {
    "model": "model",
    "instructions": "instructions",
    "tools": "tool parameters",
    "output": "output schema",
}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def agent_setup(
    model: str | None, instructions: str, toolset: ToolSet, output: dict[str, Any] | None
) -> dict[str, str]:
    """The setup a conversation is saved with and checked against on resume: the model's
    name, and digests of the instructions, of each tool's name and parameters as the
    model saw them, and of the output schema. A conversation made with other
    instructions, another model or tools that take other arguments is not carried on
    (a saved tool call may no longer fit its tool)."""
    tools = [
        {"name": t["function"]["name"], "parameters": t["function"].get("parameters")}
        for t in toolset.tools
    ]
    return {
        "model": model or "",
        "instructions": _digest(instructions),
        "tools": _digest(tools),
        "output": _digest(output),
    }


def saved_conversation(
    raw: dict[str, Any] | None,
    *,
    agent: str,
    tools: list[str],
    setup: dict[str, str],
    toolset: ToolSet,
    max_turns: int,
    answers: int,
) -> SavedConversation | None:
    """The state ``raw`` (``ActionCall.resume_state``) if it fits this agent, else None.

    None without a word when there is no state; None with a warning naming why
    when there is one that cannot be used: the agent then starts again from
    its beginning (the finished tool calls are made again).
    """
    if raw is None:
        return None
    why = _misfit(raw, agent, tools, setup, toolset, max_turns, answers)
    if isinstance(why, str):
        log.warning(
            "%s: the saved conversation cannot be resumed (%s); starting again from the "
            "beginning, so tool calls that had finished are made again",
            agent,
            why,
        )
        return None
    return why


def _misfit(
    raw: dict[str, Any],
    agent: str,
    tools: list[str],
    setup: dict[str, str],
    toolset: ToolSet,
    max_turns: int,
    answers: int,
) -> SavedConversation | str:
    """The state, or why it does not fit."""
    if raw.get("kind") != STATE_KIND:
        return f"it is not an LLM agent's state (kind {raw.get('kind')!r})"
    try:
        saved = SavedConversation.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "state"
        return f"{where}: {first['msg']}"
    if saved.agent != agent:
        return f"it was saved by agent '{saved.agent}'"
    if saved.tools != tools:
        return f"the agent's tools changed (saved: {', '.join(saved.tools) or 'none'})"
    changed = [words for key, words in _SETUP_WORDS.items() if saved.setup.get(key) != setup[key]]
    if changed:
        return f"the agent's {', '.join(changed)} changed since it was saved"
    if saved.turn >= max_turns:
        return f"it stopped in turn {saved.turn + 1}, past max_turns={max_turns}"
    if saved.taken > answers:
        return f"it took {saved.taken} answer(s) but the call has {answers}"
    if any(c.reply is None and c.question is None for c in saved.calls):
        return "a tool call has neither a reply nor a question"
    asking = [c for c in saved.calls if c.asked is not None]
    if not asking:
        return "none of its tool calls waits for an answer"
    for c in asking:
        if c.name is None or toolset.action_for(c.name) is None:
            return f"its tool call {c.id} names no tool the agent has ({c.name!r})"
    return saved
