"""``stream_workflow``: a run's events as an async iterator, LLM text included as it comes.

``run_workflow(..., listeners=[fn])`` already hands every ``RunEvent`` of a
run to ``fn``; this is the same run read as a stream, the way LangGraph's
``astream`` and the OpenAI Agents SDK's ``Runner.run_streamed`` are read::

    stream = weft.stream_workflow(wf, {"task": "Write a haiku"})
    async for event in stream:
        if (text := weft.text_delta(event)) is not None:
            print(text, end="", flush=True)
    result = stream.result  # the RunResult, once the loop has ended

It runs ``run_workflow`` with the same options, inside
``weft.agents.streaming.stream_text()``, so the run's ``LLMAgent``s left at
``stream=None`` stream their answers (remote ones too: the call asks their
agent). Every event of the run is yielded in order (node starts and ends,
progress, critics' reviews, text pieces); the text pieces are never
journaled (``weft.protocols.streaming``).

``engine="langgraph"`` runs it on LangGraph's engine instead
(``run_langgraph``, as ``weft run --engine langgraph``): its nodes' calls are
weft's own ``NodeCalls``, so their progress, text pieces included, reaches
the same listeners and the stream is the same.

Leaving the loop early (``break``) leaves the run going; ``await
stream.aclose()``, or ``async with stream:``, cancels it (the journal
records it cancelled, so ``resume_run`` finishes it). An error that stops
the run before it starts (``DefinitionError``, ``InputError``) is raised by
the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

from weft.agents.streaming import stream_text
from weft.protocols import RunEvent
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.engine.runner import Definition, run_workflow

_END = object()

#: The engines a stream can run on: weft's own, or LangGraph's (``to_langgraph``).
Engine = Literal["weft", "langgraph"]


class RunStream:
    """The events of one run, as they happen; ``result`` when it has ended."""

    def __init__(
        self,
        definition: Definition,
        inputs: dict[str, Any] | None,
        options: dict[str, Any],
        engine: Engine = "weft",
    ) -> None:
        if engine not in ("weft", "langgraph"):
            raise ValueError(f"engine must be 'weft' or 'langgraph', not {engine!r}")
        self._engine = engine
        self._definition = definition
        self._inputs = inputs
        self._options = options
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[RunResult] | None = None
        self._result: RunResult | None = None

    @property
    def result(self) -> RunResult:
        """The run's result; ``RuntimeError`` before the stream has ended."""
        if self._result is None:
            raise RuntimeError("the run has not ended: read the stream to its end first")
        return self._result

    def _start(self) -> asyncio.Task[RunResult]:
        listeners = [*self._options.pop("listeners", ()), self._queue.put_nowait]
        run: Any = run_workflow
        if self._engine == "langgraph":
            from weft.runtime.engine.to_langgraph import run_langgraph

            run = run_langgraph
        with stream_text():  # the task copies the context: its agents stream
            task = asyncio.create_task(
                run(self._definition, self._inputs, listeners=listeners, **self._options),
                name="weft-stream-workflow",
            )
        task.add_done_callback(lambda _: self._queue.put_nowait(_END))
        return task

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> RunEvent:
        if self._task is None:
            self._task = self._start()
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # a further __anext__ ends too
            self._result = self._task.result()  # raises what stopped the run
            raise StopAsyncIteration
        event: RunEvent = item
        return event

    async def aclose(self) -> None:
        """Cancel the run if it is still going, and wait until it has stopped."""
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def __aenter__(self) -> RunStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def stream_workflow(
    definition: Definition,
    inputs: dict[str, Any] | None = None,
    *,
    engine: Engine = "weft",
    **options: Any,
) -> RunStream:
    """Run a workflow and read its events as they happen (see the module docstring).

    Takes ``run_workflow``'s options (``run_langgraph``'s with ``engine="langgraph"``;
    ``listeners`` given here get the events too). Nothing runs until the stream is
    first read.
    """
    return RunStream(definition, inputs, dict(options), engine)
