"""Only the host's own hand-back moves a call; an action's ``AgentDraining`` is its answer.

A stopped agent gives back the calls it still holds at its drain timeout
with an ``AgentDraining`` error, and marks that reply as its hand-back
(``weft-handed-back: 1``, a user property of the reply, which no action
can set). The caller moves only such calls. An action that itself returns
or raises an ``AgentDraining`` error (it wraps a system that uses the name)
fails its call with it, once, where it ran, like any other error.

In-process agent hosts on the real broker, two replicas each, so a call
that wrongly moved would find somewhere to go; with no replica, a handed-back
call waits for one, says so in the log once per action, and fails at its
deadline saying that no replica was available.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from distributed_support import WAIT, fast_bus

import weft
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionResult,
    ActionSpec,
    ActionState,
    Message,
)
from weft.runtime.remote._drain import handed_back
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.call_client import CallClient
from weft.runtime.remote.live_registry import LiveRegistry


class Upstream:
    """Actions failing with ``AgentDraining`` of their own: raised, or returned."""

    def __init__(self) -> None:
        self.runs = 0

        @weft.tool(name="raises_draining")
        async def raises_draining() -> str:
            self.runs += 1
            raise weft.ActionFailed(
                "the upstream queue is draining", retryable=True, error_type="AgentDraining"
            )

        self.raising = raises_draining

    @property
    def spec(self) -> ActionSpec:  # an Action that returns its result itself
        return ActionSpec(name="returns_draining")

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        self.runs += 1
        return ActionResult.failure(
            call.call_id, "AgentDraining", "the upstream queue is draining", retryable=True
        )


class Held:
    """``held``: each call waits until ``release`` is set; ``started`` once one runs."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

        @weft.tool(name="held")
        async def held() -> str:
            self.started.set()
            await self.release.wait()
            return "done"

        self.action = held


@asynccontextmanager
async def replicas(broker_url: str, ns: str, *actions: list[Any]) -> AsyncIterator[list[AgentHost]]:
    """One started agent host per entry of ``actions``, each on its own connection."""
    async with AsyncExitStack() as stack:
        hosts = []
        for served in actions:
            bus = await stack.enter_async_context(fast_bus(broker_url, ns))
            host = AgentHost(bus, served, heartbeat_interval=0.5)
            hosts.append(await stack.enter_async_context(host))
        yield hosts


def call(action: str, deadline: float = 20.0) -> ActionCall:
    return ActionCall(action=action, deadline=time.time() + deadline)


async def test_an_action_raising_agent_draining_fails_with_it_and_is_not_moved(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    first, second = Upstream(), Upstream()
    async with replicas(broker_url, ns, [first.raising], [second.raising]):
        await caller.wait_until(lambda: len(caller.serving("raises_draining")) == 2, WAIT)
        result = await caller.remote("raises_draining").invoke(call("raises_draining"))

    assert result.state is ActionState.ERROR and result.error is not None, result
    assert result.error.type == "AgentDraining" and result.error.retryable
    assert result.error.message.endswith("the upstream queue is draining")
    assert result.attempts is None
    assert first.runs + second.runs == 1


async def test_an_action_returning_agent_draining_gets_it_back_and_is_not_moved(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    first, second = Upstream(), Upstream()
    async with replicas(broker_url, ns, [first], [second]):
        await caller.wait_until(lambda: len(caller.serving("returns_draining")) == 2, WAIT)
        result = await caller.remote("returns_draining").invoke(call("returns_draining"))

    assert result.error is not None and result.error.type == "AgentDraining", result
    assert result.attempts is None
    assert first.runs + second.runs == 1


async def test_the_hosts_own_hand_back_still_moves_the_call_to_a_replica(
    broker_url: str, ns: str, caller: LiveRegistry
) -> None:
    first, second = Held(), Held()
    async with replicas(broker_url, ns, [first.action], [second.action]) as (a, b):
        await caller.wait_until(lambda: len(caller.serving("held")) == 2, WAIT)
        pending = asyncio.create_task(caller.remote("held").invoke(call("held", 60)))
        started = {
            asyncio.create_task(first.started.wait()),
            asyncio.create_task(second.started.wait()),
        }
        _, waiting = await asyncio.wait(started, timeout=WAIT, return_when="FIRST_COMPLETED")
        for task in waiting:
            task.cancel()
        stopped, survivor, other = (a, b, second) if first.started.is_set() else (b, a, first)
        other.release.set()
        await stopped.stop(drain_timeout=0.1)
        result = await asyncio.wait_for(pending, WAIT)

    assert result.ok, result.error
    assert result.agent == survivor.agent_id and result.attempts == 2


async def test_handed_back_calls_with_no_replica_wait_visibly_and_fail_saying_so(
    broker_url: str, ns: str, caller: LiveRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="weft.runtime.remote.remote_action")
    lonely = Counted()
    async with replicas(broker_url, ns, [lonely.action]) as (host,):
        await caller.wait_for(["held"], WAIT)
        remote = caller.remote("held")
        pending = [asyncio.create_task(remote.invoke(call("held", 4))) for _ in range(3)]
        # All three running there: a call still on its way when the agent stops is not
        # handed back but lost with its card (another path, "vanished").
        assert await caller.wait_until(lambda: lonely.runs == 3, WAIT)
        await host.stop(drain_timeout=0.1)
        results = await asyncio.wait_for(asyncio.gather(*pending), WAIT)

    waiting = [r for r in caplog.records if "waiting for a replica of 'held'" in r.getMessage()]
    assert len(waiting) == 1, [r.getMessage() for r in caplog.records]  # one per action
    assert f"agent '{host.agent_id}' was stopped" in waiting[0].getMessage()
    for result in results:
        assert result.state is ActionState.TIMEOUT and result.error is not None, result
        message = result.error.message
        assert message.startswith("remote action 'held': no result before the call deadline")
        assert "no replica was available to take it" in message
        assert f"agent '{host.agent_id}' was stopped" in message


class Counted:
    """``held`` that counts its runs; each run waits until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.runs = 0

        @weft.tool(name="held")
        async def held() -> str:
            self.runs += 1
            await self.release.wait()
            return "done"

        self.action = held


async def test_a_call_sent_twice_to_a_stopped_agent_moves_once_and_runs_once(
    broker_url: str, ns: str, caller: LiveRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chaos benchmark's doubles: an agent too busy to acknowledge a call in time
    gets it again (the same attempt, re-sent after the ack timeout), and when it is
    stopped it hands back every copy. The second hand-back must not move the call a
    second time, away from the replica already running it."""
    slow, survivor = Held(), Counted()
    caller.ack_timeout = 0.1  # re-send an unacknowledged attempt quickly
    async with replicas(broker_url, ns, [slow.action]) as (stopped,):
        await caller.wait_until(lambda: len(caller.serving("held")) == 1, WAIT)
        answer = stopped._answer

        async def late_ack(message: Any, payload: Any, kind: str = "result", **kw: Any) -> None:
            if kind != "result":
                await asyncio.sleep(0.5)  # a loaded agent: its ack comes after the re-send
            await answer(message, payload, kind, **kw)

        monkeypatch.setattr(stopped, "_answer", late_ack)
        serve, copies = stopped._serve, []

        async def counted(message: Message) -> None:
            copies.append(message)
            await serve(message)

        monkeypatch.setattr(stopped, "_serve", counted)
        # A busy caller reads both hand-backs before its call's loop runs again.
        dispatch, held_back = CallClient._dispatch, []

        async def batched(self: CallClient, message: Message) -> None:
            if not handed_back(message.properties):
                return await dispatch(self, message)
            held_back.append(message)
            if len(held_back) == 2:
                for each in held_back:
                    await dispatch(self, each)
            elif len(held_back) > 2:
                await dispatch(self, message)

        monkeypatch.setattr(CallClient, "_dispatch", batched)
        pending = asyncio.create_task(caller.remote("held").invoke(call("held", 60)))
        await asyncio.wait_for(slow.started.wait(), WAIT)
        await caller.wait_until(lambda: len(copies) >= 2, WAIT)  # the same attempt, again
        async with replicas(broker_url, ns, [survivor.action]) as (kept,):
            await caller.wait_until(lambda: len(caller.serving("held")) == 2, WAIT)
            await stopped.stop(drain_timeout=0.05)
            await caller.wait_until(lambda: survivor.runs >= 1, WAIT)
            await asyncio.sleep(1.0)  # time for a second move, had there been one
            survivor.release.set()
            result = await asyncio.wait_for(pending, WAIT)

    assert len(held_back) >= 2  # the agent handed back every copy it got
    assert result.ok, result.error
    assert survivor.runs == 1
    assert result.agent == kept.agent_id and result.attempts == 2
