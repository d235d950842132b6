"""Fixtures shared by the whole suite: MQTT brokers for the bus tests.

Bus tests never skip for want of a broker: a missing broker is a failure with
instructions, because a bus suite that silently skips its MQTT half proves
nothing about MQTT.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker import MosquittoBroker

#: Any real (non-loopback) model request fails in every test.
pytest_plugins = ["weft.testing.pytest_plugin"]

DEFAULT_TEST_BROKER = ("127.0.0.1", 1883)


@pytest.fixture(autouse=True)
def _weft_home_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journals and trace stores that a test does not place itself go to a temporary folder,
    never into the working tree."""
    monkeypatch.setenv("WEFT_HOME", str(tmp_path_factory.mktemp("weft-home")))


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mqtt_broker_url() -> AsyncIterator[str]:
    """URL of an MQTT v5 broker for functional bus tests.

    ``$WEFT_TEST_BROKER`` (``mqtt://host:port`` or ``host:port``) when set, else
    the broker on 127.0.0.1:1883 if it answers, else a Mosquitto started here
    with weft's config for the whole session.
    """
    configured = os.environ.get("WEFT_TEST_BROKER")
    if configured:
        yield configured if "://" in configured else f"mqtt://{configured}"
        return
    if _answers(*DEFAULT_TEST_BROKER):
        yield "mqtt://{}:{}".format(*DEFAULT_TEST_BROKER)
        return
    broker = MosquittoBroker()
    try:
        await broker.start()
    except BusError as exc:
        pytest.fail(
            "the MQTT bus tests need a broker: set WEFT_TEST_BROKER=mqtt://host:port, run one "
            f"on 127.0.0.1:1883, or install mosquitto so the tests can start one ({exc})",
            pytrace=False,
        )
    try:
        yield broker.url
    finally:
        await broker.stop()


@pytest.fixture
async def weft_broker() -> AsyncIterator[MosquittoBroker]:
    """A private Mosquitto with weft's config (set_tcp_nodelay) on a free loopback port.

    For tests about latency or broker restarts, which must not depend on, or
    disturb, a shared broker.
    """
    broker = MosquittoBroker()
    try:
        await broker.start()
    except BusError as exc:
        pytest.fail(f"cannot start a Mosquitto for this test: {exc}", pytrace=False)
    try:
        yield broker
    finally:
        await broker.stop()
