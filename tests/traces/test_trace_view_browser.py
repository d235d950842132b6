"""End to end: the HTML view of a real run, opened from file:// in headless Chromium.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the Python
``playwright`` package; never ``playwright install``: the system browser is
launched directly, offline. A missing browser fails the test with those
instructions instead of skipping it, so CI cannot pass without running it.

With ``WEFT_UPDATE_SCREENSHOTS=1`` the screenshots go to ``docs/images/``
(used by ``docs/traces.md``); otherwise to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from weft.runtime.tracing.html import write_html

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


async def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
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
    await page.goto(path.as_uri())
    await page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    return page, problems


async def test_the_timeline_has_one_lane_per_agent_and_clicking_a_span_shows_its_details(
    browser: Any, page_file: Path, tmp_path: Path
) -> None:
    page, problems = await _open(browser, page_file)
    try:
        lanes = await page.locator(".lane").evaluate_all("els => els.map(e => e.dataset.lane)")
        assert sorted(lanes) == sorted(AGENTS)

        research_bars = page.locator('.lane[data-lane="research_topic"] .span-bar')
        assert await research_bars.count() == 4  # the foreach node and its three items
        rows = await research_bars.evaluate_all("els => els.map(e => e.style.top)")
        assert len(set(rows)) == 4, "spans that ran at the same time must sit on separate rows"

        item = page.locator('.lane[data-lane="research_topic"] .span-bar.k-call').last
        await item.click()
        details = page.locator("#details")
        assert await details.locator("#detail-title").inner_text() == "research_topic"
        shown_input = await details.locator('[data-field="input"]').inner_text()
        shown_output = await details.locator('[data-field="output"]').inner_text()
        assert "beekeeping: future" in shown_input
        assert '"sources": 3' in shown_output
        assert await details.locator('[data-field="status"]').inner_text() == "ok"
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
