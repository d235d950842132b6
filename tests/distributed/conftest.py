"""Fixtures for agents in other processes: a fast broker, namespaces, agent processes.

Every test gets its own namespace, so tests never see each other's agents.
Agent processes are real ``python -m weft agent serve`` children; the
fixture kills whatever a test leaves running.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from distributed_support import AgentProcesses, fast_bus

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.remote.live_registry import LiveRegistry


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def broker_url() -> AsyncIterator[str]:
    """A Mosquitto with weft's config for the whole session (or ``$WEFT_TEST_BROKER``)."""
    configured = os.environ.get("WEFT_TEST_BROKER")
    if configured:
        yield configured if "://" in configured else f"mqtt://{configured}"
        return
    broker = MosquittoBroker()
    try:
        await broker.start()
    except BusError as exc:
        pytest.fail(f"the distributed tests need mosquitto: {exc}", pytrace=False)
    try:
        yield broker.url
    finally:
        await broker.stop()


@pytest.fixture
def ns() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def caller(broker_url: str, ns: str) -> AsyncIterator[LiveRegistry]:
    """A started registry on its own bus: the orchestrating side of a test."""
    async with fast_bus(broker_url, ns) as bus, LiveRegistry(bus) as registry:
        yield registry


@pytest_asyncio.fixture
async def agent_procs(broker_url: str, ns: str, tmp_path: Path) -> AsyncIterator[AgentProcesses]:
    procs = AgentProcesses(broker_url, ns, tmp_path)
    try:
        yield procs
    finally:
        await procs.close()
