"""``weft ask --broker`` judges an agent's card when the router chooses its action.

The ask's agents on the broker used to be taken through
``LiveRegistry.actions()``, which judged every agent's card up front: an
untrusted agent the router never chose was warned about all the same. Now
they join as candidates (``weft.runtime.remote.candidates``, as for a
workflow's capability nodes); an untrusted favourite of the router is
skipped for the next candidate a trusted agent serves, noted in the
``route`` span and, once, in the log. The actions a ``--workflow`` names
are still judged at once, as ``weft run --broker`` judges them.
``$WEFT_HOME`` is a fresh folder per test: the trusted agent is the one
signed with this user's default key.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from distributed_agents import shout
from distributed_support import WAIT, fast_bus
from test_capability_trust import RankedRouter, translate, trusted_and_stranger, warnings_of

from weft.cli.ask import _remote_agents
from weft.runtime.engine.registry import ActionRegistry
from weft.runtime.orchestrator import Orchestrator, RulePlanner
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.tracing import MemoryTracer

TASK = "Translate the greeting into Spanish."


async def _ask(broker_url: str, ns: str, order: list[str], tracer: MemoryTracer) -> object:
    """The ask as ``weft ask --broker`` makes it: the broker's agents join a registry."""
    registry = ActionRegistry()
    async with _remote_agents(broker_url, ns, registry):
        return await Orchestrator(
            registry, router=RankedRouter(order), planner=RulePlanner(), tracer=tracer
        ).ask(TASK)


async def test_an_untrusted_agent_the_ask_does_not_route_to_is_not_warned_about(
    broker_url: str, ns: str, caller: LiveRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    async with trusted_and_stranger(broker_url, ns, caller, translate, shout):
        with caplog.at_level(logging.INFO, logger="weft"):
            answer = await _ask(broker_url, ns, ["translate", "shout"], MemoryTracer())
    assert answer.ok, answer.error  # type: ignore[attr-defined]
    assert answer.routes == {"s1": "translate"}  # type: ignore[attr-defined]
    assert not any("stranger" in m for m in warnings_of(caplog)), warnings_of(caplog)


async def test_an_untrusted_favourite_of_the_ask_is_skipped_for_the_next_trusted_candidate(
    broker_url: str, ns: str, caller: LiveRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = MemoryTracer()
    async with trusted_and_stranger(broker_url, ns, caller, shout, translate):
        with caplog.at_level(logging.INFO, logger="weft"):
            answer = await _ask(broker_url, ns, ["translate", "shout"], tracer)
    assert answer.ok, answer.error  # type: ignore[attr-defined]
    assert answer.routes == {"s1": "shout"}  # type: ignore[attr-defined]  # the runner-up
    [route] = [s for s in tracer.by_kind("route") if s.node == "s1"]
    assert route.attributes["weft.action"] == "shout"
    skipped = route.attributes["weft.skipped"]
    assert list(skipped) == ["translate"]
    assert "not trusted" in skipped["translate"] and "stranger" in skipped["translate"]
    excluded = {c["agent_id"]: c["excluded"] for c in route.attributes["candidates"]}
    assert excluded["translate"].startswith("refused when chosen: not trusted")
    assert excluded["shout"] is None
    warned = warnings_of(caplog)  # judged when chosen, and said once
    assert sum(m.startswith("agent stranger is not trusted") for m in warned) == 1, warned


async def test_an_ask_whose_only_candidate_is_untrusted_is_refused_naming_it(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    async with (
        fast_bus(broker_url, ns) as stranger_bus,
        AgentHost(stranger_bus, [translate], agent_id="stranger", key=AgentKey.generate()),
    ):
        assert await caller.wait_until(lambda: len(caller.agents()) == 1, WAIT)
        with pytest.raises(Exception) as raised:
            await _ask(broker_url, ns, ["translate"], MemoryTracer())
    assert "refused when chosen: not trusted" in str(raised.value), raised.value


async def test_the_actions_a_workflow_ask_names_are_judged_at_once(
    broker_url: str, ns: str, caller: LiveRegistry, tmp_path: Path
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text("name: named\nnodes:\n  work: {action: translate, with: {text: hi}}\n")
    async with (
        fast_bus(broker_url, ns) as stranger_bus,
        AgentHost(stranger_bus, [translate], agent_id="stranger", key=AgentKey.generate()),
        fast_bus(broker_url, ns) as trusted_bus,
        AgentHost(trusted_bus, [shout], agent_id="trusted-shouter"),
    ):
        assert await caller.wait_until(lambda: len(caller.agents()) == 2, WAIT)
        registry = ActionRegistry()
        async with _remote_agents(broker_url, ns, registry, str(workflow)):
            names = registry.names()
    assert names == ["shout"]  # an untrusted agent's 'translate' would be waited for in vain
