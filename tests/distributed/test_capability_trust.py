"""A capability node's candidates on the broker are judged when the router chooses them.

A node that names a ``capability:`` may be served by any action an agent on
the broker serves. Every agent's card used to be judged before the run, so
an untrusted agent the router never chose was warned about all the same.
Now the candidates come from the cards as they are; the agents of the
router's choice are judged when it is made, and an untrusted favourite is
skipped for the next candidate a trusted agent serves, noted in the
``route`` span (``weft.skipped``, the candidate ``excluded``) and in the log.
``$WEFT_HOME`` is a fresh folder per test, so the trusted agent is the one
signed with this user's default key.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from distributed_agents import shout
from distributed_support import WAIT, fast_bus

import weft
from weft.protocols import (
    Candidate,
    CapabilityCard,
    RouteRequest,
    RoutingDecision,
)
from weft.runtime.engine.runner import run_workflow
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey
from weft.runtime.remote.distributed import actions_for
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.tracing import MemoryTracer


@weft.tool(name="translate")
def translate(text: str) -> str:
    """Translate a text into Spanish."""
    return f"es({text})"


WORKFLOW = """
name: routed
nodes:
  work:
    capability: "translate the text into Spanish"
    with: {task: "hi"}
"""


class RankedRouter:
    """A router that ranks the cards it was given in a fixed order of agent ids."""

    def __init__(self, order: list[str]) -> None:
        self.order = order
        self.cards: dict[str, CapabilityCard] = {}

    async def upsert(self, card: CapabilityCard) -> None:
        self.cards[card.agent_id] = card

    async def remove(self, agent_id: str) -> None:
        self.cards.pop(agent_id, None)

    async def record_outcome(self, request: RouteRequest, agent_id: str, success: bool) -> None:
        return None

    async def route(self, request: RouteRequest) -> RoutingDecision:
        ranked = [self.cards[a] for a in self.order if a in self.cards]
        candidates = [
            Candidate(agent_id=c.agent_id, version=c.version, score=1.0 - i / 10)
            for i, c in enumerate(ranked)
        ]
        return RoutingDecision(
            request=request, chosen=ranked[0] if ranked else None, candidates=candidates
        )


@contextlib.asynccontextmanager
async def trusted_and_stranger(
    broker_url: str, ns: str, caller: LiveRegistry, trusted: Any, untrusted: Any
) -> AsyncIterator[None]:
    """An agent signed with this user's key serving ``trusted``, and one signed with a
    stranger's key serving ``untrusted``, both seen by ``caller``."""
    async with (
        fast_bus(broker_url, ns) as trusted_bus,
        fast_bus(broker_url, ns) as stranger_bus,
        AgentHost(trusted_bus, [trusted], agent_id=f"trusted-{trusted.name}"),
        AgentHost(stranger_bus, [untrusted], agent_id="stranger", key=AgentKey.generate()),
    ):
        assert await caller.wait_until(lambda: len(caller.agents()) == 2, WAIT)
        yield


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_untrusted_agent_the_router_does_not_choose_is_not_warned_about(
    broker_url: str, ns: str, caller: LiveRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW)
    async with trusted_and_stranger(broker_url, ns, caller, translate, shout):
        with caplog.at_level(logging.INFO, logger="weft"):
            actions = await actions_for(workflow, caller, wait=WAIT)
            assert sorted(actions.names()) == ["shout", "translate"]  # both may be chosen
            result = await run_workflow(
                workflow,
                actions=actions,
                router=RankedRouter(["translate", "shout"]),
                record=False,
            )
    assert result.ok, result
    assert result.outputs["work"] == "es(hi)"
    assert not any("stranger" in m for m in warnings_of(caplog)), warnings_of(caplog)


async def test_an_untrusted_favourite_is_skipped_for_the_next_trusted_candidate(
    broker_url: str, ns: str, caller: LiveRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW)
    tracer = MemoryTracer()
    async with trusted_and_stranger(broker_url, ns, caller, shout, translate):
        with caplog.at_level(logging.INFO, logger="weft"):
            actions = await actions_for(workflow, caller, wait=WAIT)
            result = await run_workflow(
                workflow,
                actions=actions,
                router=RankedRouter(["translate", "shout"]),
                tracer=tracer,
                journal=False,
            )
    assert result.ok, result
    assert result.outputs["work"] == "HI"  # the trusted runner-up served it
    [route] = tracer.by_kind("route")
    assert route.attributes["weft.action"] == "shout"
    skipped = route.attributes["weft.skipped"]
    assert list(skipped) == ["translate"]
    assert "not trusted" in skipped["translate"] and "stranger" in skipped["translate"]
    excluded = {c["agent_id"]: c["excluded"] for c in route.attributes["candidates"]}
    assert excluded["shout"] is None
    assert excluded["translate"].startswith("refused when chosen: not trusted")
    warned = warnings_of(caplog)  # judged when chosen, and said once
    assert sum(m.startswith("agent stranger is not trusted") for m in warned) == 1, warned


async def test_a_node_whose_candidates_are_all_untrusted_fails_naming_them(
    broker_url: str, ns: str, caller: LiveRegistry, tmp_path: Path
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW)
    async with (
        fast_bus(broker_url, ns) as stranger_bus,
        AgentHost(stranger_bus, [translate], agent_id="stranger", key=AgentKey.generate()),
    ):
        assert await caller.wait_until(lambda: len(caller.agents()) == 1, WAIT)
        actions = await actions_for(workflow, caller, wait=WAIT)
        result = await run_workflow(
            workflow, actions=actions, router=RankedRouter(["translate"]), record=False
        )
    assert not result.ok
    error = result.nodes["work"].error
    assert error is not None
    assert "no agent fits that this run may call" in error.message
    assert "'translate' is not trusted (agent 'stranger'" in error.message
