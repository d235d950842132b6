"""Structured logs: every line logged during a call carries the run, span and agent ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from weft import ActionContext, Workflow, tool
from weft.runtime import compile_workflow
from weft.runtime.engine.executor import Executor
from weft.runtime.support import logging as weft_logging
from weft.runtime.tracing.spans import MemoryTracer

from .conftest import captured_logs

log = weft_logging.get_logger("weft.test.actions")


@tool
def inner(x: int) -> int:
    log.info("inner working", x=x)
    return x + 1


@tool
async def outer(x: int, ctx: ActionContext) -> int:
    log.info("outer before")
    result = await ctx.invoke("inner", {"x": x})
    logging.getLogger("a.library").info("stdlib line from outer")
    return int(result.output)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    with captured_logs("info") as buffer:
        yield buffer


async def test_lines_logged_in_a_call_carry_its_run_span_and_agent(json_logs: io.StringIO) -> None:
    wf = Workflow("logged")
    wf.node("outer", outer, with_={"x": 1})
    tracer = MemoryTracer()
    result = await Executor(tracer=tracer).run(compile_workflow(wf, [inner]), {})
    assert result.ok
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    by_event = {line["event"]: line for line in lines}
    (node_span,) = tracer.by_kind("node")
    (child_span,) = tracer.by_kind("call")

    before = by_event["outer before"]
    assert (before["run_id"], before["span_id"], before["agent"]) == (
        result.run_id,
        node_span.span_id,
        "outer",
    )
    working = by_event["inner working"]
    assert (working["span_id"], working["agent"], working["x"]) == (child_span.span_id, "inner", 1)
    after = by_event["stdlib line from outer"]
    assert (after["span_id"], after["agent"], after["logger"]) == (
        node_span.span_id,
        "outer",
        "a.library",
    )
    assert all(line["trace_id"] == node_span.trace_id and line["level"] == "info" for line in lines)


async def test_without_configured_logging_the_executor_binds_nothing() -> None:
    seen: list[dict[str, Any]] = []

    @tool
    def peek() -> None:
        seen.append(structlog.contextvars.get_contextvars())

    assert weft_logging.enabled is False
    wf = Workflow("quiet")
    wf.node("peek", peek)
    assert (await Executor().run(compile_workflow(wf), {})).ok
    assert seen == [{}]


def test_console_format_and_levels_are_chosen_by_the_environment() -> None:
    buffer = io.StringIO()
    try:
        assert weft_logging.configure_from_env({}) is False
        weft_logging.configure_logging("console", "warning", stream=buffer)
        weft_logging.get_logger("weft.test").info("hidden")
        weft_logging.get_logger("weft.test").warning("shown", detail=3)
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "weft"]:
            root.removeHandler(handler)
        structlog.reset_defaults()
        weft_logging.enabled = False
    text = buffer.getvalue()
    assert "hidden" not in text and "shown" in text and "detail=3" in text
    with pytest.raises(ValueError, match="unknown log format"):
        weft_logging.configure_logging("xml")
