"""The browser view of a run: one self-contained HTML file, and a tiny server for it.

The page (``weft/data/trace_view.html``) has its CSS, JavaScript and the run's
data inline and loads nothing from anywhere, so it works offline, from
``file://``, attached to a bug report. It shows a timeline with one lane per
agent (parallel spans stack inside a lane), the workflow's DAG with each
node's state, and, for any span clicked, its input, output, error, usage and
attributes. Layout (lanes, rows, DAG layers) is computed here so that the
script only draws.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from weft.runtime.tracing.analysis import (
    SpanTree,
    critical_path,
    graph_of,
    lane_of,
    pack_rows,
    tokens_of,
    usage_of,
)
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceRun

_PLACEHOLDER = "/*WEFT_TRACE_DATA*/"


def view_model(run: TraceRun | None, spans: list[SpanRecord]) -> dict[str, Any]:
    """Everything the page draws, as JSON-ready data (times in ms from the run's start)."""
    tree = SpanTree.build(spans)
    critical = critical_path(tree)
    on_path = set(critical)
    origin = min((s.start for s in tree.spans), default=0.0)
    end = max((s.end for s in tree.spans), default=origin)
    by_lane: dict[str, list[SpanRecord]] = {}
    lanes_of: dict[str, str | None] = {}
    for span in tree.spans:
        lane = lane_of(span, tree)
        lanes_of[span.span_id] = lane
        if lane is not None:
            by_lane.setdefault(lane, []).append(span)
    rows: dict[str, int] = {}
    lanes = []
    for lane, members in sorted(by_lane.items(), key=lambda item: item[1][0].start):
        packed = pack_rows(members)
        rows.update(packed)
        lanes.append({"name": lane, "rows": max(packed.values()) + 1, "spans": len(members)})
    view_spans = []
    for span in tree.spans:
        prompt, completion = tokens_of(span)
        usage = usage_of(span)
        view_spans.append(
            {
                "id": span.span_id,
                "parent": span.parent_id,
                "name": span.name,
                "kind": span.kind,
                "status": span.status,
                "node": span.node,
                "agent": span.agent,
                "lane": lanes_of[span.span_id],
                "row": rows.get(span.span_id, 0),
                "start": (span.start - origin) * 1000,
                "duration": max(span.end - span.start, 0.0) * 1000,
                "critical": span.span_id in on_path,
                "tokens": [prompt, completion],
                "cost": float(usage.get("cost") or 0.0),
                "attributes": {k: v for k, v in span.attributes.items() if k != "weft.graph"},
            }
        )
    return {
        "run": _run_info(run, tree),
        "total_ms": (end - origin) * 1000,
        "lanes": lanes,
        "spans": view_spans,
        "critical": critical,
        "graph": _dag(graph_of(tree.spans), tree),
    }


def _run_info(run: TraceRun | None, tree: SpanTree) -> dict[str, Any]:
    root = tree.run_span()
    info: dict[str, Any] = {
        "run_id": run.run_id if run else (root.run_id if root else None),
        "workflow": (run.workflow if run else None) or (root.name if root else None),
        "state": run.state if run else (root.status if root else "unknown"),
        "started_at": run.started_at if run else (root.start if root else None),
        "duration_ms": (root.end - root.start) * 1000 if root else None,
        "spans": len(tree.spans),
        "usage": (run.usage if run else {}) or (usage_of(root) if root else {}),
    }
    return info


def _dag(graph: dict[str, Any] | None, tree: SpanTree) -> dict[str, Any] | None:
    """Nodes placed in layers (longest path from a source), with each node's latest state."""
    if graph is None:
        return None
    names = [n["name"] for n in graph["nodes"]]
    incoming: dict[str, list[str]] = {name: [] for name in names}
    for source, target in graph["edges"]:
        incoming.setdefault(target, []).append(source)
    layer: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name in layer:
            return layer[name]
        if name in seen:
            return 0
        sources = [s for s in incoming.get(name, []) if s in incoming]
        value = 1 + max((depth(s, seen | {name}) for s in sources), default=-1)
        layer[name] = value
        return value

    for name in names:
        depth(name)
    latest: dict[str, SpanRecord] = {}
    for span in tree.spans:
        if span.kind == "node" and "/" not in span.name:
            latest[span.name] = span
    per_layer: dict[int, int] = {}
    nodes = []
    for node in graph["nodes"]:
        name = node["name"]
        index = per_layer.get(layer[name], 0)
        per_layer[layer[name]] = index + 1
        ran = latest.get(name)
        nodes.append(
            {
                **node,
                "layer": layer[name],
                "index": index,
                "state": ran.status if ran else "not run",
                "span": ran.span_id if ran else None,
            }
        )
    return {
        "nodes": nodes,
        "edges": graph["edges"],
        "loops": graph.get("loops", []),
        "layers": max(layer.values(), default=0) + 1,
        "height": max(per_layer.values(), default=1),
    }


def _template() -> str:
    return resources.files("weft").joinpath("data/trace_view.html").read_text(encoding="utf-8")


def render_html(run: TraceRun | None, spans: list[SpanRecord]) -> str:
    """The complete page for a run: no external resources, data inline."""
    data = json.dumps(view_model(run, spans), ensure_ascii=False, default=str)
    # Inside <script>, "</" could close the element and U+2028/9 used to break JS parsers.
    data = (
        data.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return _template().replace(_PLACEHOLDER, data, 1)


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
