"""Run a weft action for an A2A request: pick the skill, map the message, make the call.

Shared by both ways weft serves A2A (HTTP in ``a2a_server``, MQTT in
``a2a_mqtt``): what a request means does not depend on how it arrived.

- The skill (action) is the request's ``metadata.skill`` (the message's,
  else the request's); an agent serving one action needs none.
- The arguments are the message's parts (``parts_to_value``: ``text`` from
  text parts, keys from object data parts). A lone ``text`` sent to an action
  whose input has exactly one string property and no ``text`` goes to that
  property, so a plain-text A2A client can call ``word_stats(document)``.
- The call runs with a context for nested calls and no journal (as
  ``invoke_action`` gives a LangGraph node), its idempotency key the A2A
  task id: a retried request for the same task keys the same work. Its
  ``ctx.progress`` reports go to ``on_progress``, which each server turns
  into ``working`` status updates of the task (``progress_message``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from weft.protocols import Action, ActionCall, ActionResult, ActionSpec, WeftError
from weft.protocols.a2a import SKILL_METADATA, parts_to_value
from weft.protocols.results import json_result
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.langgraph_calls import LangGraphContext

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
    properties = spec.input_schema.get("properties") or {}
    if "text" in properties or len(properties) != 1:
        return None
    (name, schema), *_ = properties.items()
    return name if isinstance(schema, dict) and schema.get("type") == "string" else None


class A2aCallContext(LangGraphContext):
    """The context of a call an A2A request makes: nested calls as on LangGraph's engine,
    and progress reports to the request's ``ProgressSink`` (none: dropped)."""

    def __init__(self, registry: ActionTable, call: ActionCall, sink: ProgressSink | None) -> None:
        super().__init__(registry, call)
        self._sink = sink

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        if self._sink is not None:
            self._sink(message, fraction, data)


class A2aCalls:
    """The actions an A2A agent serves, and how one request becomes one call of them."""

    def __init__(self, actions: ActionTable) -> None:
        if not len(actions):
            raise ValueError("an A2A agent needs at least one action to serve")
        self.actions = actions

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
    ) -> ActionResult:
        """Serve one request; ``A2aRequestError`` when it names no skill this agent has.
        An exception the action raises is an error result, as on weft's engine."""
        action = self.select(*metadata)
        call = ActionCall(
            action=action.spec.name,
            arguments=self.arguments(action, parts),
            idempotency_key=f"a2a:{task_id}",
            deadline=deadline,
        )
        try:
            result = await action.invoke(call, A2aCallContext(self.actions, call, on_progress))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            result = ActionResult.from_exception(call.call_id, exc, source=call.action)
        return json_result(result, action.spec.name)
