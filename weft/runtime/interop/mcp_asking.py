"""A weft action's question (``ctx.ask``) sent to an MCP client as an elicitation.

A weft action that asks a person stops: its call ends ``needs_input`` with
the question, and is called again from its start with the answers so far
(``weft.protocols.human_input``). Served over MCP (``weft mcp serve``), the
person is the client's user, and MCP's elicitation asks them: the question
becomes an elicitation of one field, ``answer`` (a string; with choices, an
``enum`` of them: numbers as numbers, anything else as its text; a boolean
for ``[True, False]``), and the action is called again with the answers
until it stops asking. A reply that is a choice's text (``"2"`` for the
choice ``2``) is that choice.

How the question travels depends on the revision the client speaks:

- 2026-07-28 (stateless): ``tools/call`` is answered with an
  ``input_required`` result carrying the elicitation, and the answers so far
  ride in its ``requestState``; the client sends the call again with the
  person's reply (the SDK's ``Client.call_tool`` does this by itself), and
  weft calls the action again with one more answer. Nothing is kept on the
  server between two rounds, so any process serving the URL can take the
  next one. The state holds only answers the client gave, so a client that
  alters it only answers differently; it is checked for shape all the same.
- earlier revisions: the server sends ``elicitation/create`` in the middle of
  the call and waits for the reply, then calls the action again, in a loop.

An action that saves a state when it asks (``ActionResult.resume_state``: an
``LLMAgent``'s conversation) gets it back on the call made with the reply
(``ActionCall.resume_state``), so it goes on where it stopped instead of
running again from its start (its model asked again, its finished tool calls
made again). In a handshake-era loop the state stays in the loop. Across
2026-07-28 rounds it stays on this server (``SavedStates``, bounded, the
oldest forgotten first) under an unguessable id the ``requestState`` carries:
never sent to the client, which could alter it, and a round served by
another process, or after the state was forgotten, runs the action from its
start, as before states were saved.

A client that did not declare elicitation (or a transport with no way back
to it), a reply ``decline`` or ``cancel``, and more than ``MAX_QUESTIONS``
questions give the result weft gave before elicitation: an ``isError``
result ``NeedsInput: <question>``, with ``weft/state`` ``needs_input`` in its
``_meta`` (a weft client turns it back into a ``needs_input`` call).
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionResult, ActionState, ErrorInfo, NeedsInput
from weft.protocols.actions import new_id
from weft.protocols.human_input import question_of

__all__ = ["ANSWER_FIELD", "MAX_QUESTIONS", "SavedStates", "ask_through", "elicitation_schema"]

#: The one field of the form a question becomes.
ANSWER_FIELD = "answer"
#: Questions one call may ask over a handshake-era connection before it stops asking.
MAX_QUESTIONS = 50
#: ``input_requests`` key of the question ``index`` (2026-07-28).
_KEY = "weft/ask/{index}"

#: Runs the action once with the answers given so far, and the state it saved when it
#: last asked (None: from its start).
Run = Callable[[Sequence[Any], dict[str, Any] | None], Awaitable[ActionResult]]


@dataclass(frozen=True, slots=True)
class _Saved:
    action: str
    answers: int
    state: dict[str, Any]


class SavedStates:
    """The states actions saved when they asked over 2026-07-28 rounds, kept on the server.

    ``keep`` returns the id a ``requestState`` carries; ``take`` hands the state
    back once, only for the same action called with one more answer than it had
    when it asked. At most ``limit`` states are held, the oldest forgotten first
    (that round then runs its action from the start).
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._held: OrderedDict[str, _Saved] = OrderedDict()

    def keep(self, action: str, answers: int, state: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(18)
        self._held[token] = _Saved(action, answers, state)
        while len(self._held) > self.limit:
            self._held.popitem(last=False)
        return token

    def take(self, token: Any, action: str, answers: int) -> dict[str, Any] | None:
        saved = self._held.pop(token, None) if isinstance(token, str) else None
        if saved is None or saved.action != action or saved.answers + 1 != answers:
            return None
        return saved.state

    def __len__(self) -> int:
        return len(self._held)


def _label(choice: Any) -> str:
    return choice if isinstance(choice, str) else json.dumps(choice)


def _number(choice: Any) -> bool:
    return isinstance(choice, int | float) and not isinstance(choice, bool)


def elicitation_schema(question: dict[str, Any]) -> dict[str, Any]:
    """The requested schema of a question (``question_of``): one field, ``answer``.

    Choices that are all numbers are an ``integer`` (or ``number``) field with an
    ``enum`` of the numbers, so any client (a weft one too: the 2026-07-28 revision
    carries no ``_meta`` beside the question) reads them back as numbers, and a
    client that shows only the type still asks for a number; ``[True, False]`` is a
    boolean; other choices are an ``enum`` of their text.
    """
    choices = question.get("choices")
    field: dict[str, Any] = {"type": "string", "title": "Answer"}
    if choices and all(isinstance(c, bool) for c in choices):
        field["type"] = "boolean"
    elif choices and all(_number(c) for c in choices):
        field["type"] = "integer" if all(isinstance(c, int) for c in choices) else "number"
        field["enum"] = list(choices)
    elif choices:
        field["enum"] = [_label(c) for c in choices]
    return {"type": "object", "properties": {ANSWER_FIELD: field}, "required": [ANSWER_FIELD]}


def _answer(content: dict[str, Any] | None, question: dict[str, Any]) -> Any:
    """The reply's ``answer`` as the action gets it: a chosen label becomes its choice."""
    value = (content or {}).get(ANSWER_FIELD)
    for choice in question.get("choices") or ():
        if value == choice or (isinstance(value, str) and value == _label(choice)):
            return choice
    return value


def _form(question: dict[str, Any]) -> Any:
    """The SDK's form elicitation of a question."""
    from mcp.types import ElicitRequestFormParams

    return ElicitRequestFormParams(
        message=question["question"], requested_schema=elicitation_schema(question)
    )


def _can_elicit(ctx: Any) -> bool:
    """Whether the client declared form elicitation (a bare ``elicitation: {}`` counts)."""
    capabilities = ctx.session.client_capabilities
    elicitation = getattr(capabilities, "elicitation", None)
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _asked(result: ActionResult) -> dict[str, Any] | None:
    if result.state is not ActionState.NEEDS_INPUT:
        return None
    return question_of(result.error)


async def ask_through(
    ctx: Any, params: Any, action: str, run: Run, saved: SavedStates | None = None
) -> Any:
    """``run`` the action, its questions elicited from the client; an ``ActionResult``, or
    (2026-07-28) the SDK's ``InputRequiredResult`` that asks the next question. The
    state the action saves when it asks goes back to it with the reply (``saved``
    holds it between 2026-07-28 rounds; None: those rounds start it over)."""
    from mcp.shared.message import ServerMessageMetadata
    from mcp.types import ElicitRequest, ElicitResult
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return await _round(ctx, params, action, run, saved)
    answers: list[Any] = []
    result = await run(answers, None)
    while (question := _asked(result)) is not None and len(answers) < MAX_QUESTIONS:
        if not (_can_elicit(ctx) and ctx.session.can_send_request):
            break
        reply = await ctx.session.send_request(
            ElicitRequest(params=_form(question)),
            ElicitResult,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
        if reply.action != "accept":
            break
        answers.append(_answer(reply.content, question))
        result = await run(answers, result.resume_state)
    return result


async def _round(ctx: Any, params: Any, action: str, run: Run, saved: SavedStates | None) -> Any:
    """One round of a 2026-07-28 call: the answers so far, plus the reply to the last question."""
    from mcp import MCPError
    from mcp.types import (
        INVALID_PARAMS,
        ElicitRequest,
        ElicitResult,
        InputRequiredResult,
    )

    answers, asking, token = _state(params.request_state)
    if asking is not None:
        reply = (params.input_responses or {}).get(_KEY.format(index=len(answers)))
        if not isinstance(reply, ElicitResult):
            raise MCPError(INVALID_PARAMS, f"no reply to the question {asking['question']!r}")
        if reply.action != "accept":  # the question stays unanswered: the call stops on it
            stop = NeedsInput(asking["question"], choices=asking["choices"], index=asking["index"])
            error = ErrorInfo.from_exception(stop, source=action)
            return ActionResult(call_id=new_id(), state=ActionState.NEEDS_INPUT, error=error)
        answers.append(_answer(reply.content, asking))
    kept = saved.take(token, action, len(answers)) if saved is not None and token else None
    result = await run(answers, kept)
    question = _asked(result)
    if question is None or not _can_elicit(ctx) or len(answers) >= MAX_QUESTIONS:
        return result
    request = ElicitRequest(params=_form(question))
    round_state: dict[str, Any] = {"answers": answers, "asking": question}
    if saved is not None and result.resume_state is not None:
        round_state["saved"] = saved.keep(action, len(answers), result.resume_state)
    state = json.dumps(round_state)
    return InputRequiredResult(
        input_requests={_KEY.format(index=len(answers)): request}, request_state=state
    )


def _state(text: str | None) -> tuple[list[Any], dict[str, Any] | None, str | None]:
    """``(answers, question asked, id of the saved state)`` of a ``requestState`` this
    module wrote."""
    from mcp import MCPError
    from mcp.types import INVALID_PARAMS

    if text is None:
        return [], None, None
    try:
        state = json.loads(text)
        answers, asking = state["answers"], state["asking"]
        if not (isinstance(answers, list) and isinstance(asking["question"], str)):
            raise TypeError
        asking.setdefault("choices", None)
        asking.setdefault("index", len(answers))
        token = state.get("saved")
        if token is not None and not isinstance(token, str):
            raise TypeError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise MCPError(INVALID_PARAMS, "Invalid or expired requestState") from None
    return answers, asking, token
