"""A small traced workflow shared by the trace tests: parallel research, a child call, a report.

Lanes (one per action): plan_topics, research_topic (three items at once),
summarise, check_facts (called by summarise through its context) and publish.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

from weft import ActionContext, Workflow, tool
from weft.runtime import compile_workflow
from weft.runtime.engine.executor import Executor, RunResult
from weft.runtime.support import logging as weft_logging
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore

AGENTS = {"plan_topics", "research_topic", "summarise", "check_facts", "publish"}


@tool
def plan_topics(subject: str) -> list[str]:
    """Split a subject into topics."""
    return [f"{subject}: history", f"{subject}: practice", f"{subject}: future"]


@tool
async def research_topic(topic: str, index: int) -> dict[str, object]:
    """Pretend to research a topic; later topics take longer, so they overlap visibly."""
    await asyncio.sleep(0.01 * (index + 1))
    return {"topic": topic, "notes": f"notes on {topic}", "sources": index + 1}


@tool
async def check_facts(claims: list[str]) -> dict[str, object]:
    """Check claims (always fine here)."""
    await asyncio.sleep(0.002)
    return {"checked": len(claims), "ok": True}


@tool
async def summarise(findings: list[dict[str, object]], ctx: ActionContext) -> str:
    """Summarise the findings after a fact check made as a child call."""
    claims = [str(f["notes"]) for f in findings]
    await ctx.invoke("check_facts", {"claims": claims})
    return " / ".join(claims)


@tool
def publish(summary: str) -> dict[str, object]:
    """Publish the summary."""
    return {"published": True, "chars": len(summary)}


def research_workflow() -> Workflow:
    wf = Workflow("research")
    wf.node("plan", plan_topics, with_={"subject": "${inputs.subject}"})
    wf.node(
        "research",
        research_topic,
        after=["plan"],
        foreach="${plan}",
        with_={"topic": "${item}", "index": "${index}"},
    )
    wf.node("summarise", summarise, after=["research"], with_={"findings": "${research}"})
    wf.node("publish", publish, after=["summarise"], with_={"summary": "${summarise}"})
    return wf


@dataclass
class TracedRun:
    store_path: Path
    result: RunResult

    @property
    def run_id(self) -> str:
        return self.result.run_id

    def store(self) -> TraceStore:
        return TraceStore(self.store_path)


async def run_traced(store_path: Path, subject: str = "beekeeping") -> RunResult:
    store = TraceStore(store_path)
    try:
        prepared = compile_workflow(research_workflow(), [check_facts])
        result = await Executor(tracer=store).run(prepared, {"subject": subject})
    finally:
        store.close()
    assert result.ok, result.error
    return result


@pytest.fixture
async def traced_run(tmp_path: Path) -> TracedRun:
    """The research workflow, run once with a trace store in ``tmp_path``."""
    path = tmp_path / "traces.db"
    return TracedRun(path, await run_traced(path))


def make_span(
    run_id: str, span_id: str, parent: str | None = None, **attributes: object
) -> SpanRecord:
    """A finished span of run ``run_id``: a node span when it has a parent, else a run span."""
    return SpanRecord(
        trace_id="a" * 32,
        span_id=span_id,
        parent_id=parent,
        name=f"span-{span_id}",
        kind="node" if parent else "run",
        start=1000.0,
        end=1000.5,
        status="succeeded",
        run_id=run_id,
        node=f"span-{span_id}",
        attributes=dict(attributes),
    )


@contextmanager
def captured_logs(level: str) -> Iterator[io.StringIO]:
    """weft's JSON log lines at ``level`` and above, with logging put back as it was after."""
    buffer = io.StringIO()
    weft_logging.configure_logging("json", level, stream=buffer)
    try:
        yield buffer
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "weft"]:
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        weft_logging.enabled = False
