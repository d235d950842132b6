"""End to end: the HTML view of real runs, opened from file:// in headless Chromium.

The small research run checks lanes, the DAG and the details panel; fan-outs
of 200 and 1,000 items check that the view scales: items grouped under their
node, folded, labelled by index, slowest first, and the graph on the first
screen.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the Python
``playwright`` package; never ``playwright install``: the system browser is
launched directly, offline. A missing browser fails the test with those
instructions instead of skipping it, so CI cannot pass without running it.

With ``WEFT_UPDATE_SCREENSHOTS=1`` the screenshots go to ``docs/images/``
(used by ``docs/traces.md``); otherwise to the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from weft import Workflow, tool
from weft.runtime import compile_workflow
from weft.runtime.engine.executor import Executor
from weft.runtime.tracing.html import write_html
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore

from .conftest import AGENTS, TracedRun

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
VIEWPORT = {"width": 1400, "height": 900}
#: The item of the 200-item fan-out that takes far longer than any other.
SLOW_ITEM = 137
#: Items an open group shows before "show more" (``PAGE`` in trace_view.js).
PAGE = 50


def _chromium() -> str:
    configured = os.environ.get("WEFT_CHROMIUM")
    for candidate in (configured, *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "the trace view browser test needs Chromium: apt-get install -y chromium "
        "(or set WEFT_CHROMIUM to a Chromium binary); do not run `playwright install`",
        pytrace=False,
    )


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail(
            "the trace view browser test needs Playwright's Python package: pip install "
            "playwright (the browser itself comes from apt-get install -y chromium)",
            pytrace=False,
        )
    executable = _chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


def _screenshot_dir(tmp_path: Path) -> Path:
    if os.environ.get("WEFT_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        return DOCS_IMAGES
    return tmp_path


@pytest.fixture
def page_file(traced_run: TracedRun, tmp_path: Path) -> Path:
    with traced_run.store() as store:
        run = store.get_run(traced_run.run_id)
        spans = store.spans(run.run_id)
    return write_html(tmp_path / "view.html", run, spans)


@tool
def list_items(count: int) -> list[int]:
    """The items to fan out over."""
    return list(range(count))


@tool
async def process_item(item: int, slow: int) -> dict[str, int]:
    """A few milliseconds per item, and far longer for the one numbered ``slow``."""
    # far longer than a loaded machine's stall of the loop, which lengthens the short ones
    await asyncio.sleep(1.5 if item == slow else 0.001 * (item % 5))
    return {"item": item, "square": item * item}


@tool
def count_results(results: list[dict[str, int]]) -> int:
    """Join the fan-out."""
    return len(results)


async def _fanout_page(folder: Path, count: int) -> Path:
    """A real run of a ``count``-item foreach, traced to a store, written as a page."""
    wf = Workflow("fanout")
    wf.node("list", list_items, with_={"count": count})
    wf.node(
        "process",
        process_item,
        after=["list"],
        foreach="${list}",
        with_={"item": "${item}", "slow": SLOW_ITEM},
    )
    wf.node("count", count_results, after=["process"], with_={"results": "${process}"})
    store = TraceStore(folder / "traces.db")
    try:
        result = await Executor(tracer=store).run(compile_workflow(wf), {})
    finally:
        store.close()
    assert result.ok, result.error
    with TraceStore(folder / "traces.db") as store:
        run = store.get_run(result.run_id)
        spans = store.spans(run.run_id)
    return write_html(folder / f"fanout-{count}.html", run, spans)


@pytest.fixture
async def fanout_200(tmp_path: Path) -> Path:
    return await _fanout_page(tmp_path, 200)


async def _open(browser: Any, path: Path, suffix: str = "") -> tuple[Any, list[str]]:
    page = await browser.new_page(viewport=VIEWPORT)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None
        ),
    )
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith(("file:", "data:", "about:"))
            else problems.append(f"network request: {req.url}")
        ),
    )
    await page.goto(path.as_uri() + suffix)
    await page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    return page, problems


async def test_the_timeline_has_one_lane_per_agent_and_clicking_a_span_shows_its_details(
    browser: Any, page_file: Path, tmp_path: Path
) -> None:
    page, problems = await _open(browser, page_file)
    try:
        lanes = await page.locator(".lane").evaluate_all("els => els.map(e => e.dataset.lane)")
        assert sorted(lanes) == sorted(AGENTS)

        research = page.locator('.lane[data-lane="research_topic"]')
        assert await research.locator(".span-bar").count() == 4  # the foreach node, three items
        items = research.locator(".group .item")
        assert await items.count() == 3, "three items are not folded, each on a row of its own"
        labels = await items.locator(".lane-label b").all_inner_texts()
        assert sorted(labels) == ["[0]", "[1]", "[2]"]

        item = research.locator('.item[data-index="2"] .span-bar')
        await item.click()
        details = page.locator("#details")
        assert await details.locator("#detail-title").inner_text() == "research_topic"
        shown_input = await details.locator('[data-field="input"]').inner_text()
        shown_output = await details.locator('[data-field="output"]').inner_text()
        assert "beekeeping: future" in shown_input
        assert '"sources": 3' in shown_output
        assert await details.locator('[data-field="status"]').inner_text() == "ok"
        assert await details.locator('[data-field="item"]').inner_text() == "2 of 3 in research"
        assert await item.evaluate("e => e.classList.contains('selected')")
        shots = _screenshot_dir(tmp_path)
        await details.screenshot(path=str(shots / "trace-view-details.png"))
        await page.screenshot(path=str(shots / "trace-view-selected.png"), full_page=True)
        assert problems == []
    finally:
        await page.close()


async def test_the_dag_shows_every_node_with_its_state_and_selects_its_span(
    browser: Any, page_file: Path
) -> None:
    page, problems = await _open(browser, page_file)
    try:
        nodes = await page.locator(".dag-node").evaluate_all("els => els.map(e => e.dataset.node)")
        assert nodes == ["plan", "research", "summarise", "publish"]
        assert await page.locator(".dag-node.s-succeeded").count() == 4
        assert await page.locator(".dag-node.critical").count() == 4
        await page.locator('.dag-node[data-node="summarise"]').click()
        assert await page.locator("#detail-title").inner_text() == "summarise"
        output = await page.locator('[data-field="output"]').inner_text()
        assert "notes on beekeeping: history" in output
        assert problems == []
    finally:
        await page.close()


async def _item_rows(page: Any) -> list[tuple[int, float]]:
    """``(index, duration in ms)`` of the item rows shown, top to bottom, from the page's data."""
    rows: list[list[float]] = await page.evaluate(
        """() => {
            const data = JSON.parse(document.getElementById("weft-trace-data").textContent);
            const items = {};
            data.groups.forEach(g => g.items.forEach(i => { items[i.index] = i.duration; }));
            return [...document.querySelectorAll(".group .item")].map(
                row => [Number(row.dataset.index), items[row.dataset.index]]);
        }"""
    )
    return [(int(index), duration) for index, duration in rows]


async def test_a_200_item_foreach_is_one_folded_group_under_its_node_below_the_graph(
    browser: Any, fanout_200: Path
) -> None:
    page, problems = await _open(browser, fanout_200)
    try:
        group = page.locator('.lane[data-lane="process_item"] .group')
        assert await group.count() == 1
        assert await group.get_attribute("data-node") == "process"
        assert await group.get_attribute("data-count") == "200"
        assert await page.locator(".group .item").count() == 0, "folded: no item rows drawn"
        toggle = group.locator(".group-toggle")
        assert await toggle.get_attribute("aria-expanded") == "false"
        assert "200 items" in await toggle.inner_text()

        graph = await page.locator("#dag-section").bounding_box()
        timeline = await page.locator("#timeline-section").bounding_box()
        assert graph is not None and timeline is not None
        assert graph["y"] + graph["height"] <= VIEWPORT["height"], (
            "the graph is on the first screen"
        )
        height = await page.evaluate("document.documentElement.scrollHeight")
        assert height <= VIEWPORT["height"] * 1.5, f"a folded 200-item run is {height} px tall"
        dag_node = page.locator('.dag-node[data-node="process"]')
        assert "200 items" in await dag_node.inner_text()
        assert problems == []
    finally:
        await page.close()


async def test_opening_a_group_shows_items_labelled_by_index_slowest_first_a_page_at_a_time(
    browser: Any, fanout_200: Path, tmp_path: Path
) -> None:
    page, problems = await _open(browser, fanout_200)
    try:
        group = page.locator(".group")
        await group.locator(".group-toggle").click()
        assert await group.locator(".group-toggle").get_attribute("aria-expanded") == "true"
        rows = await _item_rows(page)
        assert len(rows) == PAGE
        assert rows[0][0] == SLOW_ITEM
        durations = [duration for _, duration in rows]
        assert durations == sorted(durations, reverse=True)
        first_label = await page.locator(".group .item").first.locator(".lane-label b").inner_text()
        assert first_label == f"[{SLOW_ITEM}]"

        await page.locator(".group-more button", has_text="show 50 more").click()
        assert len(await _item_rows(page)) == 2 * PAGE
        await page.locator(".group-more button", has_text="show all 200").click()
        rows = await _item_rows(page)
        assert sorted(index for index, _ in rows) == list(range(200))

        await page.locator(".group .item").nth(3).locator(".span-bar").click()
        await page.evaluate("window.scrollTo(0, 0)")
        shots = _screenshot_dir(tmp_path)
        await page.screenshot(path=str(shots / "trace-view-foreach.png"))

        await group.locator(".group-toggle").click()
        assert await page.locator(".group .item").count() == 0, "folded again"
        assert problems == []
    finally:
        await page.close()


async def test_the_items_can_be_listed_by_index(browser: Any, fanout_200: Path) -> None:
    page, problems = await _open(browser, fanout_200)
    try:
        await page.locator(".group-toggle").click()
        await page.locator(".group-order").select_option("index")
        rows = await _item_rows(page)
        assert [index for index, _ in rows] == list(range(PAGE))
        assert problems == []
    finally:
        await page.close()


async def test_a_link_to_an_item_in_a_folded_group_opens_the_group_at_it(
    browser: Any, fanout_200: Path
) -> None:
    html = fanout_200.read_text(encoding="utf-8")
    index = 195  # one of the fastest: beyond the first page of an open group
    marker = f'"node":"process[{index}]"'
    span_id = html[: html.index(marker)].rsplit('"id":"', 1)[1].split('"', 1)[0]
    page, problems = await _open(browser, fanout_200, f"#span={span_id}")
    try:
        bar = page.locator(f'.item[data-index="{index}"] .span-bar')
        assert await bar.evaluate("e => e.classList.contains('selected')")
        assert await bar.is_visible()
        assert (
            await page.locator('[data-field="item"]').inner_text() == f"{index} of 200 in process"
        )
        assert problems == []
    finally:
        await page.close()


async def test_a_1000_item_run_is_one_small_page_that_opens_at_once(
    browser: Any, tmp_path: Path
) -> None:
    path = await _fanout_page(tmp_path, 1000)
    size = path.stat().st_size
    assert size < 1024 * 1024, f"the page of a 1,000-item run is {size / 1024:.0f} KiB"
    page, problems = await _open(browser, path)
    try:
        ready = await page.evaluate("performance.getEntriesByName('weft-trace-ready')[0].startTime")
        assert ready < 3000, f"the page took {ready:.0f} ms to draw"
        elements = await page.evaluate("document.getElementsByTagName('*').length")
        assert elements < 400, f"{elements} elements for a folded 1,000-item run"
        height = await page.evaluate("document.documentElement.scrollHeight")
        assert height <= VIEWPORT["height"] * 1.5
        assert problems == []
    finally:
        await page.close()


async def test_a_lane_of_many_parallel_nodes_shows_its_first_rows_then_all_on_demand(
    browser: Any, tmp_path: Path
) -> None:
    run = SpanRecord("a" * 32, "r" * 16, None, "wide", "run", 0.0, 2.0, "succeeded", run_id="r")
    nodes = [
        SpanRecord(
            "a" * 32,
            f"{i:016x}",
            run.span_id,
            f"n{i}",
            "node",
            0.01 * i,
            1.0 + 0.01 * i,
            "succeeded",
            run_id="r",
            node=f"n{i}",
            attributes={"weft.action": "fetch"},
        )
        for i in range(60)  # all at once, and not a foreach: 60 rows of one lane
    ]
    page, problems = await _open(browser, write_html(tmp_path / "wide.html", None, [run, *nodes]))
    try:
        lane = page.locator('.lane[data-lane="fetch"]')
        assert await lane.locator(".span-bar").count() == 40
        await lane.locator("button", has_text="show all 60 rows").click()
        assert await page.locator('.lane[data-lane="fetch"] .span-bar').count() == 60
        assert problems == []
    finally:
        await page.close()


@tool
def explode(text: str) -> int:
    """A tool that fails, leaving its traceback."""
    raise ValueError(f"cannot count {text!r}")


async def test_details_show_an_llm_exchange_as_a_transcript_and_an_error_with_its_traceback(
    browser: Any, tmp_path: Path
) -> None:
    from weft.agents import LLMAgent
    from weft.testing import OpenAIServer, ScriptedModel, text, tool_call

    model = ScriptedModel([tool_call("explode", {"text": "a b"}), text("The tool failed.")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "counter",
            instructions="Count words with explode.",
            model="gpt-test",
            base_url=server.base_url,
            tools=[explode],
        )
        wf = Workflow("ask-a-model")
        wf.node("count", agent, with_={"task": "Count 'a b'."})
        store = TraceStore(tmp_path / "traces.db")
        try:
            result = await Executor(tracer=store).run(compile_workflow(wf), {})
        finally:
            store.close()
    assert result.ok, result.error
    with TraceStore(tmp_path / "traces.db") as store:
        run = store.get_run(result.run_id)
        spans = store.spans(run.run_id)
    page_path = write_html(tmp_path / "llm.html", run, spans)
    answer = [s for s in spans if s.kind == "llm"][-1]
    failed = next(s for s in spans if s.kind == "call" and s.name == "explode")

    page, problems = await _open(browser, page_path, f"#span={answer.span_id}")
    try:
        details = page.locator("#details")
        sent = await details.locator('[data-field="input"]').inner_text()
        assert sent.startswith("[system]\nCount words with explode.\n\n[user]\nCount 'a b'.")
        assert 'call explode({"text": "a b"})' in sent
        assert '"type": "ValueError"' in sent  # the tool's error, as the model saw it
        assert "Traceback" not in sent  # the model is not sent the traceback
        reply = await details.locator('[data-field="output"]').inner_text()
        assert reply == "[assistant]\nThe tool failed."
        await details.screenshot(path=str(_screenshot_dir(tmp_path) / "trace-view-llm.png"))
        assert problems == []
    finally:
        await page.close()

    page, problems = await _open(browser, page_path, f"#span={failed.span_id}")
    try:
        error = await page.locator('#details [data-field="error"]').inner_text()
        assert '"type": "ValueError"' in error
        assert "Traceback (most recent call last):" in error
        assert "in explode" in error and '"traceback"' not in error
        assert error.rstrip().endswith("ValueError: cannot count 'a b'")
        assert problems == []
    finally:
        await page.close()


# -- a big graph: the view draws what is in view, and draws the rest when scrolled to ------

#: Nodes of the big layered MacNet (32 wide: 94 layers, 92,000 edges), one agent per node.
BIG = 3000


def _agent(index: int) -> Any:
    """A no-op action of its own, so that every node has its own lane."""

    async def play(task: str, context: Any = None) -> str:
        return "ok"

    play.__name__ = f"agent_{index}"
    return play


@pytest.fixture(scope="module")
def big_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The page of a real traced 3,000-node layered run, and its node spans by node name."""
    from weft.workflows.casting import per_node
    from weft.workflows.topologies import generate

    folder = tmp_path_factory.mktemp("big")
    workflow = generate("layered", BIG, per_node(lambda _node, i: _agent(i)), width=32)

    async def run() -> str:
        store = TraceStore(folder / "traces.db")
        try:
            result = await Executor(tracer=store).run(compile_workflow(workflow), {"task": "t"})
        finally:
            store.close()
        assert result.ok, result.error
        return result.run_id

    run_id = asyncio.run(run())
    with TraceStore(folder / "traces.db") as store:
        run_record = store.get_run(run_id)
        spans = store.spans(run_id)
    nodes = {s.name: s.span_id for s in spans if s.kind == "node"}
    return write_html(folder / "big.html", run_record, spans), nodes


async def test_a_3000_node_run_opens_with_only_what_is_in_view_drawn(
    browser: Any, big_page: tuple[Path, dict[str, str]]
) -> None:
    path, _ = big_page
    page, problems = await _open(browser, path)
    try:
        lanes = await page.locator(".lane").count()
        assert 0 < lanes < 200, f"{lanes} of {BIG} lanes drawn at once"
        dag_nodes = await page.locator(".dag-node").count()
        assert 0 < dag_nodes < 100, f"{dag_nodes} of {BIG} graph nodes drawn at once"
        elements = await page.evaluate("document.getElementsByTagName('*').length")
        assert elements < 3000, f"{elements} elements for a {BIG}-node run"

        await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        last = page.locator(f'.lane[data-lane="agent_{BIG - 1}"]')
        await last.wait_for(timeout=5_000)
        assert await page.locator('.lane[data-lane="agent_0"]').count() == 0, "dropped, far away"

        await page.evaluate("document.getElementById('dag-scroll').scrollLeft = 1e9")
        first_of_last_layer = BIG // 32 * 32
        await page.locator(f'.dag-node[data-node="n{first_of_last_layer}"]').wait_for(timeout=5_000)
        assert await page.locator('.dag-node[data-node="n0"]').count() == 0
        assert problems == []
    finally:
        await page.close()


async def test_clicking_a_node_of_a_3000_node_graph_selects_its_span(
    browser: Any, big_page: tuple[Path, dict[str, str]]
) -> None:
    path, nodes = big_page
    page, problems = await _open(browser, path)
    try:
        node = page.locator('.dag-node[data-node="n33"]')
        await node.click()
        assert await page.locator("#detail-title").inner_text() == "n33"
        assert await page.locator('[data-field="lane"]').inner_text() == "agent_33"
        assert await node.evaluate("e => e.classList.contains('selected')")
        bar = page.locator(f'.span-bar[data-span-id="{nodes["n33"]}"]')
        assert await bar.evaluate("e => e.classList.contains('selected')")
        assert problems == []
    finally:
        await page.close()


async def test_a_link_to_a_span_far_down_a_3000_lane_timeline_draws_and_shows_it(
    browser: Any, big_page: tuple[Path, dict[str, str]]
) -> None:
    path, nodes = big_page
    name = f"n{BIG - 7}"
    page, problems = await _open(browser, path, f"#span={nodes[name]}")
    try:
        bar = page.locator(f'.span-bar[data-span-id="{nodes[name]}"]')
        assert await bar.is_visible()
        assert await bar.evaluate("e => e.classList.contains('selected')")
        assert await page.locator("#detail-title").inner_text() == name
        assert problems == []
    finally:
        await page.close()


async def test_a_graph_with_too_many_edges_in_view_draws_only_the_highlighted_ones(
    browser: Any, tmp_path: Path
) -> None:
    count = 400  # a mesh: 79,800 edges, some 40,000 of them over the middle of the graph
    names = [f"m{i}" for i in range(count)]
    graph = {
        "nodes": [{"name": name, "action": "noop"} for name in names],
        "edges": [[a, b] for i, a in enumerate(names) for b in names[i + 1 :]],
    }
    run = SpanRecord(
        "a" * 32, "r" * 16, None, "mesh", "run", 0.0, 1.0, "succeeded", run_id="r",
        attributes={"weft.graph": graph},
    )  # fmt: skip
    page, problems = await _open(browser, write_html(tmp_path / "mesh.html", None, [run]))
    try:
        note = page.locator(".dag-note")
        assert await note.is_hidden(), "the start of the graph has few edges: all drawn"
        await page.evaluate(
            "() => { const s = document.getElementById('dag-scroll');"
            " s.scrollLeft = (s.scrollWidth - s.clientWidth) / 2; }"
        )
        await note.wait_for(state="visible", timeout=5_000)
        assert "79,800 edges" in await note.inner_text()
        assert await page.locator(f'.dag-node[data-node="m{count // 2}"]').count() == 1
        assert problems == []
    finally:
        await page.close()


async def test_a_remote_call_is_striped_and_its_details_say_how_long_it_ran_and_waited(
    browser: Any, tmp_path: Path
) -> None:
    def span(
        span_id: str,
        parent: str | None,
        name: str,
        kind: str,
        start: float,
        end: float,
        **attributes: Any,
    ) -> SpanRecord:
        return SpanRecord(
            "a" * 32, span_id.ljust(16, "0"), parent and parent.ljust(16, "0"), name, kind,
            start, end, "ok", run_id="r", node=attributes.pop("node", None),
            agent=attributes.pop("agent", None), attributes=attributes,
        )  # fmt: skip

    spans = [
        span("run", None, "flow", "run", 0.0, 1.0),
        span("node", "run", "fx", "node", 0.0, 0.9, node="fx", agent="effect-1",
             **{"weft.action": "effect", "weft.attempt": 1}),
        span("served", "node", "effect", "call", 0.6, 0.8, node="fx", agent="effect-1",
             **{"weft.side": "agent", "weft.attempt": 1}),
    ]  # fmt: skip
    page, problems = await _open(browser, write_html(tmp_path / "remote.html", None, spans))
    try:
        caller = page.locator(f'.span-bar[data-span-id="{"node".ljust(16, "0")}"]')
        own = page.locator(f'.span-bar[data-span-id="{"served".ljust(16, "0")}"]')
        assert await caller.evaluate("e => e.classList.contains('waited')")
        assert not await own.evaluate("e => e.classList.contains('waited')")
        await caller.click()
        served = await page.locator('#details [data-field="served"]').inner_text()
        assert served == "ran 200.0 ms on the agent · waited 700.0 ms (broker, queue)"
        assert await page.locator('#details [data-field="attempt"]').inner_text() == "1"
        await own.click()
        served = await page.locator('#details [data-field="served"]').inner_text()
        assert served == "the agent's own span of the call"
        assert problems == []
    finally:
        await page.close()
