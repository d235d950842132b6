"""A tool that raises keeps its traceback: on its span, in `weft trace show`, OTLP and the log."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft import ActionContext, Workflow, tool
from weft.cli._app import cli
from weft.runtime import run_workflow
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.tracing.export import to_otlp_json
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore

from .conftest import captured_logs


def parse_number(text: str) -> int:
    return int(text)


@tool
def to_number(text: str) -> int:
    """Read a number (a plain def: it runs in a worker thread)."""
    return parse_number(text)


@tool
async def add_up(texts: list[str], ctx: ActionContext) -> int:
    """Add numbers read by to_number, one child call each."""
    total = 0
    for text in texts:
        result = await ctx.invoke("to_number", {"text": text})
        if not result.ok:
            raise RuntimeError(f"could not read {text!r}")
        total += int(result.output)
    return total


async def _run(store_path: Path, wf: Workflow) -> tuple[RunResult, list[SpanRecord]]:
    with TraceStore(store_path) as store:
        result = await run_workflow(wf, actions=[to_number], tracer=store)
        spans = store.spans(result.run_id)
    return result, spans


def _one_failing_node() -> Workflow:
    wf = Workflow("numbers")
    wf.node("read", to_number, with_={"text": "seven"})
    return wf


async def test_a_failed_tool_span_keeps_the_traceback_from_the_tools_own_code(
    tmp_path: Path,
) -> None:
    result, spans = await _run(tmp_path / "traces.db", _one_failing_node())
    assert not result.ok
    [node] = [s for s in spans if s.kind == "node"]
    error = node.attributes["error"]
    assert error["type"] == "ValueError"
    stack = error["details"]["traceback"]
    lines = stack.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].endswith(", in to_number")  # weft's frames above the tool are left out
    assert "in parse_number" in stack
    assert lines[-1] == "ValueError: invalid literal for int() with base 10: 'seven'"


async def test_a_child_call_that_raised_keeps_its_traceback_on_its_span(tmp_path: Path) -> None:
    wf = Workflow("sum")
    wf.node("sum", add_up, with_={"texts": ["1", "two"]})
    result, spans = await _run(tmp_path / "traces.db", wf)
    assert not result.ok
    [child] = [s for s in spans if s.kind == "call" and s.status == "error"]
    assert child.name == "to_number"
    assert "in parse_number" in child.attributes["error"]["details"]["traceback"]
    [node] = [s for s in spans if s.kind == "node"]
    assert "in add_up" in node.attributes["error"]["details"]["traceback"]


async def test_trace_show_prints_each_traceback_once(tmp_path: Path) -> None:
    wf = Workflow("items", on_failure="continue")
    wf.node("list", lambda: ["x", "y"])
    wf.node("read", to_number, after=["list"], foreach="${list}", with_={"text": "${item}"})
    wf.node("sum", add_up, with_={"texts": ["1", "two"]})
    result, _ = await _run(tmp_path / "traces.db", wf)
    shown = CliRunner().invoke(
        cli, ["trace", "show", result.run_id, "--store", str(tmp_path / "traces.db")]
    )
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "✗ ValueError: to_number: invalid literal for int() with base 10: 'x'" in out
    assert "✗ RuntimeError: add_up: could not read 'two'" in out
    # to_number failed three times through the same frames: its traceback is shown once
    assert out.count("Traceback (most recent call last):") == 2  # to_number's and add_up's
    assert out.count("(traceback: the same frames as above)") == 2
    assert "invalid literal for int() with base 10: 'y'" in out  # each error is still shown
    assert "return int(text)" in out


async def test_otlp_exports_record_the_traceback_as_an_exception_event(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from weft.runtime.tracing.otlp import OtlpTracer

    _, spans = await _run(tmp_path / "traces.db", _one_failing_node())
    [node] = [s for s in spans if s.kind == "node"]
    document = to_otlp_json([node])
    [span] = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    [event] = span["events"]
    assert event["name"] == "exception"
    values = {a["key"]: a["value"]["stringValue"] for a in event["attributes"]}
    assert values["exception.type"] == "ValueError"
    assert "in parse_number" in values["exception.stacktrace"]

    memory = InMemorySpanExporter()
    tracer = OtlpTracer(memory)
    tracer.record(node)
    tracer.close()
    [exported] = memory.get_finished_spans()
    [live_event] = exported.events
    assert live_event.name == "exception"
    assert live_event.attributes is not None
    assert "in parse_number" in str(live_event.attributes["exception.stacktrace"])


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    with captured_logs("debug") as buffer:
        yield buffer


async def test_the_debug_log_has_the_traceback_and_the_calls_ids(
    tmp_path: Path, debug_logs: io.StringIO
) -> None:
    result, _ = await _run(tmp_path / "traces.db", _one_failing_node())
    lines = [json.loads(line) for line in debug_logs.getvalue().splitlines()]
    [raised] = [line for line in lines if line.get("logger") == "weft.actions"]
    assert raised["level"] == "debug"
    assert (
        raised["event"]
        == "to_number raised ValueError: invalid literal for int() with base 10: 'seven'"
    )
    assert raised["run_id"] == result.run_id and raised["node"] == "read"
    assert "in parse_number" in raised["exception"]
