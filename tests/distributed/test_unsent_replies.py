"""Replies lost to a broker outage: one warning, one summary, every result still delivered.

A broker down for longer than the agent's reconnect timeout fails each
reply due meanwhile. The agent keeps the results and its callers re-send on
reconnect, so nothing is lost; the log says so once when replies start
failing and once, with the count, when one gets through again (after a
70 s network cut in a multi-host trial it had said it once per call).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from distributed_support import WAIT, fast_bus, wait_until

import weft
from weft.protocols import ActionCall, ActionState
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.remote_action import RemoteAction

CALLS = 5


async def test_replies_lost_to_a_broker_outage_are_one_warning_and_one_summary(
    weft_broker: MosquittoBroker, ns: str, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    runs: list[str] = []

    @weft.tool
    async def slow(key: str) -> str:
        runs.append(key)
        await release.wait()
        return key.upper()

    caplog.set_level(logging.WARNING, logger="weft.runtime.remote.agent_host")
    host_bus = fast_bus(weft_broker.url, ns, reconnect_timeout=0.2)
    async with (
        host_bus,
        fast_bus(weft_broker.url, ns) as caller_bus,
        AgentHost(host_bus, [slow], agent_id="a1", concurrency=CALLS) as host,
    ):
        action = RemoteAction(caller_bus, slow.spec, pool="slow", default_timeout=60)
        calls = [
            asyncio.create_task(action.invoke(ActionCall(action="slow", arguments={"key": k})))
            for k in (f"k{i}" for i in range(CALLS))
        ]
        await wait_until(lambda: len(runs) == CALLS, what="every call to start")
        await weft_broker.stop()
        release.set()
        await wait_until(lambda: host.load.unsent == CALLS, what="every reply to fail")
        await weft_broker.start()
        results = await asyncio.wait_for(asyncio.gather(*calls), WAIT * 3)

    assert [(r.state, r.output) for r in results] == [
        (ActionState.OK, f"K{i}") for i in range(CALLS)
    ]
    assert sorted(runs) == sorted(f"k{i}" for i in range(CALLS))  # each ran once
    lines = [r.getMessage() for r in caplog.records if "a1" in r.getMessage()]
    failed = [line for line in lines if "could not reply" in line]
    again = [line for line in lines if "replies again" in line]
    assert len(failed) == 1, lines
    assert "the caller re-sends the call and gets the kept result" in failed[0]
    assert again == [
        f"agent a1 replies again; {CALLS} replies could not be sent in the meantime "
        "(their callers re-send the calls and get the kept results)"
    ], lines
