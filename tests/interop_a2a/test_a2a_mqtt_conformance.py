"""The A2A-over-MQTT conformance kit (weft.testing.a2a_mqtt_conformance) run against weft's
own agent: an echo tool served by ``serve_a2a_mqtt`` on the test broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from weft.protocols.a2a_mqtt import A2aMqttAddress
from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt
from weft.testing.a2a_mqtt_conformance import *  # noqa: F403 (the kit's tests)

from .a2a_tools import echo, word_stats


@pytest.fixture
def a2a_broker(mqtt_broker_url: str) -> str:
    return mqtt_broker_url


@pytest.fixture
def a2a_skill() -> str:
    return "echo"


@pytest_asyncio.fixture
async def a2a_agent(a2a_broker: str) -> AsyncIterator[A2aMqttAddress]:
    address = A2aMqttAddress("weft-conformance", f"u{uuid.uuid4().hex[:10]}", "echo-agent")
    async with serve_a2a_mqtt([echo, word_stats], a2a_broker, address, unregister=True):
        yield address
