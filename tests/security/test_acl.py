"""Password auth and weft's ACL on a real Mosquitto: who may register, call and listen.

The broker (``secured`` fixture) refuses anonymous clients and runs the ACL
rendered from ``weft/data/mosquitto.acl.template``: alice, bob, sum-1 and
sum-2 are agents (user name = agent id; the sum replicas share pool ``sum``),
``orchestrator`` may read and write every weft topic, ``cli`` may call.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest
from bus_requests import Requester, serve_echo

from weft import tool
from weft.protocols import ActionCall, ActionState, BusError, Message, Topics
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost, agent_will
from weft.runtime.remote.remote_action import RemoteAction

from .conftest import SecuredBroker

WAIT = 10.0
NS = "sec"


def bus(secured: SecuredBroker, user: str | None, password: str | None = None) -> MqttBus:
    return MqttBus(secured.url(user, password), namespace=NS, client_id=f"{user}-1")


async def test_anonymous_client_is_refused(secured: SecuredBroker) -> None:
    anonymous = MqttBus(secured.url(), namespace=NS)
    with pytest.raises(BusError, match=r"refused the connection: .*[Nn]ot authori[sz]ed"):
        await anonymous.start()


async def test_wrong_password_is_refused_without_showing_it(secured: SecuredBroker) -> None:
    with pytest.raises(BusError, match="refused the connection") as info:
        await bus(secured, "alice", "guessed-wrong").start()
    assert "guessed-wrong" not in str(info.value)


async def test_an_agent_can_publish_its_own_card(secured: SecuredBroker) -> None:
    async with bus(secured, "orchestrator") as orchestrator, bus(secured, "alice") as alice:
        cards = await orchestrator.subscribe(orchestrator.topics.all_cards())
        await alice.publish(alice.topics.card("alice"), b'{"agent": "alice"}', retain=True)
        card = await cards.get(timeout=WAIT)
        assert (card.topic, card.payload) == (alice.topics.card("alice"), b'{"agent": "alice"}')


async def test_an_agent_cannot_publish_another_agents_card(secured: SecuredBroker) -> None:
    async with bus(secured, "orchestrator") as orchestrator, bus(secured, "alice") as alice:
        cards = await orchestrator.subscribe(orchestrator.topics.all_cards())
        with pytest.raises(BusError, match=r"refused the publish to .*cards/bob.*[Nn]ot authori"):
            await alice.publish(alice.topics.card("bob"), b'{"agent": "forged"}', retain=True)
        # Published after the forgery on the same connection: it arrives
        # after anything the forgery could have produced.
        await alice.publish(alice.topics.card("alice"), b"marker", retain=True)
        assert (await cards.get(timeout=WAIT)).topic == alice.topics.card("alice")
        late = await orchestrator.subscribe(orchestrator.topics.card("bob"))
        await orchestrator.publish(orchestrator.topics.card("bob"), b"real", retain=True)
        assert (await late.get(timeout=WAIT)).payload == b"real", "no forged card was retained"


async def test_an_agent_cannot_call_another_agent(secured: SecuredBroker) -> None:
    async with bus(secured, "alice") as alice, Requester(alice) as requester:
        with pytest.raises(BusError, match="refused the publish"):
            await requester.request(alice.topics.agent_call("bob"), b"{}", timeout=WAIT)


async def test_a_remote_call_the_acl_refuses_fails_at_once_naming_the_topic(
    secured: SecuredBroker,
) -> None:
    @tool
    def shout(text: str) -> str:
        return text.upper()

    deadline = time.time() + 30.0  # a refusal that waited for it would end as a timeout
    async with bus(secured, "alice") as alice:
        action = RemoteAction(alice, shout.spec, agent="bob", default_timeout=30.0)
        result = await action.invoke(
            ActionCall(action="shout", arguments={"text": "hi"}, deadline=deadline)
        )
    assert result.state == ActionState.ERROR, result
    assert result.error is not None
    assert (result.error.type, result.error.retryable) == ("PublishRefused", False)
    topic = alice.topics.agent_call("bob")
    assert f"refused the publish to '{topic}': Not authorized" in result.error.message
    assert result.error.message.startswith("remote action 'shout': broker ")


async def test_an_agent_never_receives_another_agents_calls(secured: SecuredBroker) -> None:
    # Mosquitto's acl_file grants every SUBSCRIBE and filters at delivery:
    # alice's subscription to bob's call topic stays empty (see
    # test_subscribe_acl.py for brokers that refuse the SUBSCRIBE itself).
    async with (
        bus(secured, "orchestrator") as orchestrator,
        bus(secured, "alice") as alice,
        bus(secured, "bob") as bob,
    ):
        spying = await alice.subscribe(alice.topics.agent_call("bob"))
        own = await alice.subscribe(alice.topics.agent_call("alice"))
        bob_calls = await bob.subscribe(bob.topics.agent_call("bob"))
        await orchestrator.publish(orchestrator.topics.agent_call("bob"), b"for bob")
        await orchestrator.publish(orchestrator.topics.agent_call("alice"), b"for alice")
        assert (await bob_calls.get(timeout=WAIT)).payload == b"for bob"
        # The call for alice left after the call for bob, on the same connections.
        assert (await own.get(timeout=WAIT)).payload == b"for alice"
        with pytest.raises(TimeoutError):
            await spying.get(timeout=0.05)


async def test_an_agent_never_receives_other_clients_replies(secured: SecuredBroker) -> None:
    async with (
        bus(secured, "orchestrator") as orchestrator,
        bus(secured, "alice") as alice,
        Requester(orchestrator) as requester,
    ):
        spying = await alice.subscribe(alice.topics.replies(orchestrator.client_id))
        serving = await serve_echo(alice, alice.topics.agent_call("alice"), b"echo:")
        reply = await requester.request(alice.topics.agent_call("alice"), b"hi", timeout=WAIT)
        assert reply.payload == b"echo:hi"
        with pytest.raises(TimeoutError):
            await spying.get(timeout=0.05)
        serving.cancel()


async def test_the_orchestrator_can_call_an_agent_and_its_pool(secured: SecuredBroker) -> None:
    async with (
        bus(secured, "orchestrator") as orchestrator,
        bus(secured, "alice") as alice,
        Requester(orchestrator) as requester,
    ):
        direct = await serve_echo(alice, alice.topics.agent_call("alice"), b"echo:")
        pooled = await serve_echo(alice, alice.topics.shared_pool_subscription("alice"), b"echo:")
        topics = orchestrator.topics
        reply = await requester.request(topics.agent_call("alice"), b"a", timeout=WAIT)
        assert reply.payload == b"echo:a"
        reply = await requester.request(topics.pool_call("alice"), b"p", timeout=WAIT)
        assert reply.payload == b"echo:p"
        direct.cancel()
        pooled.cancel()


async def test_an_agent_may_clear_its_own_card_with_its_will(secured: SecuredBroker) -> None:
    async with bus(secured, "orchestrator") as orchestrator:
        card = orchestrator.topics.card("alice")
        cards = await orchestrator.subscribe(card)
        will = Message(topic=card, payload=b"", retain=True)
        alice = MqttBus(
            secured.url("alice"), namespace=NS, client_id="alice-1", will=will, backoff_max=0.2
        )
        async with alice:
            await alice.publish(card, b'{"agent": "alice"}', retain=True)
            assert (await cards.get(timeout=WAIT)).payload == b'{"agent": "alice"}'
            # Cut the TCP connection without an MQTT DISCONNECT, as a crash would.
            assert alice._conn is not None
            sock = alice._conn.client.socket()
            assert isinstance(sock, socket.socket)
            sock.shutdown(socket.SHUT_RDWR)
            assert (await cards.get(timeout=WAIT)).payload == b""
            await alice.wait_connected(timeout=WAIT)


async def test_replicas_granted_a_pool_share_its_calls(secured: SecuredBroker) -> None:
    async with (
        bus(secured, "orchestrator") as orchestrator,
        bus(secured, "sum-1") as one,
        bus(secured, "sum-2") as two,
        Requester(orchestrator) as requester,
    ):
        serving = [
            await serve_echo(replica, replica.topics.shared_pool_subscription("sum"), b"echo:")
            for replica in (one, two)
        ]
        pool = orchestrator.topics.pool_call("sum")
        replies = await asyncio.gather(
            *(requester.request(pool, b"%d" % i, timeout=WAIT) for i in range(6))
        )
        assert sorted(r.payload for r in replies) == sorted(b"echo:%d" % i for i in range(6))
        for task in serving:
            task.cancel()


async def test_an_agent_in_a_pool_it_was_not_granted_receives_none_of_its_calls(
    secured: SecuredBroker,
) -> None:
    # Confidentiality holds with the file ACL: the intruder sees no call.
    # Availability does not: its turns in the share group are dropped by the
    # broker (docs/security.md, Limits); the dynamic-security plugin refuses
    # the SUBSCRIBE outright (test_subscribe_acl.py).
    async with (
        bus(secured, "orchestrator") as orchestrator,
        bus(secured, "sum-1") as replica,
        bus(secured, "alice") as alice,
    ):
        calls = await replica.subscribe(replica.topics.shared_pool_subscription("sum"))
        stolen = await alice.subscribe(alice.topics.shared_pool_subscription("sum"))
        for i in range(10):
            await orchestrator.publish(orchestrator.topics.pool_call("sum"), b"%d" % i)
        received: list[bytes] = []
        with contextlib.suppress(TimeoutError):
            while len(received) < 10:
                received.append((await calls.get(timeout=1.0)).payload)
        assert received, "the granted replica got no call at all"
        with pytest.raises(TimeoutError):
            await stolen.get(timeout=0.5)


async def test_an_agent_host_serves_a_remote_action_under_the_acl(secured: SecuredBroker) -> None:

    @tool
    def shout(text: str) -> str:
        return text.upper()

    will = agent_will(Topics(NS), "alice")
    agent_bus = MqttBus(secured.url("alice"), namespace=NS, client_id="alice", will=will)
    async with agent_bus, AgentHost(agent_bus, [shout], agent_id="alice", pool="alice"):
        for caller in ("orchestrator", "cli"):
            async with bus(secured, caller) as client:
                action = RemoteAction(client, shout.spec, pool="alice", default_timeout=WAIT)
                result = await action.invoke(ActionCall(action="shout", arguments={"text": "hi"}))
                assert (result.state, result.output) == (ActionState.OK, "HI"), caller


async def test_an_agent_host_cannot_register_under_another_agents_id(
    secured: SecuredBroker,
) -> None:
    @tool
    def shout(text: str) -> str:
        return text.upper()

    async with bus(secured, "alice") as alice:
        host = AgentHost(alice, [shout], agent_id="bob", pooled=False)
        with pytest.raises(BusError, match=r"refused the publish to .*cards/bob"):
            await host.start()
        await host.stop(drain_timeout=0)
