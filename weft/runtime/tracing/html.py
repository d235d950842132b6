"""The browser view of a run: one self-contained HTML file, and a tiny server for it.

The page (``weft/data/trace_view.html``, with ``trace_view.css`` and
``trace_view.js`` put inline) has its CSS, JavaScript and the run's data in
one file and loads nothing from anywhere, so it works offline, from
``file://``, attached to a bug report. It shows the workflow's DAG with each
node's state, a timeline with one lane per agent (parallel spans stack inside
a lane, a foreach node's items are grouped under it, slowest first, folded
when there are many), and, for any span clicked, its input, output, error,
usage and attributes. What it draws is computed by ``layout.view_model``, so
that the script only draws.

The script draws only what is in view: graph nodes inside the graph's box
(its edges painted on a canvas the size of that view) and lanes near the
window, 40 at a time, the rest as they are scrolled to. A 10,000-node run
with a lane per agent thus opens about as fast as a small one
(``bench/trace_view.py``); what still grows with the run is the page's size.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

from weft.protocols.results import finite
from weft.runtime.tracing.layout import view_model
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceRun

__all__ = ["render_html", "serve", "start_server", "view_model", "write_html"]

_DATA = "/*WEFT_TRACE_DATA*/"
_CSS = "/*WEFT_TRACE_CSS*/"
_SCRIPT = "/*WEFT_TRACE_SCRIPT*/"


@cache
def _template() -> str:
    """The page with its style and script in place and the data's placeholder left."""
    data = resources.files("weft").joinpath("data")

    def read(name: str) -> str:
        return data.joinpath(name).read_text(encoding="utf-8")

    page = read("trace_view.html")
    return page.replace(_CSS, read("trace_view.css"), 1).replace(_SCRIPT, read("trace_view.js"), 1)


def render_html(run: TraceRun | None, spans: list[SpanRecord]) -> str:
    """The complete page for a run: no external resources, data inline."""
    model = view_model(run, spans)
    try:  # strict: the page reads it with JSON.parse, which refuses NaN
        data = _dumps(model)
    except ValueError:  # a NaN or an infinity somewhere: copy with None there (rare, and slow)
        data = _dumps(finite(model))
    # Inside <script>, "</" could close the element and U+2028/9 used to break JS parsers.
    data = (
        data.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return _template().replace(_DATA, data, 1)


def _dumps(model: dict[str, object]) -> str:
    return json.dumps(
        model, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
    )


def write_html(path: str | Path, run: TraceRun | None, spans: list[SpanRecord]) -> Path:
    """Write the page for a run to ``path`` (folders are created) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(run, spans), encoding="utf-8")
    return target


async def start_server(
    html: str, host: str = "127.0.0.1", port: int = 0
) -> tuple[asyncio.Server, int]:
    """Serve ``html`` at ``/`` on ``host:port`` (0: any free port); returns the server and port.

    A deliberately tiny HTTP/1.0 responder: one page, GET or HEAD, then close.
    It binds to loopback by default; the page may hold a run's inputs and outputs.
    """
    body = html.encode("utf-8")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=10)
            while (await asyncio.wait_for(reader.readline(), timeout=10)) not in (b"\r\n", b""):
                pass
            parts = request.decode("latin-1").split()
            method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
            path = target.split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, payload, kind = "405 Method Not Allowed", b"", "text/plain"
            elif path in ("/", "/index.html"):
                status, payload, kind = "200 OK", body, "text/html; charset=utf-8"
            else:
                status, payload, kind = "404 Not Found", b"not found\n", "text/plain"
            head = (
                f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(payload)}\r\nCache-Control: no-store\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (payload if method == "GET" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    bound = server.sockets[0].getsockname()[1]
    return server, int(bound)


async def serve(
    html: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the page until cancelled; ``ready`` gets the URL once it is listening."""
    server, bound = await start_server(html, host, port)
    if ready is not None:
        ready(f"http://{host}:{bound}/")
    async with server:
        await server.serve_forever()
