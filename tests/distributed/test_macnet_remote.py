"""A MacNet-shaped layered workflow where every node is a distinct remote agent.

100 agents (one action each, ``bench/topology_agents.py``) served by two
``weft agent serve --agent-per-action`` processes; the orchestrator casts
node ``n{i}`` to action ``node-{i}``, which only agent ``i`` serves. The
1,000-node version runs in ``bench/topologies.py``.
"""

from __future__ import annotations

import pytest
from distributed_support import STARTUP, AgentProcesses

from weft.runtime import Executor, compile_workflow
from weft.runtime.remote.live_registry import LiveRegistry
from weft.workflows.casting import per_node
from weft.workflows.topologies import generate

NODES = 100
WIDTH = 10
PROCESSES = 2
AGENTS = "bench/topology_agents.py:actions"


async def test_every_node_of_a_layered_macnet_runs_on_its_own_remote_agent(
    caller: LiveRegistry, agent_procs: AgentProcesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = NODES // PROCESSES
    for first in range(0, NODES, share):
        monkeypatch.setenv("WEFT_NODES_FIRST", str(first))
        monkeypatch.setenv("WEFT_NODES_COUNT", str(share))
        await agent_procs.start(AGENTS, args=("--agent-per-action", "--heartbeat", "5"))
    assert await caller.wait_until(lambda: len(caller.agents()) == NODES, STARTUP)
    pids = {info.card.pid for info in caller.agents()}
    assert len(pids) == PROCESSES

    actors = per_node(lambda _node, i: caller.remote(f"node-{i}"))
    workflow = generate("layered", NODES, actors, width=WIDTH)
    result = await Executor().run(compile_workflow(workflow), {"task": "review the design"})

    assert result.ok, result.error
    assert len(result.nodes) == NODES
    for i in range(NODES):
        outcome = result.nodes[f"n{i}"]
        fed_by = 0 if i < WIDTH else WIDTH  # every node of the previous layer
        assert outcome.output == f"n{i}<{fed_by}"
        serving = caller.serving(f"node-{i}")
        assert [a.agent_id for a in serving] == [outcome.agent]
    assert len({outcome.agent for outcome in result.nodes.values()}) == NODES
