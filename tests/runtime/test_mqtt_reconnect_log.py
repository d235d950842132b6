"""What a long-running bus says while it cannot get its connection back: once per change.

A broker that now refuses the login (a revoked password) is retried for
ever, since the password may be restored, and its refusal is logged once, in
the words of the first connect (``weft.protocols.mqtt_refusal``), not once per
retry.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.bus.mqtt.broker_auth import write_password_file
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

WAIT = 30.0
REFUSAL = (
    "refused the connection: not authorized: the login of user 'agent' was refused "
    "(bad password, or a user the broker does not admit; MQTT reason code 0x87)"
)
LOGGER = "weft.runtime.bus.mqtt.mqtt_bus"


def messages(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == level and text in r.getMessage()
    ]


async def until(predicate: object, what: str) -> None:
    """Wait for a log line; the bus has no event for a refused reconnect attempt."""
    async with asyncio.timeout(WAIT):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_a_revoked_login_is_logged_once_while_the_bus_keeps_retrying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    passwords = write_password_file(tmp_path / "passwd", {"agent": "right"})
    async with MosquittoBroker(allow_anonymous=False, password_file=passwords) as broker:
        url = f"mqtt://agent:right@127.0.0.1:{broker.port}"
        async with MqttBus(url, backoff_initial=0.01, backoff_max=0.05) as bus:
            write_password_file(passwords, {"agent": "revoked"}, replace=True)
            await broker.restart()
            await until(
                lambda: len(messages(caplog, logging.DEBUG, "refused again")) >= 5,
                "several refused reconnects",
            )
            warnings = messages(caplog, logging.WARNING, "refused the connection")
            assert len(warnings) == 1, warnings
            assert REFUSAL in warnings[0] and "retrying" in warnings[0]
            assert "right" not in warnings[0] and "revoked" not in warnings[0]

            write_password_file(passwords, {"agent": "right"}, replace=True)
            await broker.restart()  # restored: the bus is back by itself
            await bus.wait_connected(WAIT)
            assert len(messages(caplog, logging.WARNING, "refused the connection")) == 1

            write_password_file(passwords, {"agent": "revoked"}, replace=True)
            await broker.restart()  # refused again after a change: said again, once
            await until(
                lambda: len(messages(caplog, logging.WARNING, "refused the connection")) == 2,
                "the second refusal",
            )
