"""The tool calls of one model turn of an ``LLMAgent``: run them, or go on with saved ones.

The calls of a turn run concurrently through ``ctx.invoke``; each ends as a
``tool`` message for the model, whatever happened (a failed tool, an unknown
one, malformed arguments are error messages the model can react to, never an
exception). A call that asks a person is the exception: it is not shown to
the model (which would carry on without the answer, past an approval say);
it takes the answers the agent's call was resumed with (``Answering``), and
when they run out the agent stops on its question.

``run_turn`` returns every call as a ``SavedToolCall``: with its reply, or
with what it asked. That list is what the agent saves when it stops
(``llm_resume``), and what it hands back here when resumed: a call with a
reply is not made again, a call that asked is made straight with its answers
and with the state it saved (a nested agent's), so only the calls that asked
run again. A plain ``def`` tool that asks still runs again from its start
when answered, as any resumed action does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from weft.agents.answering import Answering, asks, invoke_answered
from weft.agents.llm_resume import SavedToolCall
from weft.agents.openai_tools import ToolSet
from weft.protocols import ActionContext, ActionResult


def tool_message(tool_call_id: str, result: ActionResult) -> dict[str, Any]:
    """A ``tool`` message reporting ``result`` to the model."""
    if result.ok:
        output = result.output
        content = output if isinstance(output, str) else json.dumps(output, default=str)
    else:
        error = result.error
        content = json.dumps(
            {
                "error": {
                    "type": error.type if error else result.state.value,
                    "message": error.message if error else result.state.value,
                }
            }
        )
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def error_message(tool_call_id: str, kind: str, message: str) -> dict[str, Any]:
    """A ``tool`` message telling the model its call could not be made (``kind``)."""
    content = json.dumps({"error": {"type": kind, "message": message}})
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def calls_of(message: Any) -> list[SavedToolCall]:
    """The tool calls of a model reply, not yet made, in the model's order."""
    calls = []
    for tc in message.tool_calls or []:
        function = getattr(tc, "function", None)
        if function is None:
            calls.append(SavedToolCall(id=tc.id))
        else:
            calls.append(
                SavedToolCall(id=tc.id, name=function.name, arguments=function.arguments or "{}")
            )
    return calls


async def run_turn(
    calls: Sequence[SavedToolCall],
    toolset: ToolSet,
    ctx: ActionContext,
    answering: Answering,
    turn: int,
) -> list[SavedToolCall]:
    """Make the calls of model turn ``turn`` (from 0) that have no reply yet, concurrently;
    every call, with its reply or what it asked. ``answering.asked`` says whether the
    agent must stop.

    Each call's work is keyed ``{agent's key}>{tool}@{turn}.{call}`` (both from 1), the
    same on every call of it and every resume of the agent, whatever else runs again.
    """
    base = getattr(ctx, "idempotency_key", None)
    runs = []
    for index, saved in enumerate(calls):
        key = f"{base}>{saved.name}@{turn + 1}.{index + 1}" if base else None
        runs.append(_run(saved, toolset, ctx, answering, key))
    return list(await asyncio.gather(*runs))


async def _run(
    saved: SavedToolCall,
    toolset: ToolSet,
    ctx: ActionContext,
    answering: Answering,
    key: str | None,
) -> SavedToolCall:
    if saved.reply is not None:  # finished before the agent stopped: not made again
        return saved
    if saved.name is None:
        problem = error_message(saved.id, "UnsupportedToolCall", "only function tools exist")
        return saved.model_copy(update={"reply": problem})
    action = toolset.action_for(saved.name)
    if action is None:
        problem = error_message(saved.id, "UnknownTool", f"there is no tool named '{saved.name}'")
        return saved.model_copy(update={"reply": problem})
    try:
        # strict=False: a raw newline or tab inside a string (llama.cpp's JSON grammar lets
        # a model write one) is read as itself rather than refused back to the model
        arguments = json.loads(saved.arguments or "{}", strict=False)
    except json.JSONDecodeError as exc:
        problem = error_message(
            saved.id, "MalformedArguments", f"arguments are not valid JSON: {exc.msg}"
        )
        return saved.model_copy(update={"reply": problem})
    if not isinstance(arguments, dict):
        problem = error_message(saved.id, "MalformedArguments", "arguments must be a JSON object")
        return saved.model_copy(update={"reply": problem})
    arguments = toolset.arguments_for(saved.name, arguments)
    return await _answered(saved, action, arguments, ctx, answering, key)


async def _answered(
    saved: SavedToolCall,
    action: str,
    arguments: dict[str, Any],
    ctx: ActionContext,
    answering: Answering,
    key: str | None,
) -> SavedToolCall:
    """Call ``action``, and again with answers while it asks (``Answering``); a call saved
    asking is not made without them first, and gets the state it saved back."""
    latest: dict[str, Any] = {"given": saved.given, "state": saved.state}

    async def once(answers: tuple[Any, ...]) -> ActionResult:
        result = await invoke_resumable(
            ctx, action, arguments, answers, f"tool '{action}'", latest["state"], key
        )
        latest["given"] = len(answers)
        # A state goes with the answers it was saved with: dropped when the call finished.
        latest["state"] = result.resume_state if asks(result) else None
        return result

    result = await answering.call(action, once, asked=saved.asked, given=saved.given)
    if asks(result):
        return saved.model_copy(
            update={
                "question": result.error,
                "given": latest["given"],
                "state": latest["state"],
                "reply": None,
            }
        )
    return saved.model_copy(
        update={"reply": tool_message(saved.id, result), "question": None, "state": None}
    )


async def invoke_resumable(
    ctx: Any,
    name: str,
    arguments: dict[str, Any],
    answers: tuple[Any, ...],
    asker: str,
    state: dict[str, Any] | None,
    key: str | None = None,
) -> ActionResult:
    """``invoke_answered``, handing the callee the state it saved when it asked (if any)
    and the key of its work (``idempotency_key``; None: the context counts calls).

    A context whose ``invoke`` takes neither calls it as ``invoke_answered`` does: the
    callee starts again from its beginning, as before states were saved.
    """
    extra: dict[str, Any] = {}
    if state is not None and answers:
        extra["resume_state"] = state
    if key is not None:
        extra["idempotency_key"] = key
    if not extra:
        return await invoke_answered(ctx, name, arguments, answers, asker)
    if answers:
        extra["answers"] = answers
    try:
        pending = ctx.invoke(name, arguments, **extra)
    except TypeError:
        return await invoke_answered(ctx, name, arguments, answers, asker)
    result: ActionResult = await pending
    return result
