"""An agent's table of answered calls is bounded by the bytes of their results too.

The table lets a re-sent copy of a call get its first answer instead of a
second run. Bounded by entries alone (10,000), an agent whose results are
large held gigabytes; ``dedup_bytes`` (``weft agent serve --dedup-mb``)
bounds the results it keeps, the oldest forgotten first, and a copy of a
forgotten call runs again, as docs/protocol.md says of a forgotten call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from click.testing import CliRunner
from distributed_support import WAIT, fast_bus

import weft
from weft.cli import cli
from weft.protocols import ActionCall, ActionResult, ActionState, MessageProperties
from weft.protocols.remote import ACK_PROPERTY, KIND_PROPERTY
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote._call_table import DEFAULT_BYTES, CallTable, Entry
from weft.runtime.remote.agent_host import AgentHost

#: Characters of each result: three of them are over the bound of the tests below.
BIG = 100_000


class Big:
    """An action returning ``BIG`` characters, counting its runs per key."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

        @weft.tool(name="big")
        def big(key: str) -> str:
            self.runs[key] = self.runs.get(key, 0) + 1
            return key * BIG

        self.action = big


async def ask(bus: MqttBus, topic: str, call: ActionCall, sub: Any, reply_to: str) -> ActionResult:
    """Send ``call`` as a foreign client would (asking for an ack) and read its result."""
    await bus.publish(
        topic,
        call.model_dump_json(),
        properties=MessageProperties(
            response_topic=reply_to,
            correlation_data=call.call_id.encode(),
            user_properties={ACK_PROPERTY: "1"},
        ),
    )
    while True:
        message = await sub.get(WAIT)
        if message.properties.user_properties.get(KIND_PROPERTY) != "accepted":
            return ActionResult.model_validate_json(message.payload)


async def test_past_its_byte_bound_the_agent_forgets_the_oldest_answers_first(
    broker_url: str, ns: str
) -> None:
    big = Big()
    calls = {key: ActionCall(action="big", arguments={"key": key}) for key in "abc"}
    async with (
        fast_bus(broker_url, ns) as host_bus,
        AgentHost(host_bus, [big.action], dedup_bytes=250_000) as host,
        fast_bus(broker_url, ns) as client,
    ):
        reply_to = client.topics.replies(client.client_id)
        sub = await client.subscribe(reply_to)
        topic = client.topics.agent_call(host.agent_id)
        for call in calls.values():
            assert (await ask(client, topic, call, sub, reply_to)).ok
        held = host._calls.bytes
        again_c = await ask(client, topic, calls["c"], sub, reply_to)  # remembered
        again_a = await ask(client, topic, calls["a"], sub, reply_to)  # forgotten: runs again
    assert 2 * BIG < held <= 250_000  # b and c kept, a forgotten
    assert again_c.output == "c" * BIG and again_a.output == "a" * BIG
    assert big.runs == {"a": 2, "b": 1, "c": 1}


async def test_a_result_over_the_whole_bound_is_answered_and_kept_until_the_next(
    broker_url: str, ns: str
) -> None:
    big = Big()
    first, second = (ActionCall(action="big", arguments={"key": k}) for k in "ab")
    async with (
        fast_bus(broker_url, ns) as host_bus,
        AgentHost(host_bus, [big.action], dedup_bytes=50_000) as host,
        fast_bus(broker_url, ns) as client,
    ):
        reply_to = client.topics.replies(client.client_id)
        sub = await client.subscribe(reply_to)
        topic = client.topics.agent_call(host.agent_id)
        answers = [await ask(client, topic, first, sub, reply_to) for _ in range(2)]
        await ask(client, topic, second, sub, reply_to)
        remembered = [host._calls.get(c.call_id) is not None for c in (first, second)]
    assert [a.output for a in answers] == ["a" * BIG] * 2
    assert big.runs == {"a": 1, "b": 1}  # the copy was answered from the table
    assert remembered == [False, True]


async def test_the_table_keeps_within_both_bounds_and_never_forgets_a_running_call() -> None:
    table = CallTable(size=3, max_bytes=1_000, measure=lambda result: len(str(result.output)))
    release = asyncio.Event()

    async def run(call: ActionCall, entry: Entry) -> None:
        if call.arguments["wait"]:
            await release.wait()
        entry.future.set_result(
            ActionResult(call_id=call.call_id, state=ActionState.OK, output="x" * 400)
        )

    slow = ActionCall(action="a", arguments={"wait": True})
    table.entry_for(slow, run)
    for _ in range(5):
        entry = table.entry_for(ActionCall(action="a", arguments={"wait": False}), run)
        await asyncio.wait_for(entry.future, WAIT)
        await asyncio.sleep(0)  # the done callback
        assert table.bytes <= 1_000 and len(table) <= 3
    assert table.get(slow.call_id) is not None  # the oldest, still running
    assert table.bytes == 800  # two results of 400
    release.set()
    await asyncio.wait_for(table.get(slow.call_id).future, WAIT)  # type: ignore[union-attr]


def test_the_default_byte_bound_is_128_mib_and_the_flag_refuses_zero() -> None:
    assert DEFAULT_BYTES == 128 * 1024 * 1024
    result = CliRunner().invoke(cli, ["agent", "serve", "m:x", "--dedup-mb", "0"])
    assert result.exit_code == 2
    assert "--dedup-mb" in result.output and "not in the range" in result.output
