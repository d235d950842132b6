"""Node spans travel as short rows: what they stand for must survive every path.

The executor hands the trace store one tuple per node (``tracing.NODE_ROW``),
encoded many at a time. These tests pin what that shortcut must not change:
names and keys inside loops, redaction and truncation of a single flagged row
in a clean chunk, the SQL view, and the tracers that get a ``SpanRecord``.
"""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from weft import Workflow, tool
from weft.runtime import compile_workflow
from weft.runtime.engine.executor import Executor
from weft.runtime.support.redaction import MASK, Redactor
from weft.runtime.tracing.span_codec import SpanCodec, decode_document
from weft.runtime.tracing.spans import FanOutTracer, MemoryTracer, NodeGroup, node_name
from weft.runtime.tracing.store import TraceStore


@tool
def draft(feedback: Any = None) -> dict[str, int]:
    """A new version each time round the loop."""
    return {"version": 0 if feedback is None else feedback["version"] + 1}


@tool
def review(text: dict[str, int]) -> dict[str, Any]:
    """Approves the third version."""
    return {"version": text["version"], "approved": text["version"] >= 2}


def loop_workflow() -> Workflow:
    wf = Workflow("loop")
    wf.node("draft", draft, with_={"feedback": "${review}"})
    wf.node("review", review, after=["draft"], with_={"text": "${draft}"})
    wf.edge("review", "draft", when="not output.approved", max_iterations=5)
    return wf


@tool
def step(value: Any) -> Any:
    """Passes its input on."""
    return value


def chain_of(count: int) -> Workflow:
    wf = Workflow("chain")
    wf.input("first")
    wf.node("n0", step, with_={"value": "${inputs.first}"})
    for i in range(1, count):
        wf.node(f"n{i}", step, after=[f"n{i - 1}"])
    return wf


def test_a_node_name_is_its_key_without_the_iteration() -> None:
    assert node_name("draft") == "draft"
    assert node_name("draft#2") == "draft"
    assert node_name("outer#1/inner#12") == "outer#1/inner"
    assert node_name("outer#1/inner") == "outer#1/inner"


async def test_loop_iterations_are_spans_named_after_their_node(tmp_path: Path) -> None:
    memory = MemoryTracer()
    store = TraceStore(tmp_path / "traces.db")
    result = await Executor(tracer=FanOutTracer(memory, store)).run(
        compile_workflow(loop_workflow()), {}
    )
    assert result.ok
    stored = [s for s in store.spans(result.run_id) if s.kind == "node"]
    assert [(s.name, s.node) for s in stored] == [
        ("draft", "draft"),
        ("review", "review"),
        ("draft", "draft#1"),
        ("review", "review#1"),
        ("draft", "draft#2"),
        ("review", "review#2"),
    ]
    assert stored[-1].attributes["output"] == {"version": 2, "approved": True}
    assert stored[-1].attributes["weft.attempts"] == 1
    # What the store gives back is what an in-memory tracer saw.
    seen = {s.span_id: s for s in memory.by_kind("node")}
    for span in stored:
        original = seen[span.span_id]
        assert (span.name, span.node, span.parent_id, span.status) == (
            original.name,
            original.node,
            original.parent_id,
            original.status,
        )
        assert span.start == original.start and span.end == original.end
    with sqlite3.connect(tmp_path / "traces.db") as db:
        rows = db.execute(
            "SELECT name, node FROM spans WHERE run_id = ? AND kind = 'node' ORDER BY start",
            (result.run_id,),
        ).fetchall()
    assert rows == [(s.name, s.node) for s in stored]
    store.close()


async def test_one_secret_among_many_clean_rows_is_masked_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    @tool
    def connect(value: Any) -> dict[str, Any]:
        """Returns a connection whose password must not be stored."""
        return {"host": "db.local", "password": "hunter2-but-longer"}

    wf = chain_of(40)
    wf.node("connect", connect, after=["n39"])
    store = TraceStore(tmp_path / "traces.db")
    result = await Executor(tracer=store).run(compile_workflow(wf), {"first": 7})
    assert result.nodes["connect"].output["password"] == "hunter2-but-longer"
    spans = {s.name: s for s in store.spans(result.run_id)}
    assert spans["connect"].attributes["output"] == {"host": "db.local", "password": MASK}
    assert spans["n39"].attributes["output"] == 7
    assert len([s for s in spans.values() if s.kind == "node"]) == 41
    store.close()
    assert b"hunter2" not in (tmp_path / "traces.db").read_bytes()


async def test_a_long_output_in_a_node_row_is_cut_and_its_neighbours_are_not(
    tmp_path: Path,
) -> None:
    @tool
    def essay(value: Any) -> str:
        """Far longer than a trace keeps."""
        return "word " * 2000

    wf = chain_of(20)
    wf.node("essay", essay, after=["n19"])
    store = TraceStore(tmp_path / "traces.db", max_chars=500)
    result = await Executor(tracer=store).run(compile_workflow(wf), {"first": "short"})
    spans = {s.name: s for s in store.spans(result.run_id)}
    output = spans["essay"].attributes["output"]
    assert len(output) < 600 and "truncated: 10000 chars" in output
    assert spans["n19"].attributes["output"] == "short"
    store.close()


@pytest.mark.parametrize("where", ["here", "writer process"])
def test_rows_with_nested_or_unusual_keys_are_looked_at_closely(where: str) -> None:
    codec = SpanCodec(redactor=Redactor())
    group = NodeGroup("r" * 32, "t" * 32, "p" * 16)
    clean = ("a" * 16, "n1", 1.0, 2.0, "succeeded", "step", {"value": 1}, 1)
    nested = ("b" * 16, "n2", 1.0, 2.0, "succeeded", "step", {"value": {"api_key": "k-1"}}, 1)
    colon = ("c" * 16, "n3", 1.0, 2.0, "succeeded", "step", {"value": "12:30"}, 1)
    non_str = ("d" * 16, "n4", 1.0, 2.0, "succeeded", "step", {"value": {7: "x"}}, 2**70)
    batch = codec.encode_batch([], {group: [clean, nested, colon, non_str]})
    if where == "writer process":  # the batch as the writer gets it: JSON text, no rows
        batch = pickle.loads(pickle.dumps(batch))
        assert all(rows is None for *_, rows in batch.raw_rows)
    codec.check_rows(batch)
    [(run_id, _trace, count, text)] = list(batch.documents())
    assert count == 4
    spans = {s.node: s for s in decode_document(run_id, text)}
    assert spans["n1"].attributes["input"] == {"value": 1}
    assert spans["n2"].attributes["input"] == {"value": {"api_key": MASK}}
    assert spans["n3"].attributes["input"] == {"value": "12:30"}
    assert spans["n4"].attributes["input"] == {"value": {"7": "x"}}
    assert spans["n4"].attributes["output"] == 2**70
    assert all(s.parent_id == "p" * 16 and s.kind == "node" for s in spans.values())


@pytest.mark.parametrize("where", ["here", "writer process"])
def test_a_sensitive_argument_name_is_masked_even_in_an_otherwise_clean_group(where: str) -> None:
    codec = SpanCodec(redactor=Redactor())
    group = NodeGroup("r" * 32, "t" * 32, None)
    rows = [
        (f"{i:016x}", f"n{i}", 1.0, 2.0, "succeeded", "login", {"user": "ann"}, True)
        for i in range(30)
    ]
    rows.append(("f" * 16, "n30", 1.0, 2.0, "succeeded", "login", {"password": "pw-1234"}, True))
    batch = codec.encode_batch([], {group: rows})
    if where == "writer process":
        batch = pickle.loads(pickle.dumps(batch))
    codec.check_rows(batch)
    [(run_id, _trace, count, text)] = list(batch.documents())
    assert count == 31 and "pw-1234" not in text
    spans = {s.node: s for s in decode_document(run_id, text)}
    assert spans["n30"].attributes["input"] == {"password": MASK}
    assert spans["n0"].attributes["input"] == {"user": "ann"}


async def test_a_node_cancelled_in_its_call_keeps_the_time_it_ran() -> None:
    """A run interrupted after minutes showed its node as ``0 µs cancelled``."""
    import asyncio

    started = asyncio.Event()

    @tool
    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    wf = Workflow("interrupted")
    wf.node("wait", slow)
    memory = MemoryTracer()
    run = asyncio.create_task(Executor(tracer=memory).run(compile_workflow(wf), {}))
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.sleep(0.2)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    (node,) = [span for span in memory.by_kind("node") if span.name == "wait"]
    assert node.status == "cancelled"
    assert node.end - node.start >= 0.2
