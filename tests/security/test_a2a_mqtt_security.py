"""A2A over MQTT behind a secured broker: the bus's TLS options and login, and ACL refusals.

The requester (``from_a2a("mqtts://...?ca=&cert=&key=")``) reads the broker URL
the way the bus does (``weft.protocols.mqtt_url``): same options, same meaning,
same error words. A request the broker's ACL refuses (MQTT v5 PUBACK 0x87) is a
``PublishRefused`` error at once, not a wait until the call's deadline. A login
the broker refuses (CONNACK 0x87) or a broker certificate not trusted is
``A2aBrokerRefused`` / a ``BrokerRefused`` result, not retryable, naming the
broker and the cause. The conformance kit's client reports both the same way.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from weft import tool
from weft.agents import (
    A2aAgentNotFound,
    A2aBrokerRefused,
    A2aMqttAction,
    from_a2a,
    from_a2a_mqtt,
)
from weft.protocols import ActionCall, ActionResult, ActionState, BusError, PublishRefusedError
from weft.protocols import a2a_mqtt as wire
from weft.protocols.mqtt_url import MqttTlsError
from weft.runtime.bus.mqtt.broker import MosquittoBroker
from weft.runtime.bus.mqtt.broker_auth import write_password_file
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.interop.a2a_mqtt import serve_a2a_mqtt
from weft.testing.a2a_mqtt_client import A2aMqttClient

from .conftest import Pki, running

WAIT = 5.0
#: The call's deadline in the refusal tests: a refusal that waited for it would fail
#: the assertion on the error type (a ``timeout``), after this long.
DEADLINE = 30.0


@tool
def shout(text: str) -> dict[str, str]:
    """Return the text in capitals."""
    return {"text": text.upper()}


def unique_address() -> wire.A2aMqttAddress:
    return wire.A2aMqttAddress("acme", f"u{uuid.uuid4().hex[:10]}", "shouter")


def with_login(url: str, user: str, password: str) -> str:
    return url.replace("://", f"://{user}:{password}@", 1)


def tls_query(pki: Pki, *, client_cert: bool = True) -> str:
    query = f"?ca={pki.ca}"
    return query + (f"&cert={pki.client_cert}&key={pki.client_key}" if client_cert else "")


async def call(action: A2aMqttAction, text: str) -> ActionResult:
    return await action.invoke(
        ActionCall(
            action=action.spec.name, arguments={"text": text}, deadline=time.time() + DEADLINE
        ),
        UNUSED_CONTEXT,
    )


async def shout_through(
    agent_url: str, caller_url: str, address: wire.A2aMqttAddress, text: str
) -> ActionResult:
    """``shout`` served at ``address`` over ``agent_url``, called once through ``caller_url``."""
    async with serve_a2a_mqtt([shout], agent_url, address, unregister=True):
        action = await from_a2a(caller_url, timeout=DEADLINE)
        try:
            assert isinstance(action, A2aMqttAction)
            return await call(action, text)
        finally:
            await action.aclose()


# -- TLS ------------------------------------------------------------------------------------


async def test_an_agent_behind_a_private_ca_is_called_with_the_bus_s_tls_options(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    address = unique_address()
    query = tls_query(pki)
    result = await shout_through(
        tls_broker.url + query, f"{tls_broker.url}/{address}{query}", address, "over tls"
    )
    assert result.ok, result.error
    assert result.output == {"text": "OVER TLS"}


async def test_without_the_private_ca_the_broker_is_not_trusted(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    # Proves ?ca= is what made the call above work: the system CAs do not know this one.
    url = f"{tls_broker.url}/{unique_address()}?cert={pki.client_cert}&key={pki.client_key}"
    with pytest.raises(A2aBrokerRefused, match="certificate verify failed") as info:
        await from_a2a_mqtt(url, discovery_timeout=WAIT)
    message = str(info.value)
    assert message.startswith(f"cannot connect to the broker {tls_broker.url}: TLS: ")
    assert "(use ?ca=FILE with the CA that signed the broker's certificate)" in message


async def test_a_call_to_an_untrusted_broker_fails_at_once_and_is_not_retried(
    tls_broker: MosquittoBroker, pki: Pki
) -> None:
    # A node whose card is known (discovered earlier): the call itself meets the refusal.
    url = f"{tls_broker.url}/{unique_address()}?cert={pki.client_cert}&key={pki.client_key}"
    result = await call(A2aMqttAction(url, card={"name": "shouter"}), "untrusted")
    assert result.error is not None
    assert (result.error.type, result.error.retryable) == ("BrokerRefused", False)
    assert "TLS: certificate verify failed" in result.error.message
    assert "?ca=FILE" in result.error.message


@pytest.mark.parametrize(
    ("plain", "what_to_check"),
    [
        (False, "(does it require a client certificate, and trust this one?)"),  # none given
        (True, "(is this a TLS listener? then use mqtts://)"),  # plain MQTT to its TLS port
    ],
)
async def test_a_broker_that_drops_the_connection_says_what_to_check_without_waiting(
    tls_broker: MosquittoBroker, pki: Pki, plain: bool, what_to_check: str
) -> None:
    # Before its CONNACK, as TLS 1.3 refuses a client certificate: not the connect
    # timeout's "did not accept a connection within", and retryable (a broker at its
    # connection limit drops the socket the same way).
    if plain:
        url = f"{tls_broker.url.replace('mqtts://', 'mqtt://')}/{unique_address()}"
    else:
        url = f"{tls_broker.url}/{unique_address()}{tls_query(pki, client_cert=False)}"
    with pytest.raises(A2aAgentNotFound) as info:
        await from_a2a_mqtt(url, discovery_timeout=WAIT)
    message = str(info.value)
    assert "the broker closed the connection before accepting it" in message
    assert what_to_check in message
    assert not isinstance(info.value, A2aBrokerRefused)


@pytest.mark.parametrize("option", ["ca", "cert", "key"])
def test_a_missing_tls_file_is_an_error_naming_the_option(pki: Pki, option: str) -> None:
    files = {"ca": pki.ca, "cert": pki.client_cert, "key": pki.client_key}
    files[option] = Path("/nonexistent/weft-test.pem")
    query = "&".join(f"{k}={v}" for k, v in files.items())
    url = f"mqtts://127.0.0.1:8883/acme/unit/agent?{query}"
    expected = rf"A2A over MQTT URL option {option}='/nonexistent/weft-test.pem': no such file"
    with pytest.raises(MqttTlsError, match=expected):
        A2aMqttAction(url)


def test_a_file_that_is_not_pem_is_refused_naming_the_option(tmp_path: Path, pki: Pki) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    agent = "mqtts://127.0.0.1:8883/acme/unit/agent"
    with pytest.raises(MqttTlsError, match=r"option ca='.*junk.pem': not a PEM CA certificate"):
        A2aMqttAction(f"{agent}?ca={junk}")
    with pytest.raises(MqttTlsError, match=r"key='.*junk.pem': not a PEM client certificate"):
        A2aMqttAction(f"{agent}?cert={pki.client_cert}&key={junk}")
    with pytest.raises(MqttTlsError, match=r"option key='.*' needs cert="):
        A2aMqttAction(f"{agent}?key={pki.client_key}")


async def test_the_bus_refuses_a_missing_ca_file_in_the_same_words() -> None:
    bus = MqttBus("mqtts://127.0.0.1:8883?ca=/nonexistent/weft-test.pem")
    expected = r"broker URL option ca='/nonexistent/weft-test.pem': no such file"
    with pytest.raises(BusError, match=expected):
        await bus.start()


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("?cafile=/ca.pem", r"unknown option\(s\) cafile \(known: ca, cert, insecure, key\)"),
        ("?ca=/ca.pem", r"the option\(s\) ca need TLS: use mqtts://"),
    ],
)
def test_bad_options_are_refused_like_the_bus_refuses_them(query: str, problem: str) -> None:
    with pytest.raises(ValueError, match=f"A2A over MQTT URL .*{problem}"):
        A2aMqttAction(f"mqtt://127.0.0.1:1883/acme/unit/agent{query}")
    with pytest.raises(BusError, match=f"broker URL .*{problem}"):
        MqttBus(f"mqtt://127.0.0.1:1883{query}")


# -- login and ACL --------------------------------------------------------------------------


@pytest.fixture
async def a2a_acl_broker(tmp_path: Path) -> AsyncIterator[tuple[MosquittoBroker, str]]:
    """Mosquitto with logins and an ACL over A2A's topics; the unit every user may use.

    ``agent`` serves; ``caller`` may send requests to the unit's agents; ``stranger``
    may read cards and its replies but send no request.
    """
    unit = f"u{uuid.uuid4().hex[:10]}"
    passwords = write_password_file(
        tmp_path / "passwd",
        {"agent": "agent-secret", "caller": "caller-secret", "stranger": "stranger-secret"},
    )
    requester = (
        f"topic read {wire.ROOT}/discovery/acme/{unit}/#\ntopic readwrite {wire.ROOT}/reply/#\n"
    )
    acl = tmp_path / "acl"
    acl.write_text(
        f"user agent\ntopic readwrite {wire.ROOT}/#\n\n"
        f"user caller\n{requester}topic write {wire.ROOT}/request/acme/{unit}/#\n\n"
        f"user stranger\n{requester}"
    )
    broker = MosquittoBroker(allow_anonymous=False, password_file=passwords, acl_file=acl)
    async with running(broker):
        yield broker, unit


async def test_the_url_s_login_is_used_and_an_allowed_request_is_answered(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    address = wire.A2aMqttAddress("acme", unit, "shouter")
    agent_url = with_login(broker.url, "agent", "agent-secret")
    caller_url = with_login(broker.url, "caller", "caller-secret") + f"/{address}"
    result = await shout_through(agent_url, caller_url, address, "allowed")
    assert result.ok, result.error
    assert result.output == {"text": "ALLOWED"}


async def test_a_wrong_password_is_refused_without_showing_it(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    url = with_login(broker.url, "caller", "guessed-wrong") + f"/acme/{unit}/shouter"
    with pytest.raises(A2aBrokerRefused) as info:
        await from_a2a_mqtt(url, discovery_timeout=WAIT)
    message = str(info.value)
    assert message.startswith(f"cannot connect to the broker {broker.url}: not authorized: ")
    assert "the login of user 'caller' was refused" in message
    assert "MQTT reason code 0x87" in message
    assert "guessed-wrong" not in message
    # Still what a workflow's a2a: line catches.
    assert isinstance(info.value, A2aAgentNotFound)


async def test_a_call_with_a_wrong_password_fails_at_once_and_is_not_retried(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    url = with_login(broker.url, "caller", "guessed-wrong") + f"/acme/{unit}/shouter"
    result = await call(A2aMqttAction(url, card={"name": "shouter"}), "refused")
    assert result.state == ActionState.ERROR, result
    assert result.error is not None
    assert (result.error.type, result.error.retryable) == ("BrokerRefused", False)
    assert f"cannot connect to the broker {broker.url}" in result.error.message
    assert "the login of user 'caller' was refused" in result.error.message
    assert "guessed-wrong" not in result.error.message


async def test_a_call_without_a_login_says_the_broker_wants_one(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    result = await call(A2aMqttAction(f"{broker.url}/acme/{unit}/shouter", card={}), "anon")
    assert result.error is not None
    assert (result.error.type, result.error.retryable) == ("BrokerRefused", False)
    assert "not authorized: the broker admits no client without a login" in result.error.message


async def test_a_request_the_acl_refuses_fails_at_once_naming_the_topic(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    address = wire.A2aMqttAddress("acme", unit, "shouter")
    agent_url = with_login(broker.url, "agent", "agent-secret")
    async with serve_a2a_mqtt([shout], agent_url, address, unregister=True):
        url = with_login(broker.url, "stranger", "stranger-secret") + f"/{address}"
        action = await from_a2a(url, timeout=DEADLINE)
        assert isinstance(action, A2aMqttAction)
        try:
            result = await call(action, "refused")
        finally:
            await action.aclose()
    assert result.state == ActionState.ERROR, result
    assert result.error is not None
    assert result.error.type == "PublishRefused"
    assert result.error.retryable is False
    assert f"refused the publish to '{address.request_topic}'" in result.error.message
    assert "Not authorized" in result.error.message


# -- the conformance kit's client ------------------------------------------------------------


async def test_the_kit_client_reports_a_refused_login(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, _ = a2a_acl_broker
    with pytest.raises(A2aBrokerRefused, match="the login of user 'caller' was refused"):
        async with A2aMqttClient(with_login(broker.url, "caller", "guessed-wrong")):
            pass


async def test_the_kit_client_reports_a_request_the_acl_refuses(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    address = wire.A2aMqttAddress("acme", unit, "shouter")
    async with A2aMqttClient(with_login(broker.url, "stranger", "stranger-secret")) as kit:
        with pytest.raises(PublishRefusedError) as info:
            await kit.send_message(address.request_topic, {"text": "refused"})
    assert info.value.topic == address.request_topic
    assert info.value.broker == broker.url
    assert "Not authorized" in str(info.value)


async def test_the_kit_client_reports_a_card_it_may_not_clear(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    address = wire.A2aMqttAddress("acme", unit, "shouter")
    async with A2aMqttClient(with_login(broker.url, "caller", "caller-secret")) as kit:
        with pytest.raises(PublishRefusedError, match=r"refused the publish to '.*/discovery/"):
            await kit.clear(address)


async def test_the_kit_client_sends_what_the_acl_allows(
    a2a_acl_broker: tuple[MosquittoBroker, str],
) -> None:
    broker, unit = a2a_acl_broker
    address = wire.A2aMqttAddress("acme", unit, "shouter")
    agent_url = with_login(broker.url, "agent", "agent-secret")
    async with (
        serve_a2a_mqtt([shout], agent_url, address, unregister=True),
        A2aMqttClient(with_login(broker.url, "caller", "caller-secret")) as kit,
    ):
        reply = await kit.send_message(address.request_topic, {"text": "allowed"})
    assert reply.body["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"
