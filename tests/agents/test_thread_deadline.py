"""The deadline a ``def`` tool sees is the one its node's timeout applies.

The timeout of a plain ``def`` tool counts from when a thread starts running
it, not while the call waits for one (``thread_clock``); ``ctx.call.deadline``
counts from the same moment, so a tool that budgets its work by the deadline
is given the time its wait in the pool's queue did not use.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from weft import Workflow, tool
from weft.protocols import ActionContext
from weft.runtime import run_workflow

TIMEOUT = 30.0  # the node's timeout: far longer than the test runs, nothing times out
HOLD = 0.4  # seconds each call holds the pool's only thread: the calls behind it wait
SLACK = 0.2  # what the deadline may lose to the hops between the clock and the tool


@tool(inline=True)
def items(value: Any) -> Any:
    """Pass a list on to a foreach."""
    return value


async def test_a_call_queued_for_a_thread_sees_its_deadline_from_when_it_starts() -> None:
    seen: dict[int, tuple[float, float | None]] = {}
    lock = threading.Lock()

    @tool(max_threads=1)  # a pool of one thread for three calls at once
    def budgeted(n: int, ctx: ActionContext) -> int:
        started = time.time()
        with lock:
            seen[n] = (started, ctx.call.deadline)
        time.sleep(HOLD)  # the work; the calls behind wait for the thread meanwhile
        return n

    wf = Workflow("queued")
    wf.node("items", items, with_={"value": [0, 1, 2]})
    wf.node("work", budgeted, after=["items"], foreach="${items}", with_={"n": "${item}"},
            timeout=TIMEOUT)  # fmt: skip
    submitted = time.time()
    result = await run_workflow(wf)

    assert result.ok, result.nodes["work"].error
    assert sorted(seen) == [0, 1, 2]
    last_start = max(started for started, _ in seen.values())
    assert last_start - submitted >= 2 * HOLD  # the last call waited behind two others
    for n, (started, deadline) in seen.items():
        assert deadline is not None
        # start + timeout; submit + timeout would be up to 2 * HOLD short of it
        assert TIMEOUT - SLACK <= deadline - started <= TIMEOUT, (n, deadline - started)


async def test_a_def_tool_in_a_node_without_timeout_sees_no_deadline() -> None:
    @tool
    def read_deadline(ctx: ActionContext) -> float | None:
        return ctx.call.deadline

    wf = Workflow("untimed")
    wf.node("read", read_deadline)
    untimed = await run_workflow(wf)
    assert untimed.ok and untimed.outputs == {"read": None}
