"""A caller that lives long gives back what each remote run or call took.

Two shapes of a service: one that connects, runs a workflow on the agents and
disconnects, again and again (``remote_actions`` per request); and one that
stays connected and makes many calls at once. Either way the caller's open
fds, threads and asyncio tasks, its bus's subscriptions and its calls in
flight come back to what they were after the first round. ``bench/soak.py``
measures the same at 500 cycles and 10,000 calls, with RSS and latency.
"""

from __future__ import annotations

import asyncio
import gc
import os

from distributed_support import AgentProcesses, agent_of

from weft import Workflow, run_workflow
from weft.protocols import ActionCall
from weft.runtime.remote.distributed import remote_actions
from weft.runtime.remote.live_registry import LiveRegistry

CYCLES = 15
CALLS = 300
CONCURRENCY = 16


def held() -> tuple[int, int, int]:
    """Open fds, threads and asyncio tasks of this process."""
    gc.collect()
    return (
        len(os.listdir("/proc/self/fd")),
        len(os.listdir("/proc/self/task")),
        len(asyncio.all_tasks()),
    )


async def test_connecting_running_and_disconnecting_again_and_again_releases_everything(
    broker_url: str, ns: str, agent_procs: AgentProcesses, caller: LiveRegistry
) -> None:
    await agent_of(caller, await agent_procs.start("distributed_agents:shout"))
    wf = Workflow("soak-cycles")
    wf.node("shout", "shout", with_={"text": "${inputs.text}"})

    async def cycle(text: str) -> None:
        async with remote_actions(broker_url, wf, namespace=ns, wait=10) as actions:
            result = await run_workflow(wf, {"text": text}, actions=actions, record=False)
        assert result.ok and result.outputs["shout"] == text.upper()

    await cycle("warm up")
    before = held()
    for i in range(CYCLES):
        await cycle(f"cycle {i}")
    fds, threads, tasks = held()
    assert fds <= before[0] and threads <= before[1] + 1 and tasks == before[2]


async def test_many_calls_on_one_connection_leave_nothing_in_flight(
    agent_procs: AgentProcesses, caller: LiveRegistry
) -> None:
    for _ in range(2):
        await agent_of(caller, await agent_procs.start("distributed_agents:shout"))
    shout = caller.remote("shout")
    bus = caller.bus
    await shout.invoke(ActionCall(action="shout", arguments={"text": "warm up"}))
    before, filters = held(), (len(bus._filters), len(bus._by_id))  # type: ignore[attr-defined]
    texts = iter(range(CALLS))

    async def worker() -> None:
        for i in texts:
            result = await shout.invoke(ActionCall(action="shout", arguments={"text": f"t{i}"}))
            assert result.ok and result.output == f"T{i}"

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    assert held()[2] == before[2]
    assert held()[:2] <= (before[0], before[1] + 1)
    assert (len(bus._filters), len(bus._by_id)) == filters  # type: ignore[attr-defined]
    assert not shout.client._waiters and not shout.client._open
    assert not shout.client.outstanding
