"""The HTML view is one self-contained file, and ``--serve`` serves it on loopback."""

from __future__ import annotations

import asyncio
import json
import re

from weft.runtime.tracing.html import render_html, start_server, view_model
from weft.runtime.tracing.spans import SpanRecord

from .conftest import AGENTS, TracedRun


def _page(traced_run: TracedRun) -> str:
    with traced_run.store() as store:
        run = store.get_run(traced_run.run_id)
        return render_html(run, store.spans(run.run_id))


def test_the_page_loads_nothing_from_anywhere(traced_run: TracedRun) -> None:
    html = _page(traced_run)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(link|img|iframe)\b", html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "@import" not in html and "url(http" not in html


def test_the_data_has_a_lane_per_agent_and_the_workflow_graph(traced_run: TracedRun) -> None:
    with traced_run.store() as store:
        run = store.get_run(traced_run.run_id)
        model = view_model(run, store.spans(run.run_id))
    assert {lane["name"] for lane in model["lanes"]} == AGENTS
    assert [n["name"] for n in model["graph"]["nodes"]] == [
        "plan",
        "research",
        "summarise",
        "publish",
    ]
    assert [n["layer"] for n in model["graph"]["nodes"]] == [0, 1, 2, 3]
    assert all(n["state"] == "succeeded" for n in model["graph"]["nodes"])
    assert model["run"]["workflow"] == "research" and model["run"]["state"] == "succeeded"


def test_text_from_a_run_cannot_close_the_data_script() -> None:
    span = SpanRecord(
        "a" * 32,
        "b" * 16,
        None,
        "x",
        "run",
        1.0,
        2.0,
        "succeeded",
        run_id="r",
        attributes={"output": "</script><script>alert(1)</script>\u2028"},
    )
    html = render_html(None, [span])
    assert "</script><script>alert(1)" not in html
    data = html.split('id="weft-trace-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["spans"][0]["attributes"]["output"].startswith("</script>")


async def test_serve_answers_the_page_on_loopback_and_nothing_else(traced_run: TracedRun) -> None:
    html = _page(traced_run)
    server, port = await start_server(html, "127.0.0.1", 0)

    async def get(path: str) -> tuple[str, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), timeout=5)
        writer.close()
        head, _, body = response.partition(b"\r\n\r\n")
        return head.decode().splitlines()[0], body

    async with server:
        assert server.sockets[0].getsockname()[0] == "127.0.0.1"
        status, body = await get("/")
        assert status == "HTTP/1.0 200 OK" and body.decode() == html
        status, _ = await get("/secrets.txt")
        assert status == "HTTP/1.0 404 Not Found"
