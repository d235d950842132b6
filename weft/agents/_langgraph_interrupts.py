"""LangGraph's ``interrupt()`` as a weft question, and weft's answers as ``Command(resume=...)``.

A graph that calls ``interrupt(value)`` stops with ``__interrupt__`` in the
state ``ainvoke`` returns, waiting for a person. Handed on as the action's
output, that half-done state would look like a success to the nodes below
it. So a graph that interrupts is asked the weft way (``human_input``): the
call ends ``needs_input`` with the interrupt's question, and ``weft resume
--answer NODE=VALUE`` calls it again with the answers, one per interrupt, in
the order the graph raised them.

A resumed call runs the graph from its start on a thread of its own and
gives the answers back with ``Command(resume={interrupt_id: answer})`` one
interrupt at a time: the same replay weft does for any action that asks, so
it holds when the call runs again in another process, and a graph compiled
without a checkpointer (which LangGraph needs to resume) runs on a copy with
an in-memory one. Interrupts raised at once by parallel nodes are answered in
the order LangGraph lists them.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from weft.protocols import ActionResult
from weft.protocols.errors import NeedsInput

T = TypeVar("T")

#: Keys of a dict interrupt value that hold the question (the first found is used).
QUESTION_KEYS = ("question", "message", "prompt", "text")
#: Keys of a dict interrupt value that hold the allowed answers.
CHOICE_KEYS = ("choices", "options")


def pending(state: Any) -> list[Any]:
    """The interrupts a graph stopped on (``__interrupt__`` of the returned state), if any."""
    if not isinstance(state, dict):
        return []
    found = state.get("__interrupt__")
    return list(found) if isinstance(found, list | tuple) else []


def question_of(value: Any) -> tuple[str, list[Any] | None]:
    """The question and choices a person is shown for ``interrupt(value)``.

    A string is the question. A dict gives it under ``question`` (or
    ``message``, ``prompt``, ``text``) and its choices under ``choices`` (or
    ``options``); anything else is shown as JSON, for want of a better text.
    """
    if isinstance(value, str) and value.strip():
        return value, None
    if isinstance(value, dict):
        text = next(
            (value[k] for k in QUESTION_KEYS if isinstance(value.get(k), str) and value[k]), None
        )
        choices = next((value[k] for k in CHOICE_KEYS if isinstance(value.get(k), list)), None)
        if text is not None:
            return text, choices
    return json.dumps(value, default=str, ensure_ascii=False), None


def resume_command(interrupt: Any, answer: Any) -> Any:
    """``Command(resume=...)`` answering ``interrupt`` (by its id, so parallel ones keep apart)."""
    from langgraph.types import Command

    interrupt_id = getattr(interrupt, "id", None)
    return Command(resume={interrupt_id: answer} if interrupt_id else answer)


def asked(call_id: str, source: str, interrupt: Any, index: int, shown: Any) -> ActionResult:
    """The ``needs_input`` result for ``interrupt``, the call's ``index``-th question.

    ``shown`` (the interrupt's value as JSON data) stays in the error's
    details as ``interrupt``: what the graph wanted the person to see with it.
    """
    question, choices = question_of(getattr(interrupt, "value", interrupt))
    result = ActionResult.from_exception(
        call_id, NeedsInput(question, choices=choices, index=index), source=source
    )
    if result.error is not None:
        result.error.details["interrupt"] = shown
    return result


def answers_thread(key: str, answers: Sequence[Any]) -> str:
    """The thread a call with ``answers`` replays on: its own, so a checkpointer that
    kept the interrupted thread is not run again from its start with the input."""
    return f"{key}:answers:{len(answers)}"


async def detached(work: Coroutine[Any, Any, T]) -> T:
    """Await ``work`` outside any LangGraph run the call is made from.

    Under ``weft run --engine langgraph`` a node's action is called from inside
    LangGraph's own node, and a graph invoked there takes the run's config
    from a context variable: it becomes a subgraph of weft's graph, so its
    ``interrupt()`` raises through weft's graph instead of returning, and it
    would share weft's checkpoint namespace. A weft action is opaque, so the
    graph runs in a copy of the context without that variable (cancelling
    the caller cancels it). ``var_child_runnable_config`` is langchain-core's,
    not documented API: pinned below 2 in the ``langgraph`` extra, and
    ``tests/interop/test_langgraph_interrupts.py`` runs this on both engines.
    """
    from langchain_core.runnables.config import var_child_runnable_config

    if var_child_runnable_config.get() is None:
        return await work
    context = contextvars.copy_context()
    context.run(var_child_runnable_config.set, None)
    return await asyncio.get_running_loop().create_task(work, context=context)
