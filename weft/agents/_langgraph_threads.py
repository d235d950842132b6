"""The checkpointer thread a LangGraph graph runs a weft call on, and how it is called.

Two things a graph compiled with a checkpointer needs that a bare ``ainvoke``
does not give:

- **A thread started before is carried on, not run again.** The call's
  thread is its idempotency key, the same on every attempt and after ``weft
  resume``. LangGraph resumes a thread that stopped on an error with
  ``ainvoke(None)`` (the nodes that finished are not run again); given the
  input again, it would start a new run *on that state*, and a reducer
  (``operator.add``, ``add_messages``) would add the input a second time.
  A thread that had finished gives its final state again.
- **A checkpointer without async methods is called through the sync API.**
  The sync savers LangGraph ships (``SqliteSaver``, ``PostgresSaver``) raise
  ``NotImplementedError`` from ``aget_tuple`` and so from ``ainvoke``; the
  graph runs with ``invoke`` in one of weft's worker threads instead
  (``worker_threads``): a timeout or cancellation returns at once and the
  graph runs on in its thread until its current node returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weft.agents.worker_threads import run_in_thread, shared_pool


@dataclass(frozen=True)
class Thread:
    """The call's thread of ``graph``: whether it has a checkpoint, and how to call it."""

    graph: Any
    config: dict[str, Any]
    started: bool = False
    sync: bool = False

    async def invoke(self, value: Any) -> Any:
        """``graph.ainvoke(value, config)``, or ``invoke`` in a worker thread when ``sync``."""
        if self.sync:
            return await run_in_thread(
                shared_pool(), self.graph.invoke, {"input": value, "config": self.config}
            )
        return await self.graph.ainvoke(value, self.config)

    async def delete(self) -> None:
        """Drop the thread's checkpoints (a replay starts it anew)."""
        saver = self.graph.checkpointer
        thread_id = self.config["configurable"]["thread_id"]
        if self.sync:
            await run_in_thread(shared_pool(), saver.delete_thread, {"thread_id": thread_id})
        else:
            await saver.adelete_thread(thread_id)


async def thread_of(graph: Any, config: dict[str, Any]) -> Thread:
    """The thread ``config`` names; a graph without a checkpointer has none to read."""
    saver: Any = getattr(graph, "checkpointer", None)
    if "configurable" not in config or not callable(getattr(saver, "aget_tuple", None)):
        return Thread(graph, config)
    try:
        found = await saver.aget_tuple(config)
    except NotImplementedError:  # a sync-only saver (SqliteSaver, PostgresSaver)
        found = await run_in_thread(shared_pool(), saver.get_tuple, {"config": config})
        return Thread(graph, config, started=found is not None, sync=True)
    return Thread(graph, config, started=found is not None)
