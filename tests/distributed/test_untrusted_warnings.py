"""``weft run --broker`` warns about an untrusted agent only when it claims an action the run needs.

A namespace may hold many agents a run never calls; an untrusted one among
them explains nothing about this run, so it is not judged (no signature
checked) and not warned about: one info line counts the agents ignored. An
untrusted agent claiming a needed action is still warned about: it is why a
node may wait or fail. ``$WEFT_HOME`` is a fresh folder per test, so the
trusted agent is the one signed with this user's default key.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from distributed_agents import shout
from distributed_support import WAIT, fast_bus

import weft
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey
from weft.runtime.remote.distributed import actions_for
from weft.runtime.remote.live_registry import LiveRegistry


@weft.tool(name="translate")
def translate(text: str) -> str:
    """An action the workflow does not use."""
    return text


WORKFLOW = """
name: shouting
nodes:
  loud:
    action: shout
    with: {text: "hi"}
"""


async def test_only_untrusted_agents_claiming_a_needed_action_are_warned_about(
    broker_url: str, ns: str, caller: LiveRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(WORKFLOW)
    async with (
        fast_bus(broker_url, ns) as trusted_bus,
        fast_bus(broker_url, ns) as stranger_bus,
        fast_bus(broker_url, ns) as rival_bus,
        AgentHost(trusted_bus, [shout], agent_id="trusted-shouter"),
        AgentHost(stranger_bus, [translate], agent_id="stranger", key=AgentKey.generate()),
        AgentHost(rival_bus, [shout], agent_id="rival", pool="rival", key=AgentKey.generate()),
    ):
        assert await caller.wait_until(lambda: len(caller.agents()) == 3, WAIT)
        with caplog.at_level(logging.INFO, logger="weft"):
            actions = await actions_for(workflow, caller, wait=WAIT)
    assert actions.names() == ["shout"]
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(m.startswith("agent rival is not trusted, and is not called") for m in warned)
    assert not any("stranger" in m for m in warned), warned
    assert (
        "1 agent(s) serving only actions this run does not use were ignored "
        "(their trust is not checked; weft agents lists them)"
    ) in [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
