"""Handoffs of an ``LLMAgent``: the model hands the conversation to another agent.

``LLMAgent("triage", handoffs=[billing, refunds])`` offers the model one
function tool per target, ``transfer_to_<name>``, described with the
target's description and taking an optional ``reason``. When the model
calls one, the call goes on in the target (``weft.agents.llm_chain``):

- **an LLMAgent target** takes over the conversation: the user's input and
  every turn so far, the transfer call answered (``{"transferred_to": ...}``),
  under the target's own instructions, tools, handoffs and output type. Its
  answer is the call's answer, and the result's ``agent`` names it.
- **any other action** (a tool, a workflow, a remote agent) is called as a
  normal action and its output is the answer. An action whose input takes a
  ``task`` (an agent's ``{task, context}``) gets the arguments the first
  agent was called with; any other gets the arguments the model wrote,
  since its transfer tool takes the action's own parameters.

Other tool calls of the reply that transfers are not made: each is answered
"not made: the conversation was transferred", and only the first transfer
counts. A chain is bounded by the first agent's ``max_handoffs``; going past
it fails the call ``MaxHandoffsExceeded`` naming the chain. Every handoff is a
``handoff`` span (from, to, reason) under the call's span.

A target given by name (``handoffs=["billing"]``, or YAML's ``handoffs:``) is
bound to its object when a workflow file is loaded (``bind_handoffs``); an
unbound name is called as an action by name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from weft.agents.chat_spans import record_span
from weft.agents.openai_tools import function_parameters, sanitize_tool_name
from weft.protocols import Action, ActionSpec, ErrorInfo

__all__ = ["HandedOff", "Handoff", "Transfer", "handoff_span", "task_shaped"]

#: Parameters of a transfer to an agent: why, optionally (shown in the trace).
REASON_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "description": "Why the conversation is handed over."}
    },
    "additionalProperties": False,
}
#: ``HandedOff.kind``: the state of a call stopped in an action handed to.
HANDED_OFF_KIND: Final = "weft.llm_handoff"


def task_shaped(spec: ActionSpec) -> bool:
    """Whether an action takes an agent's input: a ``task``, and nothing else required."""
    schema = spec.input_schema or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    return "task" in properties and required <= {"task", "context"}


@dataclass
class Handoff:
    """One target the model may transfer to: an object, or a name bound later."""

    target: Action | str

    @property
    def name(self) -> str:
        return self.target if isinstance(self.target, str) else self.target.spec.name

    @property
    def is_agent(self) -> bool:
        """Whether the target goes on with the conversation (an ``LLMAgent``)."""
        return hasattr(self.target, "run_part")

    def tool(self, spec: ActionSpec | None) -> dict[str, Any]:
        """The ``transfer_to_<name>`` function tool; ``spec``: the target's, when known."""
        description = ""
        if spec is not None:
            description = spec.description or (spec.card.description if spec.card else "")
        text = f"Hand the conversation over to '{self.name}'" + (
            f": {description}" if description else "."
        )
        parameters = REASON_PARAMETERS
        if spec is not None and not self.is_agent and not task_shaped(spec):
            parameters = function_parameters(spec.input_schema)
            text += " Its answer is final; give its arguments."
        return {
            "type": "function",
            "function": {
                "name": sanitize_tool_name(f"transfer_to_{self.name}"),
                "description": text[:1024],
                "parameters": parameters,
            },
        }


def handoffs_of(entries: Sequence[Any]) -> list[Handoff]:
    """``handoffs=`` as targets: names, actions (``LLMAgent`` or any), else ``TypeError``."""
    found: list[Handoff] = []
    for entry in entries:
        if not isinstance(entry, str) and not (
            hasattr(entry, "spec") and callable(getattr(entry, "invoke", None))
        ):
            raise TypeError(f"handoffs: {entry!r} is neither an action nor an action's name")
        found.append(Handoff(entry))
    names = [h.name for h in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"handoffs: '{twice[0]}' is given twice")
    return found


def bind(handoffs: list[Handoff], lookup: Callable[[str], Action | None]) -> None:
    """Replace the targets given by name with the actions ``lookup`` finds (others stay)."""
    for handoff in handoffs:
        if isinstance(handoff.target, str):
            found = lookup(handoff.target)
            if found is not None:
                handoff.target = found


@dataclass
class Transfer:
    """What a model turn that called a ``transfer_to_...`` tool asks for."""

    handoff: Handoff
    reason: str | None
    arguments: dict[str, Any]
    #: The conversation to carry on: the user's input and the turns, the transfer answered.
    conversation: list[dict[str, Any]] = field(default_factory=list)
    #: Answers to questions the call had taken when it transferred (``Answering.taken``).
    taken: int = 0


def transfer_of(
    calls: Sequence[Any], wire: dict[str, Handoff]
) -> tuple[Transfer, list[dict[str, Any]]] | None:
    """The first transfer among a reply's tool ``calls`` and a ``tool`` reply for every call
    (the transfer answered, the others not made); None when no call transfers."""
    chosen: tuple[Any, Handoff] | None = None
    for call in calls:
        if call.name in wire:
            chosen = (call, wire[call.name])
            break
    if chosen is None:
        return None
    taken, handoff = chosen
    try:
        arguments = json.loads(taken.arguments or "{}", strict=False)  # as tool arguments
    except json.JSONDecodeError:
        arguments = {}
    arguments = arguments if isinstance(arguments, dict) else {}
    reason = arguments.get("reason")
    replies = []
    for call in calls:
        if call is taken:
            content = json.dumps({"transferred_to": handoff.name})
        else:
            content = json.dumps(
                {
                    "error": {
                        "type": "NotMade",
                        "message": f"not made: the conversation was transferred to "
                        f"'{handoff.name}'",
                    }
                }
            )
        replies.append({"role": "tool", "tool_call_id": call.id, "content": content})
    transfer = Transfer(handoff, reason if isinstance(reason, str) else None, arguments)
    return transfer, replies


def handoff_span(ctx: Any, source: str, target: str, reason: str | None, hop: int) -> None:
    """Record a ``handoff`` span (``source`` to ``target``) under the call's span."""
    now = time.time()
    record_span(
        ctx,
        {
            "name": f"handoff {source} -> {target}",
            "kind": "handoff",
            "start": now,
            "end": now,
            "status": "ok",
            "agent": source,
            "attributes": {
                "weft.handoff.from": source,
                "weft.handoff.to": target,
                "weft.handoff.reason": reason,
                "weft.handoff.number": hop,
            },
        },
    )
    progress = getattr(ctx, "progress", None)
    if callable(progress):
        progress(f"{source} handed off to {target}", handoff_from=source, handoff_to=target)


class HandedOff(BaseModel):
    """The saved state of a call stopped in an action (not an LLM agent) handed to."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["weft.llm_handoff"] = Field(default=HANDED_OFF_KIND, description="What saved it.")
    chain: list[str] = Field(description="The agents from the first to the one that handed over.")
    target: str = Field(description="The action handed to, which asked.")
    arguments: dict[str, Any] = Field(description="The arguments it was called with.")
    taken: int = Field(default=0, ge=0, description="Answers taken before it was called.")
    given: int = Field(default=0, ge=0, description="Answers it had been given when it asked.")
    question: ErrorInfo | None = Field(default=None, description="What it asked.")
    state: dict[str, Any] | None = Field(default=None, description="The state it saved.")
    conversation: list[dict[str, Any]] = Field(
        default_factory=list,
        description="This call's conversation up to the transfer (the session's earlier "
        "turns left out): the turn kept in the session once the action has answered.",
    )
