"""One call of an ``LLMAgent`` from start to answer: its session, and the chain of handoffs.

``LLMAgent.invoke`` runs here. The first agent runs its tool loop
(``LLMAgent.run_part``); a loop that ends in a transfer (``weft.agents.handoffs``)
goes on in the target, and so on until an agent answers, fails or stops for a
person, or the chain passes the first agent's ``max_handoffs``. What stays
with the first agent whatever the chain: its input checks (run once, before
any model request), its session (``weft.agents.sessions``: the turn is added
when the chain has answered), the bound on handoffs, and the call's result,
whose usage sums every agent's model requests and whose ``agent`` names the
agent (or action) that answered.

The call's conversation is the first agent's too (``Start.conversation_id``):
an agent handed to offers its session sub-agents ``<id>/<agent>``, as the
first agent does, and its own session's default is not used.

A stop for a person's answer saves the chain with the conversation
(``SavedConversation.chain``); the resumed call walks the handoffs from the
first agent to the one that stopped and goes on there. A chain that no
longer exists (a handoff removed since) starts again from the first agent,
with a warning, as any saved conversation that does not fit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from weft.agents.answering import Answering, asks
from weft.agents.handoffs import (
    HANDED_OFF_KIND,
    HandedOff,
    Handoff,
    Transfer,
    handoff_span,
    task_shaped,
)
from weft.agents.llm_tool_calls import invoke_resumable
from weft.agents.sessions import SessionStore
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionResult,
    ActionState,
    ProgressEvent,
    Usage,
)

log = logging.getLogger("weft.agents.llm")


@dataclass
class Start:
    """How one agent of the chain starts: afresh, with a carried conversation, or saved."""

    chain: list[str]
    #: The conversation handed over (None: the first agent, which starts from the task).
    conversation: list[dict[str, Any]] | None = None
    #: The session's earlier messages (first agent only).
    history: list[dict[str, Any]] = field(default_factory=list)
    #: Messages of the session at the head of the conversation (kept along the chain).
    history_len: int = 0
    #: Answers taken by the agents before this one.
    taken: int = 0
    #: The saved state to go on from (``ActionCall.resume_state``).
    raw: dict[str, Any] | None = None
    #: The call's conversation: the first agent's, whoever is active (None: it keeps none).
    #: Every agent of the chain offers its session sub-agents ``<id>/<agent>`` on it.
    conversation_id: str | None = None


@dataclass
class Part:
    """What one agent's run ends with: a result, or a transfer; and what it spent."""

    result: ActionResult | None
    transfer: Transfer | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: Where the conversation starts in ``messages`` (after instructions and examples).
    preamble: int = 0
    history_len: int = 0
    usage: Usage = field(default_factory=Usage)
    progress: list[ProgressEvent] = field(default_factory=list)
    #: The saved state did not fit: start the chain again from its first agent.
    restart: bool = False


class LLMAgent(Protocol):
    """What the chain needs of an agent (``weft.agents.llm.LLMAgent``, not imported here:
    it imports this module)."""

    handoffs: list[Handoff]
    max_handoffs: int
    session: SessionStore | None

    @property
    def name(self) -> str: ...

    def conversation_id_of(self, arguments: Mapping[str, Any]) -> str | None: ...

    def task_arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]: ...

    async def run_part(self, call: ActionCall, ctx: ActionContext, start: Start) -> Part: ...


class AgentSpans:
    """``ctx`` as an agent's model requests see it: each span recorded names the agent.

    One call of a chain is one span (the node's, or the caller's call), and every
    agent of the chain records its model requests under it; without a name on each
    ``llm`` span ``weft trace show`` could not say which agent of ``triage ->
    billing`` made which request. Only the chat session gets this view; tools get
    the context itself.
    """

    def __init__(self, ctx: Any, agent: str) -> None:
        self._ctx = ctx
        hook = getattr(ctx, "record_span", None)
        if callable(hook):  # else none, so that no span is built for nobody (``wants_spans``)

            def record_span(span: dict[str, Any]) -> None:
                hook(span if span.get("agent") else {**span, "agent": agent})

            self.record_span = record_span

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


def _active(entry: LLMAgent, chain: list[str]) -> LLMAgent | None:
    """The agent at the end of ``chain``, walked through the handoffs from ``entry``."""
    if not chain or chain[0] != entry.name:
        return None
    agent = entry
    for name in chain[1:]:
        step = next((h for h in agent.handoffs if h.name == name and h.is_agent), None)
        if step is None:
            return None
        agent = step.target  # type: ignore[assignment]  # is_agent: an LLMAgent
    return agent


async def run_call(entry: LLMAgent, call: ActionCall, ctx: ActionContext) -> ActionResult:
    """The answer to ``call`` of ``entry``, through its handoffs; usage summed over the chain."""
    conversation_id = entry.conversation_id_of(call.arguments)
    async with _held(entry, conversation_id):
        raw = call.resume_state
        if raw is not None and raw.get("kind") == HANDED_OFF_KIND:
            return await _resume_handed_off(entry, call, ctx, raw, conversation_id)
        start = Start(chain=[entry.name], raw=raw, conversation_id=conversation_id)
        chain_raw = raw.get("chain") if isinstance(raw, dict) else None
        agent: LLMAgent | None = entry
        if isinstance(chain_raw, list) and len(chain_raw) > 1:
            agent = _active(entry, [str(n) for n in chain_raw])
            start.chain = [str(n) for n in chain_raw]
            if agent is None:
                log.warning(
                    "%s: the saved conversation cannot be resumed (its chain of handoffs %s "
                    "is not the agent's any more); starting again from the beginning",
                    entry.name,
                    " -> ".join(start.chain),
                )
        if agent is None or raw is None:
            agent, start = entry, await _fresh(entry, conversation_id)
        return await _chain(entry, agent, call, ctx, start, conversation_id)


async def _fresh(entry: LLMAgent, conversation_id: str | None) -> Start:
    """How the first agent starts without a saved state: with the session's turns, if any."""
    start = Start(chain=[entry.name], conversation_id=conversation_id)
    if entry.session is not None and conversation_id is not None:
        start.history = await entry.session.messages(conversation_id)
        start.history_len = len(start.history)
    return start


async def _chain(
    entry: LLMAgent,
    agent: LLMAgent,
    call: ActionCall,
    ctx: ActionContext,
    start: Start,
    conversation_id: str | None,
) -> ActionResult:
    usage, progress = Usage(), list[ProgressEvent]()
    while True:
        part = await agent.run_part(call, ctx, start)
        usage, progress = usage.add(part.usage), [*progress, *part.progress]
        if part.restart:
            agent, start = entry, await _fresh(entry, conversation_id)
            continue
        if part.result is not None:
            result = part.result
            if result.ok:
                turn = part.messages[part.preamble + part.history_len :]
                await _keep(entry, conversation_id, turn)
            break
        transfer = part.transfer
        assert transfer is not None
        chain = [*start.chain, transfer.handoff.name]
        hops = len(chain) - 1
        if hops > entry.max_handoffs:
            result = ActionResult.failure(
                call.call_id,
                "MaxHandoffsExceeded",
                f"{entry.name}: more than max_handoffs={entry.max_handoffs} handoff(s): "
                f"{' -> '.join(chain)}",
            )
            result.agent = agent.name
            break
        handoff_span(ctx, agent.name, transfer.handoff.name, transfer.reason, hops)
        if transfer.handoff.is_agent:
            agent = transfer.handoff.target  # type: ignore[assignment]  # an LLMAgent
            start = Start(
                chain=chain,
                conversation=transfer.conversation,
                history_len=part.history_len,
                taken=transfer.taken,
                conversation_id=start.conversation_id,
            )
            continue
        transfer.conversation = transfer.conversation[part.history_len :]
        result = await _call_target(entry, call, ctx, start.chain, transfer)
        if result.ok:
            await _keep(entry, conversation_id, _answered(transfer.conversation, result))
        break
    result.usage = usage  # every agent's own model requests; latency is their summed work
    result.progress = progress
    return result


async def _call_target(
    entry: LLMAgent,
    call: ActionCall,
    ctx: ActionContext,
    chain: list[str],
    transfer: Transfer,
    saved: HandedOff | None = None,
) -> ActionResult:
    """Call an action (not an LLM agent) handed to; its answer is the call's. One that asks
    stops the call with a ``HandedOff`` state, so a resume calls it again, answered."""
    name = transfer.handoff.name
    if saved is not None:
        arguments = saved.arguments
    elif _takes_task(ctx, name):
        arguments = entry.task_arguments(call.arguments)
    else:
        arguments = {k: v for k, v in transfer.arguments.items()}
    taken = saved.taken if saved is not None else transfer.taken
    answering = Answering(call.answers, taken=taken)
    latest: dict[str, Any] = {
        "given": saved.given if saved else 0,
        "state": saved.state if saved else None,
    }
    base = getattr(ctx, "idempotency_key", None)
    key = f"{base}>{name}@handoff{len(chain)}" if base else None

    async def once(answers: tuple[Any, ...]) -> ActionResult:
        result = await invoke_resumable(
            ctx, name, arguments, answers, f"handoff '{name}'", latest["state"], key
        )
        latest["given"] = len(answers)
        latest["state"] = result.resume_state if asks(result) else None
        return result

    asked = None
    if saved is not None and saved.question is not None:
        asked = ActionResult(
            call_id=call.call_id,
            state=ActionState.NEEDS_INPUT,
            error=saved.question,
            resume_state=saved.state,
        )
    result = await answering.call(name, once, asked=asked, given=latest["given"])
    if answering.asked is not None:
        stop = answering.asked.result(call.call_id, chain[-1], Usage(), role="handoff", of="")
        stop.resume_state = HandedOff(
            chain=chain,
            conversation=transfer.conversation,
            target=name,
            arguments=arguments,
            taken=answering.asked_from or 0,
            given=latest["given"],
            question=result.error,
            state=latest["state"],
        ).model_dump(mode="json")
        stop.agent = chain[-1]
        return stop
    out = result.model_copy(update={"call_id": call.call_id, "usage": Usage()})
    out.agent = name
    return out


def _takes_task(ctx: ActionContext, name: str) -> bool:
    spec = next((s for s in ctx.actions() if s.name == name), None)
    return spec is None or task_shaped(spec)


async def _resume_handed_off(
    entry: LLMAgent,
    call: ActionCall,
    ctx: ActionContext,
    raw: dict[str, Any],
    conversation_id: str | None,
) -> ActionResult:
    """Go on with the action handed to that asked, or start again when the state misfits."""
    try:
        saved = HandedOff.model_validate(raw)
    except ValidationError:
        saved = None
    handoff = None
    if saved is not None and saved.chain and _active(entry, saved.chain) is not None:
        agent = _active(entry, saved.chain)
        assert agent is not None
        handoff = next((h for h in agent.handoffs if h.name == saved.target), None)
    if saved is None or handoff is None:
        log.warning(
            "%s: the saved handoff cannot be resumed; starting again from the beginning",
            entry.name,
        )
        start = await _fresh(entry, conversation_id)
        return await _chain(entry, entry, call, ctx, start, conversation_id)
    transfer = Transfer(handoff, None, saved.arguments, saved.conversation, taken=saved.taken)
    result = await _call_target(entry, call, ctx, saved.chain, transfer, saved)
    if result.ok and saved.conversation:  # (a state saved before it kept the conversation)
        await _keep(entry, conversation_id, _answered(saved.conversation, result))
    return result


async def _keep(entry: LLMAgent, conversation_id: str | None, turn: list[dict[str, Any]]) -> None:
    """Add an answered call's ``turn`` to the first agent's session, if it keeps one."""
    if entry.session is not None and conversation_id is not None:
        await entry.session.add_turn(conversation_id, turn)


def _answered(conversation: list[dict[str, Any]], result: ActionResult) -> list[dict[str, Any]]:
    """The turn of a call an action handed to answered: the conversation up to the
    transfer, and the action's output as the assistant's answer (the next call's model
    sees what the customer was told, as after an agent's answer)."""
    output = result.output
    shown = output if isinstance(output, str) else json.dumps(output, default=str)
    return [*conversation, {"role": "assistant", "content": shown}]


@asynccontextmanager
async def _held(entry: LLMAgent, conversation_id: str | None) -> AsyncIterator[None]:
    """The call's hold on its conversation (none without a session)."""
    if entry.session is None or conversation_id is None:
        yield
        return
    async with entry.session.held(conversation_id):
        yield
