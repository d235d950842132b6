"""What every A2A-backed action shares, whatever carries it (HTTP or MQTT).

An A2A agent's card decides the action's description and capability card,
and a call is bounded by the smaller of the action's own ``timeout`` and the
weft call's deadline. Both transports do exactly this, so it lives here once,
with the two things a call may carry besides its message: progress the agent
streams (passed on to ``ctx.progress``, as MCP progress is; the text of its
answer's artifact chunks as streamed text, ``relay_event``) and a second turn
of a task that wanted input (``a2a_task`` in the arguments, ``TurnOf``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weft.agents.streaming import text_stream_wanted
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    ActionState,
)
from weft.protocols.a2a import (
    TASK_DETAILS,
    TaskStream,
    answer_arguments,
    capability_from_a2a,
    specs_from_a2a,
)
from weft.protocols.a2a_stream import STREAM_TEXT_METADATA, chunk_text
from weft.protocols.streaming import delta_data

_log = logging.getLogger(__name__)

#: ``resume_state`` of a ``needs_input`` result: the task left waiting, and how many of
#: the call's answers it was given.
WAITING_TASK = "a2a_task"
ANSWERED = "answered"


def _task_gone(result: ActionResult) -> bool:
    """Whether a failed answer turn failed because the agent no longer has the task
    (A2A's TaskNotFound, or a task already ended): only then may it start anew."""
    error = result.error
    text = f"{error.type} {error.message}" if error else ""
    lowered = text.lower()
    return any(
        mark in lowered
        for mark in ("tasknotfound", "task not found", "-32001", "terminal state", "-32002")
    )


@dataclass(frozen=True)
class TurnOf:
    """The message's arguments, and the task it continues (``None``: a new task).

    A ``needs_input`` result of an A2A action carries ``{"taskId", "contextId"}``
    in ``error.details.a2a_task``; calling the action again with that object
    as the argument ``a2a_task`` (beside the answer, e.g. ``text``) sends the
    answer to the same task, in the same context, as A2A's multi-turn wants.
    """

    arguments: dict[str, Any]
    task_id: str | None = None
    context_id: str | None = None

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> TurnOf:
        """``ValueError`` naming the argument when ``a2a_task`` is not such an object."""
        rest = dict(arguments)
        turn = rest.pop(TASK_DETAILS, None)
        if turn is None:
            return cls(rest)
        task_id = turn.get("taskId") if isinstance(turn, Mapping) else None
        if not isinstance(task_id, str) or not task_id:
            raise ValueError(
                f"argument '{TASK_DETAILS}' must be the object a needs_input result holds in "
                f'error.details.{TASK_DETAILS}: {{"taskId": ..., "contextId": ...}}'
            )
        context_id = turn.get("contextId") if isinstance(turn, Mapping) else None
        return cls(rest, task_id, str(context_id) if context_id else None)


def report_progress(
    ctx: ActionContext, report: tuple[str, float | None, dict[str, Any]] | None
) -> None:
    """Pass an agent's progress report on to ``ctx`` (a display's fault never fails the call;
    a context that takes no reports, such as ``UNUSED_CONTEXT``, gets none)."""
    if report is None:
        return
    message, fraction, data = report
    data = {k: v for k, v in data.items() if k not in ("message", "fraction")}
    try:
        ctx.progress(message, fraction, **data)
    except Exception:
        _log.debug("progress report not taken by the caller's context", exc_info=True)


def report_text(ctx: ActionContext, text: str) -> None:
    """Pass a piece of the agent's streamed answer on to ``ctx`` as streamed text."""
    try:
        ctx.progress("", None, **delta_data(text))
    except Exception:
        _log.debug("streamed text not taken by the caller's context", exc_info=True)


def relay_event(ctx: ActionContext, stream: TaskStream, event: Mapping[str, Any]) -> None:
    """Fold one streamed A2A event (JSON) into ``stream``, passing on what it carries as it
    comes: an artifact chunk's text as streamed text (``chunk_text``: every chunk but a
    whole artifact), a ``working`` status message as a progress report."""
    update = event.get("artifactUpdate")
    if isinstance(update, Mapping):
        text = chunk_text(update)
        if text:
            report_text(ctx, text)
    report_progress(ctx, stream.add(event))


def stream_metadata() -> dict[str, bool]:
    """Request metadata telling a weft agent whether anyone reads its streamed text
    (``weft.protocols.a2a_stream``): someone does inside ``stream_text()``."""
    return {STREAM_TEXT_METADATA: text_stream_wanted()}


class A2aCardAction:
    """Base of ``A2aAction`` and ``A2aMqttAction``: the spec that follows the agent's card.

    Every result of a call names where it went in ``ActionResult.agent``
    (``where``): the work ran in the A2A agent, not in this process, and a
    run's summary and spans say so. A weft agent that serves this action puts
    its own id there instead.
    """

    #: The agent's URL (``http(s)://...`` or ``mqtt(s)://HOST:PORT/ORG/UNIT/AGENT_ID``).
    url: str

    def __init__(
        self,
        *,
        name: str,
        skill: str | None,
        description: str | None,
        default_description: str,
        input_schema: dict[str, Any],
        card: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> None:
        self.skill = skill
        self.timeout = timeout
        self._name = name
        self._description = description
        self._card: dict[str, Any] | None = None
        self._spec = ActionSpec(
            name=name,
            kind=ActionKind.AGENT,
            description=description or default_description,
            input_schema=input_schema,
        )
        if card is not None:
            self._use_card(dict(card))

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def where(self) -> str:
        """Where this action's calls run, as summaries show it: ``a2a URL``."""
        return f"a2a {self.url}"

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        """Call the agent (``_invoke``); the result, whatever its state, names ``where``.

        A task that wants input is answered from ``call.answers`` (``weft resume
        --answer``), one turn of the same task per answer, in order. The
        ``needs_input`` result saves the task it left waiting (``resume_state``),
        so a resumed node sends the new answer to that task: the agent goes on
        where it stopped. When the agent no longer has the task (restarted, or
        it expired), the node starts a new task and replays the answers, as a
        local action replays its ``ctx.ask``s. When the answers run out the
        result is ``needs_input`` with the agent's question, numbered by how
        many were answered.
        """
        result, answered = await self._continued(call, ctx)
        if result is None:
            result, answered = await self._invoke(call, ctx), 0
        while result.state is ActionState.NEEDS_INPUT and answered < len(call.answers):
            task = result.error.details.get(TASK_DETAILS) if result.error else None
            if not isinstance(task, dict):
                break
            arguments = {**answer_arguments(call.answers[answered]), TASK_DETAILS: task}
            result = await self._invoke(call.model_copy(update={"arguments": arguments}), ctx)
            answered += 1
        if result.state is ActionState.NEEDS_INPUT and result.error is not None:
            result.error.details["index"] = answered
            task = result.error.details.get(TASK_DETAILS)
            if isinstance(task, dict):
                result.resume_state = {WAITING_TASK: task, ANSWERED: answered}
        if result.agent is None:
            result.agent = self.where
        return result

    async def _continued(
        self, call: ActionCall, ctx: ActionContext
    ) -> tuple[ActionResult | None, int]:
        """The next answer sent to the task a resumed call left waiting, and how many
        answers that makes; ``(None, 0)`` when there is no such task or the agent no
        longer has it (the call then starts a new task)."""
        state = call.resume_state or {}
        task, answered = state.get(WAITING_TASK), state.get(ANSWERED)
        if not isinstance(task, dict) or not isinstance(answered, int):
            return None, 0
        if not 0 <= answered < len(call.answers):
            return None, 0
        arguments = {**answer_arguments(call.answers[answered]), TASK_DETAILS: task}
        result = await self._invoke(call.model_copy(update={"arguments": arguments}), ctx)
        if result.state in (ActionState.OK, ActionState.NEEDS_INPUT) or not _task_gone(result):
            return result, answered + 1
        _log.warning(
            "%s: task %s is no longer waiting at the agent (%s); starting a new task and "
            "replaying the answers",
            self._name,
            task.get("taskId"),
            result.error.message if result.error else result.state.value,
        )
        return None, 0

    async def _invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        """One call over the transport: never raises for a failed call."""
        raise NotImplementedError

    @property
    def card(self) -> dict[str, Any] | None:
        """The agent's A2A card (JSON) once read."""
        return self._card

    def _use_card(self, card: dict[str, Any]) -> None:
        """Take the description and capability card from the agent's card (its ``skill``'s
        when one is named), unless the user gave a description."""
        self._card = card
        chosen = next((s for s in specs_from_a2a(card) if s.name == self.skill), None)
        capability = chosen.card if chosen and chosen.card else capability_from_a2a(card)
        described = (chosen.description if chosen else "") or capability.description
        self._spec = self._spec.model_copy(
            update={
                "description": self._description or described or self._spec.description,
                "card": capability,
            }
        )

    def _rename(self, name: str) -> None:
        self._name = name
        self._spec = self._spec.model_copy(update={"name": name})

    def _call_timeout(self, call: ActionCall) -> float | None:
        """Seconds this call may take: the action's ``timeout`` within the call's deadline."""
        if call.deadline is None:
            return self.timeout
        left = max(call.deadline - time.time(), 0.001)
        return left if self.timeout is None else min(self.timeout, left)

    def _timed_out(self, call: ActionCall, where: str, timeout: float | None) -> ActionResult:
        return ActionResult.failure(
            call.call_id,
            "Timeout",
            f"{self._name}: no answer from {where} within {timeout:g}s",
            state=ActionState.TIMEOUT,
            retryable=True,
        )

    @staticmethod
    def _timed(result: ActionResult, started: float) -> ActionResult:
        """``result`` with its latency measured from ``started`` (``time.monotonic``)."""
        usage = result.usage.model_copy(update={"latency_s": time.monotonic() - started})
        return result.model_copy(update={"usage": usage})
