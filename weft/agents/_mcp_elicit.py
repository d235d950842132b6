"""An MCP server's questions (elicitation) in the middle of a request, as weft's ``ask``.

A server's tool, prompt or resource may ask the client's user for input while it runs
(``elicitation/create``: a message and a requested schema, answered
``accept`` with content, ``decline`` or ``cancel``). weft asks a person the
way it does everywhere (``weft.protocols.human_input``): a call that needs
an answer ends ``needs_input`` with the question, and ``weft resume RUN
--answer NODE=VALUE`` calls it again from its start with the answers in
``ActionCall.answers``. So each weft call to an MCP tool carries an
``Asker`` holding the call's answers: the server's first question gets the
first answer, the second the second, as ``ctx.ask`` does. A question with no
answer yet stops the call: the elicitation is answered ``cancel`` (no one
answered it now), the request is cancelled, and the call ends
``needs_input`` with the elicitation's message as its question.

How an elicitation reaches its call depends on the revision the server
speaks, and the SDK (``mcp`` 2.x) gives both to one ``elicitation_callback``:

- 2026-07-28 (stateless): the server answers ``tools/call`` (or
  ``prompts/get``, ``resources/read``) with an ``input_required`` result
  carrying the questions; the SDK's ``call_tool`` (``get_prompt``,
  ``read_resource``) calls the callback for each, in the calling task, and sends the call again
  with the answers. A context variable set around the call finds its asker.
- earlier revisions: the question is an ``elicitation/create`` request the
  server sends in the middle of the call; the SDK calls the callback from its
  own reader task, where the context variable is unset, and nothing on the
  wire names the call it belongs to. It is the only call of the connection
  asking at that moment, or it is refused (an error to the server) rather
  than given another call's answers.

Answers are shaped to the requested schema: a schema of one field gets the
answer as that field (``{"decision": "approve"}``), an object answer whose
keys are fields is sent as it is; each value is sent as the type its field
asks for (``"2"`` for an integer field is ``2``). One field with an ``enum``
(or ``oneOf`` consts, or a boolean) gives the question its choices, with
their JSON types (a weft server sends number choices as an ``enum`` of
numbers), which ``weft resume`` checks. URL-mode elicitations (a page the
user opens) are declined: there is no page weft can show.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from weft.protocols import ActionFailed, NeedsInput

T = TypeVar("T")

__all__ = [
    "ASKING",
    "Asker",
    "Askers",
    "choices_of",
    "content_for",
    "question_text",
]


def _fields(schema: dict[str, Any] | None) -> dict[str, Any]:
    properties = (schema or {}).get("properties")
    return properties if isinstance(properties, dict) else {}


def choices_of(schema: dict[str, Any] | None) -> list[Any] | None:
    """The choices of a one-field schema (``enum``, ``oneOf``/``anyOf`` consts, boolean)."""
    fields = _fields(schema)
    if len(fields) != 1:
        return None
    field = next(iter(fields.values()))
    if not isinstance(field, dict):
        return None
    if isinstance(field.get("enum"), list):
        return list(field["enum"])
    for key in ("oneOf", "anyOf"):
        options = field.get(key)
        if (
            isinstance(options, list)
            and options
            and all(isinstance(o, dict) and "const" in o for o in options)
        ):
            return [o["const"] for o in options]
    if field.get("type") == "boolean":
        return [True, False]
    return None


def question_text(message: str, schema: dict[str, Any] | None) -> str:
    """The question a person sees: the message, plus the fields when there are several."""
    fields = _fields(schema)
    if len(fields) < 2:
        return message
    return f"{message} (answer with an object of: {', '.join(fields)})"


def _typed(answer: Any, field: Any) -> Any:
    """``answer`` as the type ``field`` asks for, when it is that value in another form.

    A person (``weft resume --answer``) or a model may give ``"2"`` for a number
    field, ``"true"`` for a boolean, or ``2`` for the text choice ``"2"``: the
    server validates the content against its schema, so it gets the value typed.
    Anything that is not such a value is sent as it is (the server says why not).
    """
    if not isinstance(field, dict):
        return answer
    kind = field.get("type")
    labels = field.get("enum")
    if isinstance(labels, list) and answer not in labels and not isinstance(answer, str):
        label = json.dumps(answer)  # a number chosen among text choices: its text
        return label if label in labels else answer
    if not isinstance(answer, str) or kind not in ("integer", "number", "boolean"):
        return answer
    try:
        value = json.loads(answer.strip())
    except ValueError:
        return answer
    if kind == "boolean":
        return value if isinstance(value, bool) else answer
    if isinstance(value, bool) or not isinstance(value, int | float):
        return answer
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def content_for(answer: Any, schema: dict[str, Any] | None, question: str) -> dict[str, Any]:
    """``answer`` as the content of an accepted elicitation of ``schema``, each value of
    the type its field asks for (``_typed``).

    Raises ``ActionFailed`` (``McpElicitation``) when it cannot be: several fields and an
    answer that is not an object of them.
    """
    fields = _fields(schema)
    if isinstance(answer, dict) and set(answer) <= set(fields):
        return {key: _typed(value, fields[key]) for key, value in answer.items()}
    if len(fields) == 1:
        name, field = next(iter(fields.items()))
        return {name: _typed(answer, field)}
    if not fields:
        return {}
    raise ActionFailed(
        f"the answer {json.dumps(answer, default=str)} to {question!r} must be an object "
        f"of the fields {', '.join(fields)}",
        error_type="McpElicitation",
    )


class Asker:
    """The questions one weft call to an MCP server answers, in the order the server asks.

    Made on the MCP loop for each call. ``answer`` gives the elicitation's
    reply; once a question has no answer (or an answer cannot be shaped),
    ``stopped`` is set and ``outcome`` is what the call ends with.
    """

    def __init__(self, answers: Sequence[Any]) -> None:
        self._answers = tuple(answers)
        self._asked = 0
        self.stopped = asyncio.Event()
        self.outcome: NeedsInput | ActionFailed | None = None

    def answer(self, params: Any) -> Any:
        """The ``ElicitResult`` for one elicitation of this call (SDK ``ElicitRequestParams``)."""
        from mcp.types import ElicitResult

        if getattr(params, "mode", "form") == "url" or self.outcome is not None:
            return ElicitResult(action="decline")
        schema = getattr(params, "requested_schema", None)
        question = question_text(params.message, schema)
        index = self._asked
        self._asked += 1
        if index < len(self._answers):
            try:
                content = content_for(self._answers[index], schema, question)
            except ActionFailed as exc:
                self._stop(exc)
                return ElicitResult(action="cancel")
            return ElicitResult(action="accept", content=content)
        self._stop(NeedsInput(question, choices=choices_of(schema), index=index))
        return ElicitResult(action="cancel")

    def _stop(self, outcome: NeedsInput | ActionFailed) -> None:
        self.outcome = outcome
        self.stopped.set()


#: The asker of the call running in this task (set around each request on the MCP loop).
ASKING: contextvars.ContextVar[Asker | None] = contextvars.ContextVar(
    "weft_mcp_asking", default=None
)


class Askers:
    """The calls of one connection that may be asked a question now, and the SDK's callback.

    Lives on the MCP loop with its connection: ``run`` runs a request with its
    asker, ``elicited`` is the ``elicitation_callback`` of the connection's client.
    """

    def __init__(self) -> None:
        self._running: set[Asker] = set()

    async def run(self, asker: Asker, request: Coroutine[Any, Any, T]) -> T:
        """Run ``request`` with ``asker`` answering the server's questions about it.

        When a question has no answer, the request is cancelled (the SDK tells the
        server) and the asker's outcome is raised: ``NeedsInput``, or ``ActionFailed``
        for an answer that does not fit the question.
        """
        token = ASKING.set(asker)  # the request's task copies it: a 2026-07-28 question finds it
        self._running.add(asker)
        try:
            running = asyncio.ensure_future(request)
        finally:
            ASKING.reset(token)
        stopped = asyncio.ensure_future(asker.stopped.wait())
        try:
            await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._running.discard(asker)
            for task in (running, stopped):
                if not task.done():
                    task.cancel()
        if asker.outcome is not None:  # a question no one answered wins over what followed
            await asyncio.wait({running})
            if not running.cancelled():
                running.exception()  # retrieved: what the server did after the cancel is moot
            raise asker.outcome
        return running.result()

    async def elicited(self, context: Any, params: Any) -> Any:
        """The SDK's elicitation callback: the asking call's ``Asker`` answers."""
        from mcp.types import INVALID_REQUEST, ErrorData
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        asker = ASKING.get()
        legacy = context.session.protocol_version not in MODERN_PROTOCOL_VERSIONS
        if asker is None and legacy and len(self._running) == 1:
            # a handshake-era question arrives on the SDK's reader task: no call is named
            asker = next(iter(self._running))
        if asker is None:
            asking = len(self._running)
            why = f"{asking} calls to it are running" if asking else "no call of weft is asking"
            return ErrorData(
                code=INVALID_REQUEST,
                message=f"weft cannot tell which call this question belongs to ({why})",
            )
        return asker.answer(params)
