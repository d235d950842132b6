"""Repro: a loaded pool with a tiny ack window runs calls twice (before the fix)."""
from __future__ import annotations
import asyncio
from collections import Counter
from pathlib import Path
from distributed_agents import events
from distributed_support import AgentProcesses, agent_of, fast_bus
import weft
from weft.runtime.remote.live_registry import LiveRegistry


async def test_repro(agent_procs: AgentProcesses, broker_url: str, ns: str, tmp_path: Path) -> None:
    log = tmp_path / "ledger.log"
    procs = [await agent_procs.start("distributed_agents:ledger", args=("--concurrency", "8")) for _ in range(4)]
    async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus, ack_timeout=0.05) as registry:
        for p in procs:
            await agent_of(registry, p)
        wf = weft.Workflow("ledger")
        wf.input("keys", type="array")
        wf.node("fx", "ledger", foreach="${inputs.keys}", with_={"key": "${item}", "log": str(log), "delay": 0.02}, timeout=120)
        keys = [f"k{i}" for i in range(600)]
        result = await weft.run_workflow(wf, {"keys": keys}, actions=registry.actions(["ledger"]))
    assert result.ok, result.error
    done = Counter(k for e, k, _ in events(log) if e == "done")
    twice = {k: n for k, n in done.items() if n > 1}
    print("doubled", len(twice))
    assert set(done) == set(keys)
    assert not twice, f"{len(twice)} calls ran twice"
