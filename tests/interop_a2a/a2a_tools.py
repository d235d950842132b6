"""Actions the A2A tests serve and call."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from weft import tool
from weft.agents.a2a_action import A2aAction
from weft.agents.a2a_mqtt_action import A2aMqttAction
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionFailed,
    ActionResult,
    ActionSpec,
    CapabilityCard,
)
from weft.runtime.engine.execution_context import UNUSED_CONTEXT


@tool(
    card=CapabilityCard(
        agent_id="echo", skills=["repeat text"], examples=["say hi back"], tags=["safe"]
    )
)
def echo(text: str) -> dict[str, str]:
    """Return the text it was given."""
    return {"text": text}


@tool
def word_stats(document: str) -> dict[str, int]:
    """Count the words and characters of a document."""
    return {"words": len(document.split()), "chars": len(document)}


@tool
def refuse(text: str) -> dict[str, str]:
    """Always fails, as a tool that refuses its input does."""
    raise ActionFailed(f"will not process {text!r}", error_type="Refused", retryable=True)


async def call_once(action: A2aAction | A2aMqttAction, arguments: dict[str, Any]) -> ActionResult:
    """One call of the A2A agent ``action`` reaches; its HTTP client closed after, pass or fail."""
    try:
        call = ActionCall(action=action.spec.name, arguments=arguments)
        return await action.invoke(call, UNUSED_CONTEXT)
    finally:
        await action.aclose()


class Recorder:
    """An ``ActionContext`` for direct calls that keeps the progress it is told, in order;
    ``reported(n)`` is set once ``n`` reports arrived."""

    def __init__(self, call: ActionCall, expect: int = 3) -> None:
        self._call = call
        self.reports: list[tuple[str, float | None, dict[str, Any]]] = []
        self.expect = expect
        self.reported = asyncio.Event()

    @property
    def call(self) -> ActionCall:
        return self._call

    @property
    def idempotency_key(self) -> str:
        return self._call.call_id

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        raise AssertionError("an A2A action calls no other action")

    def actions(self) -> list[ActionSpec]:
        return []

    def ask(self, question: str, *, choices: Any = None) -> Any:
        raise AssertionError("an A2A action asks no person through its caller's context")

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self.reports.append((message, fraction, data))
        if len(self.reports) >= self.expect:
            self.reported.set()


def stepping_tool() -> tuple[Any, threading.Event]:
    """A plain ``def`` tool (it runs in a worker thread) that reports progress three times,
    then waits for ``release`` before it answers: progress that reaches the caller while
    the tool still waits was relayed live."""
    release = threading.Event()

    @tool
    def steps(text: str, ctx: ActionContext) -> dict[str, str]:
        """Shout the text, in three steps."""
        for i in (1, 2, 3):
            ctx.progress(f"step {i} of 3", i / 3, step=i)
        if not release.wait(10):
            raise ActionFailed("never released")
        return {"text": text.upper()}

    return steps, release
