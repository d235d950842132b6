"""docs/protocol.md is enough to call a weft agent: mosquitto_pub and mosquitto_sub do it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from urllib.parse import urlsplit

import pytest
from distributed_agents import shout
from distributed_support import WAIT, fast_bus

from weft.protocols import ActionResult, ActionState
from weft.runtime.remote.agent_host import AgentHost


@pytest.fixture(autouse=True)
def _mosquitto_clients_installed() -> None:
    """The protocol is proven with the real command-line clients; without them, fail."""
    if shutil.which("mosquitto_pub") is None or shutil.which("mosquitto_sub") is None:
        pytest.fail(
            "this test needs mosquitto_pub and mosquitto_sub: apt-get install mosquitto-clients"
        )


async def test_mosquitto_clients_call_an_agent_as_the_protocol_doc_says(
    broker_url: str, ns: str
) -> None:
    address = urlsplit(broker_url)
    server = ["-V", "mqttv5", "--nodelay", "-h", str(address.hostname), "-p", str(address.port)]
    reply_topic, probe_topic = f"weft/{ns}/replies/shell-1", f"weft/{ns}/replies/shell-probe"
    async with fast_bus(broker_url, ns) as bus, AgentHost(bus, [shout]) as host:
        sub = await asyncio.create_subprocess_exec(
            "mosquitto_sub", *server, "-q", "1", "-t", reply_topic, "-t", probe_topic,
            "-F", "%t %D %p", stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert sub.stdout is not None
        try:
            # mosquitto_sub cannot say when it has subscribed: probe until it echoes.
            async def subscribed() -> None:
                while True:
                    await bus.publish(probe_topic, b"probe")
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.5):
                            assert sub.stdout is not None
                            if (await sub.stdout.readline()).startswith(probe_topic.encode()):
                                return

            await asyncio.wait_for(subscribed(), WAIT)
            pub = await asyncio.create_subprocess_exec(
                "mosquitto_pub", *server, "-q", "1",
                "-t", f"weft/{ns}/agents/{host.agent_id}/call",
                "-D", "publish", "response-topic", reply_topic,
                "-D", "publish", "correlation-data", "shell-1:1",
                "-D", "publish", "message-expiry-interval", "30",
                "-D", "publish", "content-type", "application/json",
                "-m", json.dumps({"action": "shout", "arguments": {"text": "to be or not"}}),
            )  # fmt: skip
            assert await asyncio.wait_for(pub.wait(), WAIT) == 0
            while True:
                line = (await asyncio.wait_for(sub.stdout.readline(), WAIT)).decode()
                if line.startswith(reply_topic):
                    break
        finally:
            sub.kill()
            await sub.wait()
    _topic, correlation, payload = line.rstrip("\n").split(" ", 2)
    result = ActionResult.model_validate_json(payload)
    assert correlation == "shell-1:1"
    assert result.state is ActionState.OK and result.output == "TO BE OR NOT"
    assert result.agent == host.agent_id
