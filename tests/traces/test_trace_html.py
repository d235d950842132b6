"""The HTML view is one self-contained file, and ``--serve`` serves it on loopback.

What the page draws is decided in ``layout.view_model``: lanes, foreach groups
(items under their node, slowest first, folded past a threshold) and the DAG.
"""

from __future__ import annotations

import asyncio
import json
import re
from itertools import pairwise
from typing import Any

from weft.runtime.tracing.html import render_html, start_server
from weft.runtime.tracing.layout import COLLAPSE_ABOVE, view_model
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


# -- foreach groups and the DAG, on spans made by hand ------------------------------------

RUN, NODE = "r" * 16, "f" * 16


def _span(
    span_id: str,
    parent: str | None,
    kind: str,
    start: float,
    end: float,
    *,
    node: str | None = None,
    name: str = "work",
    status: str = "ok",
    **attributes: Any,
) -> SpanRecord:
    return SpanRecord(
        "a" * 32,
        span_id,
        parent,
        name,
        kind,
        start,
        end,
        status,
        run_id="r",
        node=node,
        attributes=dict(attributes),
    )


def _foreach(durations: list[float]) -> list[SpanRecord]:
    """A run with one foreach node ``work`` whose item ``i`` takes ``durations[i]`` seconds."""
    spans = [
        _span(RUN, None, "run", 0.0, 10.0, name="run", status="succeeded"),
        _span(
            NODE, RUN, "node", 0.0, 9.0, node="work", status="succeeded", **{"weft.foreach": True}
        ),
    ]
    for index, duration in enumerate(durations):
        spans.append(
            _span(f"{index:016x}", NODE, "call", 1.0, 1.0 + duration, node=f"work[{index}]")
        )
    return spans


def test_foreach_items_form_one_group_under_their_node_slowest_first() -> None:
    model = view_model(None, _foreach([0.2, 0.5, 0.1, 0.5]))
    [group] = model["groups"]
    assert (group["lane"], group["node"], group["name"]) == ("work", NODE, "work")
    assert [item["index"] for item in group["items"]] == [1, 3, 0, 2]  # ties by index
    assert (group["count"], group["max"], group["p50"], group["peak"]) == (4, 500.0, 200.0, 4)
    [lane] = model["lanes"]
    assert (lane["rows"], lane["spans"], lane["groups"]) == (1, 5, [group["id"]])
    items = {s["item"]: s for s in model["spans"] if s.get("group") == group["id"]}
    assert sorted(items) == [0, 1, 2, 3] and all(s["row"] == 0 for s in items.values())


def test_a_group_of_more_items_than_the_threshold_starts_folded() -> None:
    [small] = view_model(None, _foreach([0.1] * COLLAPSE_ABOVE))["groups"]
    [large] = view_model(None, _foreach([0.1] * (COLLAPSE_ABOVE + 1)))["groups"]
    assert (small["collapsed"], large["collapsed"]) == (False, True)


def test_an_items_attempts_and_what_it_made_stay_in_its_block() -> None:
    spans = _foreach([1.0])
    spans.append(_span("a" * 16, NODE, "call", 2.5, 3.0, node="work[0]", status="error"))
    spans.append(_span("b" * 16, "a" * 16, "llm", 2.6, 2.9, name="chat"))
    spans.append(_span("c" * 16, "a" * 16, "call", 2.7, 2.8, node="work[0]", name="check"))
    model = view_model(None, spans)
    by_lane = {g["lane"]: g for g in model["groups"]}
    assert set(by_lane) == {"work", "check"}, "a child call in another lane groups there"
    [item] = by_lane["work"]["items"]
    assert (item["index"], len(item["spans"]), item["rows"]) == (0, 3, 2)
    assert item["status"] == "error", "the span that ended last decides the item's state"
    assert by_lane["work"]["failed"] == 1
    assert model["lanes"][0]["rows"] == 1, "only the node itself is packed into the lane's rows"


def test_a_span_under_a_node_that_is_not_a_foreach_is_not_an_item() -> None:
    spans = _foreach([])
    spans[1].attributes["weft.foreach"] = False
    spans.append(_span("a" * 16, NODE, "call", 1.0, 2.0, node="work[0]"))
    model = view_model(None, spans)
    assert model["groups"] == []
    assert "group" not in model["spans"][-1]


def test_the_dag_of_a_long_chain_is_laid_out_in_one_layer_per_node() -> None:
    count = 3000  # deeper than Python's recursion limit
    names = [f"n{i}" for i in range(count)]
    graph = {
        "nodes": [{"name": name, "action": "noop"} for name in names],
        "edges": [[a, b] for a, b in pairwise(names)],
    }
    run = _span(RUN, None, "run", 0.0, 1.0, name="chain", **{"weft.graph": graph})
    dag = view_model(None, [run])["graph"]
    assert [n["layer"] for n in dag["nodes"]] == list(range(count))
    assert (dag["layers"], dag["height"]) == (count, 1)


def test_the_dag_counts_the_items_of_a_foreach_node() -> None:
    graph = {"nodes": [{"name": "work", "action": "work", "foreach": True}], "edges": []}
    spans = _foreach([0.1, 0.2, 0.3])
    spans[0].attributes["weft.graph"] = graph
    [node] = view_model(None, spans)["graph"]["nodes"]
    assert (node["items"], node["state"]) == (3, "succeeded")


def test_the_dag_edges_are_pairs_of_node_positions() -> None:
    graph = {
        "nodes": [{"name": name, "action": "noop"} for name in ("a", "b", "c")],
        "edges": [["a", "b"], ["a", "c"], ["b", "c"], ["c", "gone"]],
        "loops": [["c", "a"]],
    }
    run = _span(RUN, None, "run", 0.0, 1.0, name="dag", **{"weft.graph": graph})
    dag = view_model(None, [run])["graph"]
    assert dag["edges"] == [0, 1, 0, 2, 1, 2], "flat (source, target) positions; unknown dropped"
    assert dag["loops"] == [2, 0]
