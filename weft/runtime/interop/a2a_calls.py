"""Run a weft action for an A2A request: pick the skill, map the message, make the call.

Shared by both ways weft serves A2A (HTTP in ``a2a_server``, MQTT in
``a2a_mqtt``): what a request means does not depend on how it arrived.

- The skill (action) is the request's ``metadata.skill`` (the message's,
  else the request's); an agent serving one action needs none.
- The arguments are the message's parts (``parts_to_value``: ``text`` from
  text parts, keys from object data parts). A lone ``text`` sent to an action
  whose input has no ``text`` goes to its one required property when that is a
  string, else to its one string property when no other is required, so a
  plain-text A2A client can call ``word_stats(document)``, ``greet(name,
  excited=False)`` and ``greet(name, greeting="Hello")``.
- The call runs with a context for nested calls and no journal (as
  ``invoke_action`` gives a LangGraph node), its idempotency key the A2A
  task id: a retried request for the same task keys the same work. Its
  ``ctx.progress`` reports go to ``on_progress``, which each server turns
  into ``working`` status updates of the task (``progress_message``).
- The registered secrets (``weft.secret``, secret-looking environment
  variables, the server's token, the call's secret arguments:
  ``served_trace.register_secrets``) are masked in the result and the progress
  reports before they go back, as an agent host masks what it sends.
- The traceback of an exception the action raised is not sent to the client
  but logged, unless ``send_tracebacks`` (``served_errors``).
- Given a tracer, each task is a run in the trace store, as a ``weft run``
  is (``served_trace``): ``served.protocol``, ``served.client`` (the context
  id), ``served.task``; its turns after ``input-required`` go on in that run.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from weft.protocols import Action, ActionCall, ActionResult, ActionSpec, ActionState, WeftError
from weft.protocols.a2a import SKILL_METADATA, answer_of, parts_to_value
from weft.protocols.human_input import question_of
from weft.protocols.results import json_result
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop.served_errors import for_client
from weft.runtime.interop.served_trace import (
    ServedContext,
    ServedRun,
    ServedTraces,
    register_secrets,
)
from weft.runtime.support.redaction import redactor
from weft.runtime.support.secrets import scrub_result
from weft.runtime.tracing.spans import Tracer

#: Where a served call's progress goes: ``(message, fraction, data)``, on the event loop.
ProgressSink = Callable[[str, float | None, dict[str, Any]], None]

#: JSON-RPC's "invalid params", which A2A uses for a request it cannot serve as sent.
INVALID_PARAMS = -32602


class A2aRequestError(WeftError):
    """A request this agent cannot serve as sent; ``code`` is its JSON-RPC error code."""

    def __init__(self, message: str, code: int = INVALID_PARAMS) -> None:
        super().__init__(message)
        self.code = code


def _lone_string_property(spec: ActionSpec) -> str | None:
    """The one string property a lone ``text`` goes to, when the input has no ``text``:
    its only required property when that is a string (``greet(name: str, greeting:
    str = "Hello")``: ``name``, as ``weft ask`` gives a subtask to a tool), else its
    only string property when every other one is optional (``greet(name: str,
    excited: bool = False)``: ``name``)."""
    properties = spec.input_schema.get("properties") or {}
    if not isinstance(properties, dict) or "text" in properties:
        return None
    strings = [
        name
        for name, schema in properties.items()
        if isinstance(schema, dict) and schema.get("type") == "string"
    ]
    required = set(spec.input_schema.get("required") or ())
    if len(required) == 1 and required <= set(strings):
        return str(next(iter(required)))
    if len(strings) != 1:
        return None
    return strings[0] if required <= set(strings) else None


class A2aCallContext(ServedContext):
    """The context of a call an A2A request makes: nested calls as on LangGraph's engine,
    traced when ``served`` (``served_trace``), and progress reports to the request's
    ``ProgressSink`` (none: dropped)."""

    def __init__(
        self,
        registry: ActionTable,
        call: ActionCall,
        sink: ProgressSink | None,
        served: ServedRun | None = None,
    ) -> None:
        super().__init__(registry, call, served)
        self._sink = sink

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        if self._sink is not None:
            masker = redactor()  # what goes back to the client, as the result (``run``)
            self._sink(masker.replace_secrets(message), fraction, masker.replace_secrets(data))


@dataclass
class Asking:
    """A task whose call stopped for a person's answer: what to call again, and the
    answers it got so far (``ActionCall.answers``), with the choices of its question
    and the state the call saved when it asked (``ActionResult.resume_state``)."""

    action: Action
    arguments: dict[str, Any]
    answers: list[Any]
    choices: list[Any] | None
    state: dict[str, Any] | None = None


class A2aCalls:
    """The actions an A2A agent serves, and how one request becomes one call of them.

    A call that asks a person (``ctx.ask``) leaves its task ``input-required``
    with the question; the next message to that task is the answer: the same
    action is called again with the same arguments and the answers so far, as
    ``weft resume --answer`` calls a node again, with the state the call saved when
    it asked (an ``LLMAgent``'s conversation: it goes on where it stopped instead
    of asking its model again from the start and making its finished tool calls
    again). The state stays here, never sent to the client. At most
    ``max_asking`` such tasks are held, the oldest forgotten first.

    ``send_tracebacks``: a failed call's error keeps the traceback of what the
    action raised (for development); else it is only logged (``served_errors``).
    ``tracer``: each task is a run in it, its ``protocol`` (``a2a``, ``a2a-mqtt``)
    said (``served_trace``); not closed here.
    """

    def __init__(
        self,
        actions: ActionTable,
        *,
        max_asking: int = 1000,
        send_tracebacks: bool = False,
        tracer: Tracer | None = None,
        protocol: str = "a2a",
    ) -> None:
        if not len(actions):
            raise ValueError("an A2A agent needs at least one action to serve")
        self.actions = actions
        #: Where each task is traced (``served_trace``); None: nowhere.
        self.traces = None if tracer is None else ServedTraces(tracer, protocol)
        self.max_asking = max_asking
        self.send_tracebacks = send_tracebacks
        self._asking: OrderedDict[str, Asking] = OrderedDict()

    def specs(self) -> list[ActionSpec]:
        return list(self.actions.specs().values())

    def select(self, *metadata: Mapping[str, Any] | None) -> Action:
        """The action a request names (first ``skill`` found in ``metadata``)."""
        found = (m.get(SKILL_METADATA) for m in metadata if isinstance(m, Mapping))
        skill = next((s for s in found if s), None)
        names = self.actions.names()
        if skill is None:
            if len(names) == 1:
                return self.actions.get(names[0])
            raise A2aRequestError(
                f"this agent serves several skills ({', '.join(names)}): name one in the "
                f"message's metadata.{SKILL_METADATA}"
            )
        if skill not in self.actions:
            raise A2aRequestError(f"no skill '{skill}' here (skills: {', '.join(names)})")
        return self.actions.get(str(skill))

    def arguments(self, action: Action, parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """The call's arguments from a message's parts (module docstring)."""
        value = parts_to_value(parts)
        if not isinstance(value, dict):
            value = {"data": value}
        target = _lone_string_property(action.spec)
        if target is not None and set(value) == {"text"}:
            return {target: value["text"]}
        return value

    async def run(
        self,
        parts: Iterable[Mapping[str, Any]],
        *metadata: Mapping[str, Any] | None,
        task_id: str,
        deadline: float | None = None,
        on_progress: ProgressSink | None = None,
        client: str | None = None,
    ) -> ActionResult:
        """Serve one request; ``A2aRequestError`` when it names no skill this agent has.
        An exception the action raises is an error result, as on weft's engine. A
        message to a task that asked a person is the answer (class docstring).
        ``client``: who sent it, for the trace (the task's context id)."""
        asking = self._asking.pop(task_id, None)
        if asking is None:
            action = self.select(*metadata)
            asking = Asking(action, self.arguments(action, parts), [], None)
        else:
            asking.answers.append(answer_of(parts, asking.choices))
        action = asking.action
        call = ActionCall(
            action=action.spec.name,
            arguments=asking.arguments,
            idempotency_key=f"a2a:{task_id}",
            deadline=deadline,
            answers=tuple(asking.answers),
            resume_state=asking.state if asking.answers else None,
        )
        register_secrets(call, action.spec.input_schema)
        served = None
        if self.traces is not None:
            served = self.traces.start(action.spec.name, client=client, task=task_id)
            call = served.adopt(call)
        started = time.time()
        try:
            context = A2aCallContext(self.actions, call, on_progress, served)
            result = await action.invoke(call, context)
        except asyncio.CancelledError as exc:
            if served is not None:
                served.record_cancelled(call, started)
                served.raised(exc, call.arguments)
            raise
        except Exception as exc:
            result = ActionResult.from_exception(call.call_id, exc, source=call.action)
        question = question_of(result.error) if result.state is ActionState.NEEDS_INPUT else None
        if question is not None:
            asking.choices = question["choices"]
            asking.state = result.resume_state
            self._asking[task_id] = asking
            while len(self._asking) > self.max_asking:
                self._asking.popitem(last=False)
        result = scrub_result(json_result(result, action.spec.name))
        if served is not None:  # with its traceback: the trace is the server's
            served.record_call(call, started, result)
            served.end(result, arguments=call.arguments)
        return self.served(result, call.action, task_id)

    def served(
        self, result: ActionResult, action: str, task_id: str, *, logged: bool = False
    ) -> ActionResult:
        """``result`` as the A2A client may see it: its error's traceback logged (unless
        ``logged`` already), and dropped unless ``send_tracebacks`` (``served_errors``)."""
        return for_client(
            result,
            "weft a2a",
            send_tracebacks=self.send_tracebacks,
            logged=logged,
            action=action,
            task=task_id,
        )

    def asks(self, task_id: str) -> bool:
        """True while ``task_id``'s call waits for a person's answer (its next message)."""
        return task_id in self._asking
