"""The events both engines emit for a critic's review and a loop's pass, built in one place.

``weft run``'s live display and every other run listener must see the same
events whichever engine ran the workflow (weft's ``scheduler`` or LangGraph's
``to_langgraph``); these functions are the one definition of their fields.
"""

from __future__ import annotations

import time

from weft.protocols import ActionResult, EventKind, RunEvent
from weft.runtime.engine.compiled import CompiledEdge


def review_event(
    run_id: str, prefix: str, edge: CompiledEdge, result: ActionResult, rounds: int
) -> RunEvent:
    """One review of an artifact on ``edge``: the critic, its answer and the round it was in,
    keyed ``{prefix}source->target``."""
    return RunEvent(
        run_id=run_id,
        kind=EventKind.PROGRESS,
        at=time.time(),
        node=prefix + edge.target,
        key=f"{prefix}{edge.source}->{edge.target}",
        error=result.error,
        usage=result.usage,
        data={"critic": edge.critic, "review": result.output, "round": rounds},
    )


def loop_event(run_id: str, prefix: str, source: str, target: str, iteration: int) -> RunEvent:
    """A loop edge ``source -> target`` started pass ``iteration`` (1 for the first repeat)."""
    return RunEvent(
        run_id=run_id,
        kind=EventKind.LOOP_ITERATION,
        at=time.time(),
        node=prefix + target,
        data={"source": source, "iteration": iteration},
    )
