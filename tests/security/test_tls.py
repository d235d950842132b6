"""TLS with client certificates: only clients holding a certificate from the CA get in."""

from __future__ import annotations

import asyncio

import pytest
from bus_requests import Requester, serve_echo

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

from .conftest import Pki

WAIT = 10.0


def url(broker: MosquittoBroker, **query: object) -> str:
    return broker.url + "?" + "&".join(f"{k}={v}" for k, v in query.items())


async def test_broker_url_is_mqtts(tls_broker: MosquittoBroker) -> None:
    assert tls_broker.url.startswith("mqtts://127.0.0.1:")


async def test_a_client_with_a_certificate_from_the_ca_talks_over_tls(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    address = url(tls_broker, ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    async with (
        MqttBus(address, namespace="tls") as server,
        MqttBus(address, namespace="tls") as client,
        Requester(client) as requester,
    ):
        call = server.topics.agent_call("echo")
        serving = await serve_echo(server, call)
        assert (await requester.request(call, b"over tls", timeout=WAIT)).payload == b"over tls"
        assert client.tcp_nodelay is True
        serving.cancel()


async def test_keyword_arguments_work_like_the_url_query(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    bus = MqttBus(
        tls_broker.url,
        ca_file=str(pki.ca),
        cert_file=str(pki.client_cert),
        key_file=str(pki.client_key),
    )
    async with bus:
        assert bus.connected


async def test_a_client_without_a_certificate_is_refused(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    # Refused at once (the broker drops the TLS session), not after the connect timeout.
    bus = MqttBus(url(tls_broker, ca=pki.ca), connect_timeout=WAIT)
    with pytest.raises(BusError, match=f"broker at {tls_broker.url}.*client certificate"):
        await asyncio.wait_for(bus.start(), WAIT / 2)


async def test_a_certificate_from_another_ca_is_refused(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    bus = MqttBus(
        url(tls_broker, ca=pki.ca, cert=pki.rogue_cert, key=pki.rogue_key), connect_timeout=WAIT
    )
    with pytest.raises(BusError, match=f"broker at {tls_broker.url}.*client certificate"):
        await asyncio.wait_for(bus.start(), WAIT / 2)


async def test_a_client_that_does_not_trust_the_broker_refuses_it(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    bus = MqttBus(url(tls_broker, ca=pki.other_ca, cert=pki.client_cert, key=pki.client_key))
    with pytest.raises(BusError, match="certificate verify failed"):
        await bus.start()


async def test_plain_mqtt_to_the_tls_listener_fails(tls_broker: MosquittoBroker) -> None:
    plain = tls_broker.url.replace("mqtts://", "mqtt://")
    with pytest.raises(BusError, match="use mqtts://"):
        await asyncio.wait_for(MqttBus(plain, connect_timeout=WAIT).start(), WAIT / 2)
