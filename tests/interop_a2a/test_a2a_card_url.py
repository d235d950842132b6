"""The URL an HTTP A2A agent's card names is one its clients can reach.

A client sends its requests to the card's interface URL, not to where it
fetched the card: an IPv6 host needs brackets, and a server bound to every
address (``0.0.0.0``) names the address each client reached it by (its
``Host``), never ``0.0.0.0``, which sends a client on another machine to
itself.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from weft.agents.a2a_action import from_a2a
from weft.protocols import ActionCall
from weft.runtime.engine.execution_context import UNUSED_CONTEXT
from weft.runtime.interop.a2a_server import A2aHttpServer

from .a2a_tools import echo

CARD = ".well-known/agent-card.json"


def interface_urls(card: dict[str, object]) -> list[str]:
    return [i["url"] for i in card["supportedInterfaces"]]  # type: ignore[attr-defined]


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def test_a_server_on_every_address_names_the_address_each_client_used() -> None:
    async with A2aHttpServer([echo], host="0.0.0.0") as server, httpx.AsyncClient() as http:
        port = server.url.rsplit(":", 1)[1].rstrip("/")
        by_ip = (await http.get(f"http://127.0.0.1:{port}/{CARD}")).json()
        by_name = (await http.get(f"http://localhost:{port}/{CARD}")).json()
        forged = await http.get(f"http://127.0.0.1:{port}/{CARD}", headers={"Host": "a b/c"})
    assert interface_urls(by_ip) == [f"http://127.0.0.1:{port}/"]
    assert interface_urls(by_name) == [f"http://localhost:{port}/"]
    assert interface_urls(forged.json()) == [f"http://0.0.0.0:{port}/"]  # left as it was


async def test_a_client_calls_a_server_on_every_address_through_its_card() -> None:
    async with A2aHttpServer([echo], host="0.0.0.0") as server:
        port = server.url.rsplit(":", 1)[1].rstrip("/")
        action = await from_a2a(f"http://localhost:{port}/")
        try:
            call = ActionCall(action=action.spec.name, arguments={"text": "hi"})
            result = await action.invoke(call, UNUSED_CONTEXT)
        finally:
            await action.aclose()
    assert result.ok and result.output == {"text": "hi"}


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_an_ipv6_address_is_written_in_brackets() -> None:
    async with A2aHttpServer([echo], host="::1") as server, httpx.AsyncClient() as http:
        assert server.url.startswith("http://[::1]:")
        card = (await http.get(server.url + CARD)).json()
    assert interface_urls(card) == [server.url]
