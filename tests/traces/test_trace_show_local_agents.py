"""``weft trace show`` marks remote agents with ``@``, and an LLM agent of the run's own
process as a local agent.

An ``LLMAgent`` names itself as the agent that answered (``ActionResult.agent``,
so that a handoff says which agent of the chain answered), and every span
with an agent was shown as ``@name``, the mark of an agent in another process.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from weft import Workflow
from weft.agents import LLMAgent
from weft.cli import cli
from weft.runtime.engine.runner import run_workflow
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore
from weft.testing import FunctionModel, OpenAIServer, text


def show(store: Path) -> list[str]:
    shown = CliRunner().invoke(cli, ["trace", "show", "last", "--store", str(store)])
    assert shown.exit_code == 0, shown.output
    return shown.output.splitlines()


async def test_an_llm_agent_of_the_run_is_shown_as_local(tmp_path: Path) -> None:
    store = tmp_path / "traces.db"
    async with OpenAIServer(FunctionModel(lambda request: text("A short note."))) as server:
        writer = LLMAgent("writer", instructions="Write a note.", base_url=server.base_url)
        wf = Workflow("notes")
        wf.node("draft", writer, with_={"task": "Write about snow"})
        tracer = TraceStore(store, writer="inline")
        try:
            result = await run_workflow(wf, tracer=tracer, journal=False)
        finally:
            tracer.close()
    assert result.ok
    lines = show(store)
    assert not any("@writer" in line for line in lines), lines
    [node] = [line for line in lines if "draft" in line and " node " in line]
    assert node.rstrip().endswith("local agent writer")  # the node 'draft' ran the agent


def span(
    span_id: str,
    parent: str | None,
    name: str,
    kind: str,
    agent: str | None = None,
    **extra: object,
) -> SpanRecord:
    return SpanRecord(
        "t" * 32,
        span_id.ljust(16, "0"),
        parent and parent.ljust(16, "0"),
        name,
        kind,
        1.0,
        2.0,
        "ok",
        run_id="r1",
        node=None if kind in ("run", "llm") else "answer",
        agent=agent,
        attributes=dict(extra),
    )


def test_a_handoff_answered_by_another_local_agent_names_it_and_a_remote_one_keeps_its_mark(
    tmp_path: Path,
) -> None:
    store = tmp_path / "traces.db"
    with TraceStore(store, writer="inline") as tracer:
        for record in (
            span("run", None, "support", "run"),
            span("node", "run", "answer", "node", "refunds", **{"weft.action": "triage"}),
            span("call", "node", "triage", "call", "refunds"),
            span("llm", "call", "gpt", "llm"),
            span("rnode", "run", "lookup", "node", "lookup-7f3a", **{"weft.action": "lookup"}),
            span("rcall", "rnode", "lookup", "call", "lookup-7f3a"),
            span("served", "rcall", "lookup", "call", "lookup-7f3a", **{"weft.side": "agent"}),
        ):
            tracer.record(record)
    lines = show(store)
    triage = [line for line in lines if "triage" in line or "answer" in line]
    assert triage and all(line.rstrip().endswith("local agent refunds") for line in triage)
    remote = [line for line in lines if "lookup" in line]
    assert len(remote) == 3 and all("@lookup-7f3a" in line for line in remote), remote
