"""Critics on edges: review an artifact, send it back for revision, pass on what holds.

An edge's critic gets ``{artifact, source, target}`` and answers
``{approved, artifact?, feedback?}`` (``issues`` and ``summary``, as a
structured review gives them, count as feedback). Approved, the artifact
(or the critic's own revision of it) is delivered. Rejected, on an edge with
``max_rounds`` left, the source's action is called again with the critic's
feedback and its previous draft, and the critic reviews the revision: the
actor-critic exchange of MacNet, bounded. When the rounds run out the last
revision is delivered; on an edge without rounds a rejection delivers nothing.

How the feedback reaches the actor depends on what it accepts: an action
with a ``feedback`` parameter gets ``feedback`` (and ``draft`` if it takes
one) beside its arguments; otherwise the draft and the instructions are
appended to its text parameter (``task`` when it has one, else its single
parameter). An action with neither cannot be sent anything back, and the
edge fails with a message that says so.

A revision is a call of the source node's action under the key
``{source}->{target}~{round}``: journaled like a node's call, so a resumed
run serves it from the journal instead of calling again.

A critic may ask a person (``ctx.ask``: a human review on the edge). The
edge then delivers nothing yet: its target ends ``needs_input``, the
question is journaled under the review's own key (``critic_key``:
``{source}->{target}:critic``, ``~{round}`` before ``:critic`` for a later
round), and ``weft resume --answer KEY=VALUE`` (or ``--answer TARGET=...``)
asks the critic again with the answers.

``settle`` is the exchange itself, given a way to ask the critic and a way to
have the source revise; ``review_edge`` gives it weft's engine's calls, which
LangGraph's engine uses too (``langgraph_nodes``), so both engines hold one rule.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from weft.protocols import ActionCall, ActionResult, ActionSpec, ActionState, EventKind, NodeState
from weft.protocols.actions import NEEDS_INPUT_TYPE, ErrorInfo
from weft.protocols.human_input import question_of
from weft.runtime.engine.arguments import ForeachPlan, node_arguments
from weft.runtime.engine.compiled import CompiledEdge, single_parameter
from weft.runtime.engine.execution_context import ExecutionContext
from weft.runtime.engine.node_calls import NodeCalls
from weft.runtime.engine.resume_states import journaled_state
from weft.runtime.engine.slots import Slot
from weft.workflows.expressions import ExpressionError


@dataclass
class Verdict:
    """What an edge's review decided: deliver ``artifact`` or not; ``error`` when the edge
    broke (the artifact is delivered then, so that its target runs into the error and fails)."""

    deliver: bool
    artifact: Any
    rounds: int = 0
    error: str | None = None
    #: The critic asked a person: the target waits (``needs_input``) with this error.
    asked: ErrorInfo | None = None


class Broken:
    """A revision that could not be had; ``message`` says why."""

    def __init__(self, message: str) -> None:
        self.message = message


#: Called after each review: ``(edge, critic result, round)``, for events.
ReviewListener = Callable[[CompiledEdge, ActionResult, int], None]
#: Asks the edge's critic about ``(artifact, round)``; never raises for the critic's failure.
AskCritic = Callable[[Any, int], Awaitable[ActionResult]]
#: The source's revision of ``(draft, feedback, round)``, or ``Broken``.
Revise = Callable[[Any, str, int], Awaitable[Any]]


async def settle(
    edge: CompiledEdge,
    artifact: Any,
    ask: AskCritic,
    revise: Revise,
    on_review: ReviewListener | None = None,
) -> Verdict:
    """Review ``artifact`` on ``edge``, with up to ``edge.max_rounds`` revisions."""
    rounds = 0
    while True:
        result = await ask(artifact, rounds)
        if on_review is not None:
            on_review(edge, result, rounds)
        if asks(result):
            return Verdict(True, artifact, rounds, asked=waiting(edge, result))
        if not result.ok:
            return Verdict(True, artifact, rounds, f"critic on {_named(edge)}: {_failure(result)}")
        approved, artifact, feedback = read_review(result.output, artifact)
        if approved:
            return Verdict(True, artifact, rounds)
        if rounds >= edge.max_rounds:
            return Verdict(edge.max_rounds > 0, artifact, rounds)
        rounds += 1
        revised = await revise(artifact, feedback, rounds)
        if isinstance(revised, Broken):
            return Verdict(True, artifact, rounds, revised.message)
        artifact = revised


async def review_edge(
    calls: NodeCalls,
    edge: CompiledEdge,
    artifact: Any,
    source: Slot,
    inputs: dict[str, Any],
    on_review: ReviewListener,
) -> Verdict:
    """``settle`` on weft's engine: critic calls traced, revisions journaled."""

    async def ask(artifact: Any, rounds: int) -> ActionResult:
        return await call_critic(calls, edge, artifact, rounds)

    async def again(draft: Any, feedback: str, rounds: int) -> Any:
        return await revise(calls, edge, source, inputs, draft, feedback, rounds)

    return await settle(edge, artifact, ask, again, on_review)


def asks(result: ActionResult) -> bool:
    """Whether a critic's ``result`` stopped for a person's answer."""
    return result.state is ActionState.NEEDS_INPUT and question_of(result.error) is not None


def waiting(edge: CompiledEdge, result: ActionResult) -> ErrorInfo:
    """The target's error while the edge's critic waits for an answer. It holds no question
    itself: the question is the critic's, journaled under its key (``critic_key``)."""
    message = result.error.message if result.error is not None else "asks"
    return ErrorInfo(
        type=NEEDS_INPUT_TYPE,
        message=f"critic on {_named(edge)} waits for an answer: {message}",
    )


def critic_key(call: ActionCall) -> str:
    """The execution key a critic call's question is journaled and answered under."""
    return f"{call.node}:critic"


def read_review(output: Any, artifact: Any) -> tuple[bool, Any, str]:
    """``(approved, artifact, feedback)`` from a critic's answer; anything but a mapping
    with ``approved: false`` approves."""
    if not isinstance(output, dict):
        return True, artifact, ""
    approved = output.get("approved") is not False
    feedback = output.get("feedback")
    if not feedback:
        parts = [*(output.get("issues") or []), output.get("summary") or ""]
        feedback = "\n".join(f"- {p}" if len(parts) > 1 else str(p) for p in parts if p)
    return approved, output.get("artifact", artifact), _text(feedback)


def critic_call(
    edge: CompiledEdge,
    critic: str,
    artifact: Any,
    rounds: int,
    run_id: str,
    prefix: str = "",
    trace_id: str | None = None,
    parent_id: str | None = None,
) -> ActionCall:
    """The call of ``critic`` on ``edge`` about ``artifact``, keyed ``source->target[~round]``."""
    return ActionCall(
        action=critic,
        arguments={"artifact": artifact, "source": edge.source, "target": edge.target},
        run_id=run_id,
        trace_id=trace_id,
        parent_id=parent_id,
        node=f"{prefix}{_label(edge)}" + (f"~{rounds}" if rounds else ""),
    )


async def call_critic(
    calls: NodeCalls, edge: CompiledEdge, artifact: Any, rounds: int = 0
) -> ActionResult:
    """Call the critic on ``edge`` with the artifact it is about to deliver."""
    critic = calls.registry.get(edge.critic or "")
    call = critic_call(
        edge,
        critic.spec.name,
        artifact,
        rounds,
        calls.run_id,
        calls.prefix,
        calls.trace_id,
        calls.parent_id,
    )
    key = critic_key(call)
    answered = calls.answers.get(key) if calls.answers else None
    if answered:
        call.answers = tuple(answered)
    if calls.resume_states:  # what the critic saved when it asked (an LLM agent's turn)
        call.resume_state = calls.resume_states.get(key)
    target = calls.workflow.nodes[edge.target]
    ctx = ExecutionContext(calls, target, call.node or "", call)
    started = time.time()
    try:
        result = await critic.invoke(call, ctx)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result = ActionResult.from_exception(call.call_id, exc, source=critic.spec.name)
    calls.trace_call(call, result, started, kind="critic")
    calls.tally.add(result.usage)
    if asks(result) or answered:  # journaled: the question, or that it was answered
        state = NodeState.NEEDS_INPUT if asks(result) else NodeState.SUCCEEDED
        saved = journaled_state(result.resume_state, key) if asks(result) else None
        if saved is not None:  # handed back on resume (none that holds a secret)
            calls.event(
                EventKind.NODE_FINISHED,
                target,
                key,
                state,
                None,
                error=result.error,
                resume_state=saved,
            )
        else:
            calls.event(EventKind.NODE_FINISHED, target, key, state, None, error=result.error)
    return result


async def revise(
    calls: NodeCalls,
    edge: CompiledEdge,
    source: Slot,
    inputs: dict[str, Any],
    draft: Any,
    feedback: str,
    rounds: int,
) -> Any:
    """The source's revision of ``draft`` after ``feedback`` (round ``rounds``), or ``Broken``;
    one already journaled is served from the journal."""
    key = f"{calls.prefix}{_label(edge)}~{rounds}"
    if key in calls.cache:
        return calls.cache[key]
    request = revision_request(edge, source, inputs, draft, feedback, rounds)
    if isinstance(request, Broken):
        return request
    attempted = await calls.call(source.node, key, request)
    return revision_of(edge, rounds, attempted.result)


def revision_request(
    edge: CompiledEdge,
    source: Slot,
    inputs: dict[str, Any],
    draft: Any,
    feedback: str,
    rounds: int,
) -> dict[str, Any] | Broken:
    """The arguments of the source's revision call, or ``Broken`` saying why there are none."""
    node = source.node
    where = f"revision {rounds} of {_named(edge)}"
    try:
        arguments = node_arguments(source, inputs)
    except ExpressionError as exc:
        return Broken(f"{where}: {exc}")
    if isinstance(arguments, ForeachPlan):
        return Broken(f"{where}: a foreach node's artifact cannot be sent back for revision")
    revised = revision_arguments(node.action.spec, arguments, draft, feedback)
    if revised is None:
        return Broken(
            f"{where}: action '{node.action_name}' takes no 'feedback' parameter and no "
            "single text parameter, so the critic's instructions cannot be given to it"
        )
    return revised


def revision_of(edge: CompiledEdge, rounds: int, result: ActionResult) -> Any:
    """The revision a source's call gave, or ``Broken`` when the call failed."""
    if not result.ok:
        return Broken(f"revision {rounds} of {_named(edge)} failed: {_failure(result)}")
    return result.output


def revision_arguments(
    spec: ActionSpec, arguments: dict[str, Any], draft: Any, feedback: str
) -> dict[str, Any] | None:
    """The arguments that ask ``spec``'s action to revise ``draft`` (module docstring)."""
    schema = spec.input_schema
    properties = schema.get("properties") or {}
    if "feedback" in properties or (not properties and schema.get("additionalProperties", True)):
        revised = {**arguments, "feedback": feedback}
        if "draft" in properties or not properties:
            revised["draft"] = draft
        return revised
    param = "task" if "task" in properties else single_parameter(schema)
    if param is None:
        return None
    given = _text(arguments.get(param, ""))
    request = (
        f"{given}\n\nYour previous draft:\n{_text(draft)}\n\n"
        f"A reviewer sent it back with these instructions:\n{feedback or '(none given)'}\n\n"
        "Revise the draft accordingly and answer with the whole revised version."
    )
    return {**arguments, param: request}


def _failure(result: ActionResult) -> str:
    return result.error.message if result.error else result.state.value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _label(edge: CompiledEdge) -> str:
    """The edge in keys: ``source->target``."""
    return f"{edge.source}->{edge.target}"


def _named(edge: CompiledEdge) -> str:
    """The edge in messages: ``source -> target``."""
    return f"{edge.source} -> {edge.target}"
