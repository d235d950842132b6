"""The Mosquitto helper: weft's config, start/stop/restart, clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker import (
    MosquittoBroker,
    find_mosquitto,
    mosquitto_install_message,
    render_config,
    wait_until_accepting,
)


def test_config_turns_on_tcp_nodelay_and_listens_on_loopback() -> None:
    config = render_config(18830)
    assert "set_tcp_nodelay true" in config.splitlines()
    assert "listener 18830 127.0.0.1" in config.splitlines()
    assert "allow_anonymous true" in config.splitlines()


def test_config_names_password_and_acl_files() -> None:
    config = render_config(1, allow_anonymous=False, password_file="/p", acl_file="/a")
    lines = config.splitlines()
    assert {"allow_anonymous false", "password_file /p", "acl_file /a"} <= set(lines)


def test_missing_binary_explains_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("WEFT_MOSQUITTO", raising=False)
    monkeypatch.setattr("weft.runtime.bus.mqtt.broker._SEARCH_PATHS", ())
    with pytest.raises(BusError) as info:
        find_mosquitto()
    assert str(info.value) == mosquitto_install_message()
    assert "apt-get install mosquitto" in str(info.value)
    assert "brew install mosquitto" in str(info.value)


async def test_started_broker_accepts_connections_until_stopped() -> None:
    broker = MosquittoBroker()
    await broker.start()
    assert broker.running and broker.url == f"mqtt://127.0.0.1:{broker.port}"
    await wait_until_accepting("127.0.0.1", broker.port or 0, timeout=1)
    await broker.stop()
    with pytest.raises(BusError):
        await wait_until_accepting("127.0.0.1", broker.port or 0, timeout=0.1)


async def test_restart_keeps_the_port(weft_broker: MosquittoBroker) -> None:
    port = weft_broker.port
    await weft_broker.restart()
    assert weft_broker.port == port and weft_broker.running


async def test_a_port_in_use_is_reported(weft_broker: MosquittoBroker) -> None:
    clash = MosquittoBroker(port=weft_broker.port)
    with pytest.raises(BusError, match="already in use"):
        await clash.start()
    await clash.stop()


async def test_a_broker_that_cannot_start_reports_its_output(tmp_path: Path) -> None:
    broken = MosquittoBroker(acl_file=tmp_path / "missing-acl")
    with pytest.raises(BusError, match=r"(?s)did not start.*missing-acl"):
        await asyncio.wait_for(broken.start(), 10)
    await broken.stop()
