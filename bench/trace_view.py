"""The trace view at size: how long a layered MacNet run's HTML page takes to open.

    python bench/trace_view.py                        # 1,000 and 10,000 nodes, printed
    python bench/trace_view.py --nodes 10000 --keep /tmp/tv   # keep the stores, reuse them
    python bench/trace_view.py --page old.html        # time a page written earlier

For each size: a layered MacNet (``generate("layered", n)``, 31 wide at 1,000
nodes and 32 wide beyond, as ``bench/topologies.py`` builds it: 310,000 edges
at 10,000 nodes) where every node is played by a distinct no-op agent (one
action, so one timeline lane, per node), run in process and traced to a
``TraceStore``; the page written by ``write_html``; then opened from
``file://`` in Debian's Chromium through Playwright, launched as
``tests/traces/test_trace_view_browser.py`` launches it. Reported: the time
to write the page and its size, when the page said it was ready (the
``weft-trace-ready`` performance mark, page time, and the wall time from
navigation to ``body[data-ready]``), how many elements it holds, and how long
a click on a DAG node takes to select its span (details panel filled, the
node marked). The median of ``--repeats`` page loads, each in a new page.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from weft.runtime import Executor, compile_workflow  # noqa: E402
from weft.runtime.tracing.html import write_html  # noqa: E402
from weft.runtime.tracing.store import TraceStore  # noqa: E402
from weft.workflows.casting import per_node  # noqa: E402
from weft.workflows.topologies import generate  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
#: The DAG node clicked: in the first layer, on the graph's first screen at any size.
CLICKED = "n5"
#: The task every node is given (as bench/topologies.py gives it).
TASK = "t" * 100


def agent(index: int) -> Callable[..., Any]:
    """A no-op action of its own: one agent, so one lane, per node."""

    async def play(task: str, context: Any = None) -> str:
        return "ok"

    play.__name__ = f"agent_{index}"
    return play


async def traced_run(n: int, folder: Path) -> tuple[Path, str]:
    """Run (or reuse) the ``n``-node layered MacNet traced to ``folder``; the store and run id."""
    db = folder / f"layered-{n}.db"
    if db.exists():
        with TraceStore(db) as store:
            runs = store.runs(limit=1)
            if runs:
                return db, runs[0].run_id
        db.unlink()
    width = round(min(n, 1_000) ** 0.5)
    workflow = generate("layered", n, per_node(lambda _node, i: agent(i)), width=width)
    store = TraceStore(db)
    try:
        result = await Executor(tracer=store).run(compile_workflow(workflow), {"task": TASK})
    finally:
        store.close()
    if not result.ok:
        raise RuntimeError(f"layered {n}: {result.state} {result.error}")
    return db, result.run_id


def write_page(db: Path, run_id: str, target: Path) -> float:
    """Write the page; seconds taken (reading the store included)."""
    started = time.perf_counter()
    with TraceStore(db) as store:
        run = store.get_run(run_id)
        write_html(target, run, store.spans(run_id))
    return time.perf_counter() - started


async def open_page(browser: Any, path: Path) -> dict[str, float]:
    """One load of ``path``: ready (page and wall ms), elements, and a DAG click's ms."""
    page = await browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        started = time.perf_counter()
        await page.goto(path.as_uri(), timeout=300_000)
        await page.wait_for_selector("body[data-ready=true]", timeout=300_000)
        wall = (time.perf_counter() - started) * 1000
        ready = await page.evaluate("performance.getEntriesByName('weft-trace-ready')[0].startTime")
        elements = await page.evaluate("document.getElementsByTagName('*').length")
        node = page.locator(f'.dag-node[data-node="{CLICKED}"]')
        started = time.perf_counter()
        await node.click(timeout=60_000)
        await page.wait_for_function(
            "name => document.getElementById('detail-title').textContent === name"
            " && document.querySelector('.dag-node.selected') !== null",
            arg=CLICKED,
            timeout=60_000,
        )
        click = (time.perf_counter() - started) * 1000
        if errors:
            raise RuntimeError(f"{path.name}: {errors[:3]}")
        return {"ready_ms": ready, "wall_ms": wall, "elements": elements, "click_ms": click}
    finally:
        await page.close()


async def time_pages(pages: Sequence[Path], repeats: int, log: Callable[[str], None]) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for path in pages:
                loads = [await open_page(browser, path) for _ in range(repeats)]
                med = {k: statistics.median(load[k] for load in loads) for k in loads[0]}
                log(
                    f"{path.name}: {path.stat().st_size / 2**20:.1f} MiB, ready "
                    f"{med['ready_ms']:.0f} ms (wall {med['wall_ms']:.0f} ms), "
                    f"{med['elements']:.0f} elements, DAG click {med['click_ms']:.0f} ms "
                    f"(median of {repeats})"
                )
        finally:
            await browser.close()


async def main_async(args: argparse.Namespace) -> None:
    def log(message: str) -> None:
        print(message, flush=True)

    if args.page:
        await time_pages([Path(p) for p in args.page], args.repeats, log)
        return
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="weft-trace-view-"))
    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for n in (int(x) for x in args.nodes.split(",")):
        started = time.perf_counter()
        db, run_id = await traced_run(n, folder)
        log(f"layered {n}: run traced in {time.perf_counter() - started:.1f} s ({db})")
        target = folder / f"layered-{n}.html"
        log(f"layered {n}: page written in {write_page(db, run_id, target):.2f} s")
        pages.append(target)
    await time_pages(pages, args.repeats, log)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1000,10000", help="sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=3, help="page loads per size (median)")
    parser.add_argument("--keep", help="folder for the stores and pages (reused when present)")
    parser.add_argument("--page", nargs="+", help="only time these pages, written earlier")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
