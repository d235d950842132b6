"""A fixed ``--agent-id`` that a live process serves is refused at start; a restart is not.

Two live processes with one id would take the MQTT client id from each other
for ever (the broker disconnects one whenever the other connects). The second
is refused with one line, exit status 2, before it connects as the id; the
first never notices. A process that died, hung, or is draining does not block
a restart: that is a restart, and must keep working (``agent_id_check``;
the hung case is ``test_agent_restart``'s frozen agent).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from distributed_agents import ledger_lines
from distributed_support import STARTUP, WAIT, AgentProcesses, agent_of, fast_bus, wait_until

from weft.protocols import ActionCall, Topics
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote._twin_watch import AgentIdTaken
from weft.runtime.remote.agent_host import AgentHost, agent_will
from weft.runtime.remote.agent_id_check import AgentIdInUse
from weft.runtime.remote.live_registry import LiveRegistry

FIXED = "ledger-fixed"


def ledger_call(key: str, log: Path, gate: Path) -> ActionCall:
    return ActionCall(
        action="ledger",
        arguments={"key": key, "log": str(log), "gate": str(gate)},
        deadline=time.time() + 60,
    )


async def test_a_second_process_serving_a_live_agents_id_is_refused_with_one_line(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    first = await agent_procs.start("distributed_agents:ledger", args=("--agent-id", FIXED))
    assert await agent_of(caller, first) == FIXED
    started = caller.get(FIXED).card.started_at  # type: ignore[union-attr]

    second = await agent_procs.start("distributed_agents:ledger", args=("--agent-id", FIXED))
    assert await asyncio.wait_for(second.wait(), STARTUP) == 2

    output = agent_procs.output(second)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started))
    host = caller.get(FIXED).card.host  # type: ignore[union-attr]
    assert (
        f"error: agent id '{FIXED}' is already served by a live process (host {host}, pid "
        f"{first.pid}, started {stamp} UTC); stop it first or pick another --agent-id\n"
    ) in output
    assert "Traceback" not in output and "serving" not in output
    # The first process was never cut off, and still serves.
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    gate.touch()
    result = await asyncio.wait_for(
        caller.remote("ledger").invoke(ledger_call("k", log, gate)), WAIT
    )
    assert result.ok and result.output == {"key": "k", "pid": first.pid}, result
    assert first.returncode is None
    assert "lost connection" not in agent_procs.output(first)


async def test_no_id_check_skips_the_check(
    agent_procs: AgentProcesses, caller: LiveRegistry
) -> None:
    first = await agent_procs.start("distributed_agents:ledger", args=("--agent-id", FIXED))
    assert await agent_of(caller, first) == FIXED
    args = ("--agent-id", FIXED, "--no-id-check")
    second = await agent_procs.start("distributed_agents:ledger", args=args)
    await wait_until(
        lambda: f"agent {FIXED} serving" in agent_procs.output(second) or bool(second.returncode),
        what="the second process to serve",
    )
    assert "already served" not in agent_procs.output(second)


async def test_a_restart_while_the_old_process_drains_waits_for_it_to_finish(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    args = ("--agent-id", FIXED, "--drain-timeout", "60")
    old = await agent_procs.start("distributed_agents:ledger", args=args)
    assert await agent_of(caller, old) == FIXED
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    pending = asyncio.create_task(caller.remote("ledger").invoke(ledger_call("k", log, gate)))
    await wait_until(lambda: bool(ledger_lines(log)), what="the call to start")

    old.send_signal(signal.SIGTERM)  # draining: it finishes the call it holds first
    new = await agent_procs.start("distributed_agents:ledger", args=args)
    await wait_until(
        lambda: "held by a draining process" in agent_procs.output(new),
        what="the new process to wait for the draining one",
    )
    assert new.returncode is None
    gate.touch()

    result = await asyncio.wait_for(pending, WAIT)
    assert result.ok and result.output == {"key": "k", "pid": old.pid}, result
    assert await asyncio.wait_for(old.wait(), WAIT) == 0
    assert "lost connection" not in agent_procs.output(old)  # its drain was not cut off
    assert await agent_of(caller, new) == FIXED
    later = await asyncio.wait_for(
        caller.remote("ledger").invoke(ledger_call("k2", log, gate)), WAIT
    )
    assert later.ok and later.output == {"key": "k2", "pid": new.pid}, later


async def test_a_killed_agents_id_is_served_again_at_once(
    agent_procs: AgentProcesses, caller: LiveRegistry
) -> None:
    old = await agent_procs.start("distributed_agents:ledger", args=("--agent-id", FIXED))
    assert await agent_of(caller, old) == FIXED
    old.send_signal(signal.SIGKILL)
    await old.wait()
    await caller.wait_until(lambda: caller.get(FIXED) is None, WAIT)  # its Will cleared it

    new = await agent_procs.start("distributed_agents:ledger", args=("--agent-id", FIXED))
    assert await agent_of(caller, new) == FIXED
    assert "taking the id over" not in agent_procs.output(new)


async def test_agent_host_start_refuses_an_id_another_live_host_serves(
    broker_url: str, ns: str
) -> None:
    async def ledger_action(key: str) -> str:
        return key

    will = agent_will(Topics(ns), FIXED)
    async with (
        fast_bus(broker_url, ns, client_id=FIXED, will=will) as held,
        AgentHost(held, [ledger_action], agent_id=FIXED, heartbeat_interval=0.2),
        fast_bus(broker_url, ns) as other,  # looks with its own client id
    ):
        second = AgentHost(other, [ledger_action], agent_id=FIXED)
        with pytest.raises(AgentIdInUse, match=f"agent id '{FIXED}' is already served"):
            await second.start()
        assert held.reconnects == 0


async def ledger_action(key: str) -> str:
    return key


def hold_up_subscribe(bus: MqttBus, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Make ``bus``'s subscribe to the agent's call topic wait for ever, as when a twin
    keeps taking the MQTT client id: the event is set once the subscribe waits."""
    subscribe, waiting = bus.subscribe, asyncio.Event()

    async def held_up(pattern: str, **kwargs: Any) -> Any:
        if pattern == bus.topics.agent_call(FIXED):
            waiting.set()
            await asyncio.Event().wait()
        return await subscribe(pattern, **kwargs)

    monkeypatch.setattr(bus, "subscribe", held_up)
    return waiting


async def test_a_start_held_up_by_a_twin_yields_the_id_to_the_newer_one(
    broker_url: str, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twins past the check take the MQTT client id from each other: the older one's
    subscribe may not go through before the newer one serves (seen under load). It must
    still yield with ``AgentIdTaken``, not fail on that subscribe after 10 s."""
    will = agent_will(Topics(ns), FIXED)
    async with (
        fast_bus(broker_url, ns, client_id=FIXED, will=will) as fought_over,
        fast_bus(broker_url, ns) as probe,
        fast_bus(broker_url, ns) as newer_bus,
    ):
        older = AgentHost(
            fought_over, [ledger_action], agent_id=FIXED, check_id=False, twin_watch=probe
        )
        hold_up_subscribe(fought_over, monkeypatch)
        starting = asyncio.create_task(older.start())
        newer = AgentHost(newer_bus, [ledger_action], agent_id=FIXED, check_id=False)
        async with newer:
            with pytest.raises(AgentIdTaken, match=f"agent id '{FIXED}' is now served by"):
                await asyncio.wait_for(starting, WAIT)
        assert older.replaced_by is not None
        assert older.replaced_by.incarnation == newer.incarnation


async def test_a_start_held_up_while_an_older_twin_serves_yields_to_it(
    broker_url: str, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other way round (seen under load too): the newer one cannot subscribe while
    the older one serves. It has sent no card the older one could yield to, so it
    yields itself on the older one's next heartbeat, instead of fighting for 10 s."""
    will = agent_will(Topics(ns), FIXED)
    async with (
        fast_bus(broker_url, ns) as older_bus,
        fast_bus(broker_url, ns, client_id=FIXED, will=will) as fought_over,
        fast_bus(broker_url, ns) as probe,
    ):
        older = AgentHost(older_bus, [ledger_action], agent_id=FIXED, check_id=False)
        async with older:
            newer = AgentHost(
                fought_over, [ledger_action], agent_id=FIXED, check_id=False, twin_watch=probe
            )
            waiting = hold_up_subscribe(fought_over, monkeypatch)
            starting = asyncio.create_task(newer.start())
            await asyncio.wait_for(waiting.wait(), WAIT)  # its twin watch reads the card topic
            await older.publish_card()  # a heartbeat
            with pytest.raises(AgentIdTaken, match=f"agent id '{FIXED}' is now served by"):
                await asyncio.wait_for(starting, WAIT)
        assert newer.replaced_by is not None
        assert newer.replaced_by.incarnation == older.incarnation


async def test_two_processes_past_the_check_leave_the_id_to_one_of_them(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    # Two restarts wait for one draining holder: its cleared card frees the id for both
    # at once, and both serve. Without more, they would take the id from each other for
    # ever; the older one yields instead, with one line.
    args = ("--agent-id", FIXED, "--drain-timeout", "60")
    old = await agent_procs.start("distributed_agents:ledger", args=args)
    assert await agent_of(caller, old) == FIXED
    log, gate = tmp_path / "ledger.log", tmp_path / "gate"
    pending = asyncio.create_task(caller.remote("ledger").invoke(ledger_call("k", log, gate)))
    await wait_until(lambda: bool(ledger_lines(log)), what="the call to start")
    old.send_signal(signal.SIGTERM)
    twins = [await agent_procs.start("distributed_agents:ledger", args=args) for _ in range(2)]
    await wait_until(
        lambda: all("held by a draining process" in agent_procs.output(t) for t in twins),
        what="both new processes to wait for the draining one",
    )
    gate.touch()
    assert (await asyncio.wait_for(pending, WAIT)).ok
    assert await asyncio.wait_for(old.wait(), WAIT) == 0

    done, _ = await asyncio.wait([asyncio.ensure_future(t.wait()) for t in twins], timeout=WAIT)
    assert len(done) == 1  # exactly one stopped
    loser = next(t for t in twins if t.returncode is not None)
    winner = next(t for t in twins if t is not loser)
    assert loser.returncode == 2
    output = agent_procs.output(loser)
    assert f"error: agent id '{FIXED}' is now served by another process (host " in output
    assert f"pid {winner.pid}, started " in output
    assert f"this process (pid {loser.pid}) stopped rather than take the id" in output
    assert "Traceback" not in output
    await caller.wait_until(
        lambda: (info := caller.get(FIXED)) is not None and info.card.pid == winner.pid, WAIT
    )
    result = await asyncio.wait_for(
        caller.remote("ledger").invoke(ledger_call("k2", log, gate)), WAIT
    )
    assert result.ok and result.output == {"key": "k2", "pid": winner.pid}, result
    assert winner.returncode is None
