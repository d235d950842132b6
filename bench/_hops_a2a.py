"""The A2A legs of ``bench/hops.py``: the same ``echo`` called over A2A, by HTTP and by MQTT.

``a2a_legs()`` returns ``{name: LegFactory}``; ``bench/hops.py`` loads this file
when it is there. Each factory takes the run's ``HopContext`` (broker URL,
echo target, scratch folder) or, called with none, starts its own Mosquitto
(weft's config, ``set_tcp_nodelay``, on a free loopback port) and serves
``bench/_hops_echo.py:echo``. The server always runs in its own process, as
``weft a2a serve`` (the way a user would run it):

- ``a2a-http``: weft's client, ``A2aAction`` (a2a-sdk's JSON-RPC client over
  httpx), to ``weft a2a serve --http`` (a2a-sdk's server in uvicorn);
- ``a2a-http-sdk``: a2a-sdk's ``Client`` called directly, without weft's
  mapping of arguments and results, so the cost of weft's side shows;
- ``a2a-mqtt``: A2A over MQTT (docs/a2a-mqtt.md): ``weft a2a serve --mqtt``,
  called by ``weft.testing.A2aMqttClient`` (aiomqtt, MQTT v5, QoS 1,
  TCP_NODELAY) with a fresh task id per call.

Each call returns the echoed arguments; a wrong answer raises. a2a-sdk's
OpenTelemetry spans are off on both sides (``weft a2a serve`` turns them off;
this module does for the clients, before a2a is imported), as weft runs it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("OTEL_INSTRUMENTATION_A2A_SDK_ENABLED", "false")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ECHO_TARGET = str(HERE / "_hops_echo.py") + ":echo"
STARTUP = 60.0

Call = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
LegFactory = Callable[..., AbstractAsyncContextManager[Call]]


@asynccontextmanager
async def _context(ctx: Any) -> AsyncIterator[tuple[str, str]]:
    """``(broker URL, echo target)``: the run's, or a Mosquitto started for this leg."""
    if ctx is not None:
        yield ctx.broker_url, ctx.echo_target
        return
    from weft.runtime.bus.mqtt.broker import MosquittoBroker

    broker = MosquittoBroker()
    await broker.start()
    try:
        yield broker.url, ECHO_TARGET
    finally:
        await broker.stop()


@asynccontextmanager
async def _serve(*args: str, ready: str) -> AsyncIterator[str]:
    """``weft a2a serve ARGS`` in its own process; the first match of ``ready`` on stderr."""
    from weft.testing.processes import weft_process

    flags = os.environ.get("WEFT_HOPS_SERVE_FLAGS", "").split()
    async with weft_process(
        "a2a", "serve", *args, *flags, ready=ready, timeout=STARTUP, cwd=ROOT
    ) as served:
        yield served.ready.group(1)


def _checked(args: dict[str, Any], output: Any) -> dict[str, Any]:
    if output != args:
        raise RuntimeError(f"echo answered {output!r} to {args!r}")
    return dict(output)


@asynccontextmanager
async def a2a_http(ctx: Any = None) -> AsyncIterator[Call]:
    from weft.agents.a2a_action import A2aAction
    from weft.protocols import ActionCall

    async with (
        _context(ctx) as (_, target),
        _serve(target, "--http", "127.0.0.1:0", ready=r"at (http://\S+/) \(JSON-RPC") as url,
    ):
        action = A2aAction(url, name="echo")

        async def call(args: dict[str, Any]) -> dict[str, Any]:
            result = await action.invoke(ActionCall(action="echo", arguments=args), None)  # type: ignore[arg-type]
            if not result.ok:
                raise RuntimeError(f"echo failed: {result.error}")
            return _checked(args, result.output)

        try:
            yield call
        finally:
            await action.aclose()


@asynccontextmanager
async def a2a_http_sdk(ctx: Any = None) -> AsyncIterator[Call]:
    import httpx
    from a2a.client import ClientConfig, ClientFactory
    from a2a.types import Message, Part, Role, SendMessageRequest
    from google.protobuf.json_format import MessageToDict, ParseDict

    from weft.protocols.a2a import response_result, value_to_parts

    async with (
        _context(ctx) as (_, target),
        _serve(target, "--http", "127.0.0.1:0", ready=r"at (http://\S+/) \(JSON-RPC") as url,
        httpx.AsyncClient(timeout=None) as http,
    ):
        factory = ClientFactory(ClientConfig(httpx_client=http, streaming=False))
        client = await factory.create_from_url(url)

        async def call(args: dict[str, Any]) -> dict[str, Any]:
            message = Message(
                message_id=uuid.uuid4().hex,
                role=Role.ROLE_USER,
                parts=[ParseDict(p, Part()) for p in value_to_parts(args)],
            )
            events = [e async for e in client.send_message(SendMessageRequest(message=message))]
            result = response_result("bench", MessageToDict(events[-1]), source="echo")
            return _checked(args, result.output)

        yield call


@asynccontextmanager
async def a2a_mqtt(ctx: Any = None) -> AsyncIterator[Call]:
    from weft.protocols.a2a import task_output
    from weft.protocols.a2a_mqtt import A2aMqttAddress
    from weft.testing.a2a_mqtt_client import A2aMqttClient

    address = A2aMqttAddress("weft-bench", f"hops{uuid.uuid4().hex[:8]}", "echo")
    async with _context(ctx) as (broker, target):
        serve = (target, "--mqtt", str(address), "--broker", broker)
        async with (
            _serve(*serve, ready=r"over MQTT on (\S+)"),
            A2aMqttClient(broker) as client,
        ):
            await client.card(address, timeout=STARTUP)

            async def call(args: dict[str, Any]) -> dict[str, Any]:
                reply = await client.send_message(address.request_topic, args)
                body = reply.body
                if "result" not in body:
                    raise RuntimeError(f"echo failed: {body}")
                return _checked(args, task_output(body["result"]["task"]))

            yield call


def a2a_legs() -> dict[str, LegFactory]:
    """The A2A legs, by name (module docstring)."""
    return {"a2a-http": a2a_http, "a2a-http-sdk": a2a_http_sdk, "a2a-mqtt": a2a_mqtt}


async def _smoke() -> None:
    """``python bench/_hops_a2a.py``: each leg once, with its own broker."""
    args = {"text": "to be or not to be", "n": 1}
    for name, factory in a2a_legs().items():
        async with factory() as call:
            print(name, await call(args))


if __name__ == "__main__":
    asyncio.run(_smoke())
