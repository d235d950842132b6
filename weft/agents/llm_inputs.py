"""What an ``LLMAgent`` is given: its input (the task, the conversation id), its tools.

Kept apart from ``weft.agents.llm`` so that the agent's module holds its loop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from weft.agents.examples import ExampleSource
from weft.agents.langgraph_action import from_langgraph
from weft.agents.openai_tools import ToolSet, sanitize_tool_name
from weft.agents.sessions import SESSION_ID_PROPERTY
from weft.agents.tool import tool as make_tool
from weft.protocols import Action, ActionCall, DefinitionError, name_apart
from weft.protocols.hints import did_you_mean
from weft.protocols.langgraph_objects import (
    compile_it_first,
    is_langgraph_builder,
    is_langgraph_graph,
)

#: Input schema of an agent unless it declares its own: a task and optional context.
TASK_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {"type": "string", "description": "What to do, in plain language."},
        "context": {
            "description": "Material to work from: earlier results, documents, data.",
        },
    },
    "required": ["task"],
    "additionalProperties": False,
}


def render_task(arguments: Mapping[str, Any]) -> str:
    """The user message for ``{task, context?}`` arguments."""
    task = str(arguments.get("task", ""))
    context = arguments.get("context")
    if context in (None, "", {}, []):
        return task
    shown = context if isinstance(context, str) else json.dumps(context, indent=2, default=str)
    return f"{task}\n\nContext:\n{shown}"


def input_schema_with_session(schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    """``schema`` taking a ``conversation_id`` too (required when the store names none)."""
    properties = {**schema.get("properties", {}), "conversation_id": SESSION_ID_PROPERTY}
    needed = list(schema.get("required", [])) + (["conversation_id"] if required else [])
    return {**schema, "properties": properties, "required": needed}


def check_task_arguments(arguments: Mapping[str, Any], *, session: bool = False) -> str | None:
    """What is wrong with ``{task, context?}`` arguments (and ``conversation_id``), or None."""
    if not isinstance(arguments.get("task"), str) or not arguments["task"].strip():
        return "argument 'task' is required and must be a non-empty string"
    allowed = {"task", "context", "conversation_id"} if session else {"task", "context"}
    extra = sorted(set(arguments) - allowed)
    if extra:
        shown = ", ".join(sorted(allowed, key=["task", "context", "conversation_id"].index))
        return f"argument '{extra[0]}' is not a parameter (parameters: {shown})"
    conversation_id = arguments.get("conversation_id")
    if conversation_id is not None and (
        not isinstance(conversation_id, str) or not conversation_id
    ):
        return "argument 'conversation_id' must be a non-empty string"
    return None


def split_tools(tools: Sequence[Any]) -> tuple[list[str], list[Action]]:
    """``(names offered, actions bundled)`` from ``tools``: names, actions or functions.

    A name is looked up at call time; an action is offered under its spec's
    name and bundled; a plain function becomes a tool (``@tool``'s defaults)
    first. Anything else is a ``TypeError`` naming the entry.
    """
    names: list[str] = []
    bundled: list[Action] = []
    by_name: dict[str, Action] = {}
    for entry in tools:
        if isinstance(entry, str):
            names.append(entry)
            continue
        if hasattr(entry, "spec") and callable(getattr(entry, "invoke", None)):
            action: Action = entry
        elif is_langgraph_graph(entry):
            action = from_langgraph(entry)
        elif is_langgraph_builder(entry):
            raise TypeError(f"tools: {compile_it_first(entry)}")
        elif callable(entry) and not isinstance(entry, type):
            action = make_tool(entry)
        else:
            raise TypeError(
                f"tools: {entry!r} is not an action, a function or an action's name "
                "(a workflow is given by name: register it with the run's actions)"
            )
        name = action.spec.name
        seen = by_name.setdefault(name, action)
        if seen is not action and not _same_function(seen, action):
            # the model could call only one of them: refused, never one dropped unsaid
            raise DefinitionError.single(f"tools: {same_name(name)}")
        names.append(name)
        bundled.append(action)
    return names, bundled


def _same_function(first: Action, second: Action) -> bool:
    """Whether two tools were made from one function (``obj.method`` is a new object at
    each access, and equal to the others)."""
    fn = getattr(first, "fn", None)
    return fn is not None and fn == getattr(second, "fn", None)


def same_name(name: str) -> str:
    """Why two different tools may not share ``name`` (the model calls tools by name)."""
    return f"two different tools are named '{name}': {name_apart(name)}"


def is_source(examples: object) -> bool:
    """Whether ``examples`` is a source of past steps rather than a list of fixed ones."""
    return isinstance(examples, ExampleSource) or callable(examples)


def assistant_message(message: Any) -> dict[str, Any]:
    """The assistant turn with its tool calls, as it must be echoed back to the model."""
    calls = []
    for tc in message.tool_calls or []:
        function = getattr(tc, "function", None)
        if function is None:
            continue
        calls.append(
            {
                "id": tc.id,
                "type": "function",
                "function": {"name": function.name, "arguments": function.arguments},
            }
        )
    # "" rather than null: OpenAI takes either, but several compatible servers
    # (llama-cpp-python's among them) refuse a null content
    return {"role": "assistant", "content": message.content or "", "tool_calls": calls}


def choice_problem(agent: str, choice: Any, tools: Sequence[dict[str, Any]]) -> str | None:
    """What is wrong with a ``tool_choice`` that names no tool offered (``tools``: the wire
    tools, ``transfer_to_...`` included), or None. Sent as it was, a misspelt
    ``"transfer_to_refund"`` made the server fail the request, or ignore it and never
    hand off, far from the typo."""
    if not isinstance(choice, str) or choice in ("auto", "required", "none") or not tools:
        return None
    names = [t["function"]["name"] for t in tools]
    if choice in names or sanitize_tool_name(choice) in names:
        return None
    hint = did_you_mean(choice, names, then=f"tools: {', '.join(names)}")
    return f"{agent}: tool_choice '{choice}' is no tool offered to the model{hint}"


def turn_tool_choice(
    choice: str | None, toolset: ToolSet, *, turn: int, max_turns: int
) -> str | dict[str, Any] | None:
    """What an ``LLMAgent`` sends as ``tool_choice`` on turn ``turn`` (from 0): the
    configured one on the first turn, then auto, and ``none`` on the last turn allowed, so
    the model answers with what it has instead of the call failing with
    ``MaxTurnsExceeded`` (a small model may call a tool forever)."""
    if not toolset.tools or choice is None:
        return None
    if turn == max_turns - 1 and max_turns > 1:
        return "none"
    if turn > 0 and choice not in ("auto", "none"):
        return "auto"
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": toolset.wire_name(choice)}}


def given_conversation(call: ActionCall) -> str | None:
    """The ``conversation_id`` a call names, whoever's it is: what scopes the session
    sub-agents of a call whose first agent keeps no session (an ``input_schema`` may
    take one); a first agent with a session names the call's conversation itself."""
    given = call.arguments.get("conversation_id")
    return given if isinstance(given, str) and given else None
