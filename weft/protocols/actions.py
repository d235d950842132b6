"""The one action schema: every callable thing in weft is described and called alike.

A Python function, an LLM agent, a LangGraph graph, a remote agent process, a
team and a whole workflow are all an ``ActionSpec``; they are invoked with an
``ActionCall`` and always answer with an ``ActionResult`` whose ``state`` says
explicitly what happened. Nothing here does I/O, so these models are the wire
format of the bus as well as the in-process calling convention.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols.capability import CapabilityCard
from weft.protocols.errors import ActionFailed, NeedsInput


class ActionKind(StrEnum):
    """What sort of thing sits behind an action; callers never need to care."""

    TOOL = "tool"
    AGENT = "agent"
    TEAM = "team"
    WORKFLOW = "workflow"
    REMOTE = "remote"


class ActionState(StrEnum):
    """The explicit outcome of a call. Only ``ok`` carries a usable output."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    NEEDS_INPUT = "needs_input"


def new_id() -> str:
    """A random id of 32 hex chars (128 bits), the size of an OpenTelemetry trace id."""
    return os.urandom(16).hex()


def new_call_id() -> str:
    """A random 64-bit call id (16 hex chars); it doubles as the call's span id."""
    return os.urandom(8).hex()


class ActionSpec(BaseModel):
    """How an action presents itself: enough for a caller, a router and an LLM."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="Unique name callers use, e.g. 'word_stats'.")
    version: str = Field(default="1", description="Version of the action's behaviour.")
    kind: ActionKind = Field(default=ActionKind.TOOL, description="What implements the action.")
    description: str = Field(default="", description="What the action does, for people and LLMs.")
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments object.",
    )
    output_schema: dict[str, Any] = Field(
        default_factory=dict, description="JSON Schema of the output; empty means any."
    )
    card: CapabilityCard | None = Field(
        default=None, description="Capability card used for routing by capability."
    )


#: ``ErrorInfo.type`` of a call that stopped for a person's answer (``NeedsInput``).
NEEDS_INPUT_TYPE = "NeedsInput"

#: Exceptions that mean "try again later" when an action raises them.
RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError)

#: Longest traceback an ``ErrorInfo`` keeps (``details["traceback"]``), in characters. Its
#: end is kept, where the exception was raised: the error travels in results over the bus
#: and sits in the trace and the journal, so it stays this small.
TRACEBACK_MAX_CHARS = 2000

#: Where ``ErrorInfo.from_exception`` logs each exception it turns into an error, at debug
#: level with the exception attached (standard ``logging``: silent unless configured).
_log = logging.getLogger("weft.actions")


#: weft's own source folder: the frames that call into an action are left out of tracebacks.
_WEFT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def format_traceback(exc: BaseException, max_chars: int = TRACEBACK_MAX_CHARS) -> str:
    """``exc``'s traceback as Python prints it, cut to its last ``max_chars`` characters.

    Its first frames are left out while they are weft's own (the executor and
    the tool wrapper calling into the action), so it starts where the
    action's code does; a traceback with no frame outside weft is kept whole.
    The cut falls before a frame (else on a line boundary) and is marked on
    the first line (``… [N chars cut]``), so what remains starts with a whole
    frame and ends with the exception itself, chained exceptions included.
    """
    report = traceback.TracebackException.from_exception(exc)
    frames = report.stack
    first = next(
        (i for i, frame in enumerate(frames) if not frame.filename.startswith(_WEFT_DIR)), 0
    )
    if first:
        report.stack = traceback.StackSummary.from_list(frames[first:])
    text = "".join(report.format())
    if len(text) <= max_chars:
        return text
    start = len(text) - max_chars
    for boundary in ("\n  File ", "\n"):
        found = text.find(boundary, start)
        if 0 <= found < len(text) - len(boundary):
            start = found + 1
            break
    return f"… [{start} chars cut]\n{text[start:]}"


class ErrorInfo(BaseModel):
    """A structured error; ``retryable`` tells the executor whether trying again can help."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(description="Machine-readable kind, e.g. 'ValidationError', 'Timeout'.")
    message: str = Field(description="Human-readable explanation naming what went wrong.")
    retryable: bool = Field(default=False, description="True when a retry may succeed.")
    field: str | None = Field(default=None, description="The argument at fault, if any.")
    details: dict[str, Any] = Field(default_factory=dict, description="Extra structured context.")

    @classmethod
    def from_exception(cls, exc: BaseException, *, source: str | None = None) -> ErrorInfo:
        """How weft reports an exception, wherever it was caught (tool, executor, agent host).

        ``ActionFailed`` (and its subclasses, such as an LLM agent's
        ``ModelCallError``) keeps the error type and retry advice its raiser
        chose. Any other exception is typed by its class name and is retryable
        only when it is a ``TimeoutError`` or ``ConnectionError``: those are
        the failures another attempt can outlive. ``source`` (an action, node
        or agent) starts the message, so it names what failed.

        Any other exception also keeps its traceback in ``details["traceback"]``
        (``format_traceback``: the last ``TRACEBACK_MAX_CHARS`` characters), so
        the trace and a remote caller see where it was raised. An
        ``ActionFailed`` does not: it is a failure its raiser chose, and its
        type and message are the report. Every exception is also logged at
        debug level on the ``weft.actions`` logger with its traceback.
        """
        details: dict[str, Any] = {}
        if isinstance(exc, NeedsInput):
            # A question, not a failure: kept whole for whoever answers it.
            details = {"question": exc.question, "choices": exc.choices, "index": exc.index}
            error_type, retryable = NEEDS_INPUT_TYPE, False
        elif isinstance(exc, ActionFailed):
            error_type, retryable = exc.error_type, exc.retryable
        else:
            error_type = type(exc).__name__
            retryable = isinstance(exc, RETRYABLE_EXCEPTIONS)
            details["traceback"] = format_traceback(exc)
        text = str(exc) or type(exc).__name__
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s raised %s: %s", source or "an action", error_type, text, exc_info=exc)
        return cls(
            type=error_type,
            message=f"{source}: {text}" if source else text,
            retryable=retryable,
            details=details,
        )


class Usage(BaseModel):
    """Resources one call consumed; results of nested calls add up into their caller.

    Immutable, so one zero ``Usage`` can be shared by every call that spent nothing.
    ``latency_s`` is filled by actions that wait on something (LLM, remote
    agent); local tools leave it 0, their time is on their span.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    llm_calls: int = Field(default=0, description="Number of LLM requests made.")
    prompt_tokens: int = Field(default=0, description="Prompt tokens billed.")
    completion_tokens: int = Field(default=0, description="Completion tokens billed.")
    cost: float = Field(default=0.0, description="Cost in USD, when the provider prices it.")
    latency_s: float = Field(default=0.0, description="Wall time of the call in seconds.")

    def add(self, other: Usage) -> Usage:
        """Sum of two usages; latency adds too (it is summed work, not wall time)."""
        return Usage(
            llm_calls=self.llm_calls + other.llm_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost=self.cost + other.cost,
            latency_s=self.latency_s + other.latency_s,
        )


NO_USAGE = Usage()


class ProgressEvent(BaseModel):
    """A progress report an action emits while it runs (streamed to listeners)."""

    model_config = ConfigDict(extra="ignore")

    call_id: str = Field(description="The call this progress belongs to.")
    message: str = Field(default="", description="What is happening now.")
    fraction: float | None = Field(default=None, description="Completion between 0 and 1.")
    data: dict[str, Any] = Field(default_factory=dict, description="Any structured detail.")
    at: float = Field(default_factory=time.time, description="Unix time of the event.")


class ActionCall(BaseModel):
    """One invocation of an action.

    A server runs each ``(call_id, attempt)`` once (QoS 1 may deliver twice);
    the action's own side effects are keyed by ``idempotency_key_of(call)``,
    which stays the same when the call is retried or moved to another agent.
    """

    model_config = ConfigDict(extra="ignore")

    call_id: str = Field(
        default_factory=new_call_id, description="Unique id of the call; also its span id."
    )
    action: str = Field(description="Name of the action to invoke.")
    arguments: dict[str, Any] = Field(default_factory=dict, description="Arguments object.")
    run_id: str | None = Field(default=None, description="Run this call belongs to.")
    trace_id: str | None = Field(default=None, description="Trace id (32 hex chars).")
    parent_id: str | None = Field(default=None, description="Span id of the caller.")
    node: str | None = Field(default=None, description="Workflow node that made the call.")
    attempt: int = Field(default=1, ge=1, description="1 for the first try, 2 for the first retry.")
    deadline: float | None = Field(
        default=None, description="Unix time after which the result is useless."
    )
    idempotency_key: str | None = Field(
        default=None,
        description="Key of the work this call does, the same on every attempt, fail-over and "
        "resume of it; None means derived from run and node (``idempotency_key_of``).",
    )
    answers: tuple[Any, ...] = Field(
        default=(),
        description="A person's answers to the questions this call asked before, in the order "
        "it asked them (``ActionContext.ask``; ``weft resume --answer``).",
    )
    resume_state: dict[str, Any] | None = Field(
        default=None,
        description="The state this action saved when it last stopped ``needs_input`` "
        "(``ActionResult.resume_state``), handed back when it is resumed with the answers, "
        "so it goes on where it stopped; None: start from the beginning. Opaque to weft.",
    )


def idempotency_key_of(call: ActionCall) -> str:
    """The stable key of ``call``'s work, for making its external side effects idempotent.

    Its own ``idempotency_key`` if set (a nested call, see
    ``ActionContext.invoke``); else ``{run_id}:{node}`` for a workflow node
    (the node's key names a foreach item ``fx[3]``, a loop pass ``n#2``, a
    sub-workflow's node ``sub/n``); else the call id, which a remote call
    keeps when it is re-sent to another agent. The same value on every
    attempt (retries, fail-over to another replica) and after ``weft
    resume`` of the same node or item.
    """
    if call.idempotency_key:
        return call.idempotency_key
    if call.run_id and call.node:
        return f"{call.run_id}:{call.node}"
    return call.call_id


class ActionResult(BaseModel):
    """The answer to a call; its ``state`` is the single source of truth on outcome."""

    model_config = ConfigDict(extra="ignore")

    call_id: str = Field(description="Id of the call this answers.")
    state: ActionState = Field(description="Outcome of the call.")
    output: Any = Field(default=None, description="The output, meaningful when state is ok.")
    error: ErrorInfo | None = Field(default=None, description="Set unless state is ok.")
    usage: Usage = Field(
        default=NO_USAGE, description="Resources consumed (the shared zero, unless some were)."
    )
    progress: list[ProgressEvent] = Field(
        default_factory=list, description="Progress events emitted during the call."
    )
    agent: str | None = Field(default=None, description="Which agent instance answered.")
    attempts: int | None = Field(
        default=None,
        ge=1,
        description="Attempts the action itself made for this result when more than one "
        "(a remote call re-sent to another agent after the first vanished); the executor "
        "counts them in the node's attempts. None means one.",
    )
    resume_state: dict[str, Any] | None = Field(
        default=None,
        description="With state ``needs_input``: what the action chose to save to go on "
        "where it stopped (JSON, opaque to weft). The engine journals it with the question "
        "and hands it back on the resumed call (``ActionCall.resume_state``); an action must "
        "validate it and may ignore it (then it starts again from its beginning).",
    )

    @property
    def ok(self) -> bool:
        return self.state is ActionState.OK

    @classmethod
    def success(cls, call_id: str, output: Any, usage: Usage | None = None) -> ActionResult:
        """An ``ok`` result; ``usage`` defaults to the shared zero ``NO_USAGE``.

        Built with validation on the executor's per-node path on purpose: it
        costs about 1.7 µs, less than pydantic's unvalidated
        ``model_construct`` (about 3 µs, it walks the fields in Python).
        """
        if usage is None:
            return cls(call_id=call_id, state=ActionState.OK, output=output)
        return cls(call_id=call_id, state=ActionState.OK, output=output, usage=usage)

    @classmethod
    def failure(
        cls,
        call_id: str,
        error_type: str,
        message: str,
        *,
        state: ActionState = ActionState.ERROR,
        retryable: bool = False,
        field: str | None = None,
        usage: Usage | None = None,
    ) -> ActionResult:
        return cls(
            call_id=call_id,
            state=state,
            error=ErrorInfo(type=error_type, message=message, retryable=retryable, field=field),
            usage=usage if usage is not None else NO_USAGE,
        )

    @classmethod
    def from_exception(
        cls,
        call_id: str,
        exc: BaseException,
        *,
        source: str | None = None,
        usage: Usage | None = None,
    ) -> ActionResult:
        """The error result of a call that raised ``exc``: see ``ErrorInfo.from_exception``.

        ``NeedsInput`` (``ActionContext.ask``) is no error: the result's state is
        ``needs_input`` and its error carries the question.

        Every layer that catches an action's exception (a tool, the executor,
        the agent host, an LLM agent) answers through this one rule.
        """
        return cls(
            call_id=call_id,
            state=ActionState.NEEDS_INPUT if isinstance(exc, NeedsInput) else ActionState.ERROR,
            error=ErrorInfo.from_exception(exc, source=source),
            usage=usage if usage is not None else NO_USAGE,
        )
