"""Export formats: valid Chrome trace events, valid OTLP/JSON, one JSON object per line."""

from __future__ import annotations

import base64
import json
from typing import Any

from weft.runtime.tracing.export import otel_attributes, to_chrome, to_jsonl, to_otlp_json
from weft.runtime.tracing.spans import SpanRecord

from .conftest import TracedRun


def _spans(traced_run: TracedRun) -> list[SpanRecord]:
    with traced_run.store() as store:
        return store.spans(traced_run.run_id)


def test_chrome_export_is_valid_trace_event_json(traced_run: TracedRun) -> None:
    spans = _spans(traced_run)
    document = json.loads(json.dumps(to_chrome(spans)))
    events = document["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) == len(spans)
    for event in complete:
        assert isinstance(event["name"], str) and isinstance(event["cat"], str)
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        assert isinstance(event["ts"], int | float) and event["ts"] >= 0
        assert isinstance(event["dur"], int | float) and event["dur"] >= 0
    named = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {name.split(" (")[0] for name in named.values()} >= {
        "plan_topics",
        "research_topic",
        "summarise",
        "check_facts",
        "publish",
    }
    assert all(e["tid"] in named for e in complete)


def test_chrome_export_puts_spans_that_overlap_on_separate_tracks(traced_run: TracedRun) -> None:
    events = to_chrome(_spans(traced_run))["traceEvents"]
    items = [
        e for e in events if e["ph"] == "X" and e["cat"] == "call" and e["name"] == "research_topic"
    ]
    assert len(items) == 3
    assert len({e["tid"] for e in items}) == 3
    critical = [e["name"] for e in events if e["ph"] == "X" and e["args"]["critical"]]
    assert "publish" in critical and "plan" in critical


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON writes ids in hex; protobuf's JSON reader expects base64 for bytes fields."""
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in ("traceId", "spanId", "parentSpanId")
            else _hex_ids_to_base64(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


def test_otlp_json_export_is_a_valid_traces_data_message(traced_run: TracedRun) -> None:
    from google.protobuf import json_format
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    spans = _spans(traced_run)
    document = to_otlp_json(spans)
    message = json_format.ParseDict(_hex_ids_to_base64(document), TracesData())
    (resource_spans,) = message.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == "weft"
    parsed = {s.span_id.hex(): s for s in scope_spans.spans}
    assert set(parsed) == {s.span_id for s in spans}
    for span in spans:
        otlp = parsed[span.span_id]
        assert otlp.trace_id.hex() == span.trace_id
        assert otlp.parent_span_id.hex() == (span.parent_id or "")
        assert otlp.end_time_unix_nano >= otlp.start_time_unix_nano > 0
        assert otlp.status.code == 1  # every span of this run succeeded


def test_otlp_attributes_follow_the_genai_conventions() -> None:
    llm = SpanRecord(
        trace_id="a" * 32,
        span_id="b" * 16,
        parent_id="c" * 16,
        name="chat gpt-test",
        kind="llm",
        start=1.0,
        end=2.0,
        status="ok",
        attributes={
            "gen_ai.request.model": "gpt-test",
            "input": [{"role": "user", "content": "hi"}],
            "output": "hello",
            "usage": {"llm_calls": 1, "prompt_tokens": 12, "completion_tokens": 5, "cost": 0.002},
        },
    )
    attributes = otel_attributes(llm)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-test"
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert attributes["gen_ai.usage.output_tokens"] == 5
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    tool_span = SpanRecord(
        trace_id="a" * 32,
        span_id="d" * 16,
        parent_id=None,
        name="lookup",
        kind="call",
        start=1.0,
        end=2.0,
        status="error",
        attributes={"error": {"type": "Timeout", "message": "slow"}, "weft.attempt": 2},
    )
    attributes = otel_attributes(tool_span)
    assert attributes["gen_ai.operation.name"] == "execute_tool"
    assert attributes["gen_ai.tool.name"] == "lookup"
    assert attributes["error.type"] == "Timeout"
    assert attributes["weft.attempt"] == 2


def test_jsonl_export_has_one_span_per_line(traced_run: TracedRun) -> None:
    spans = _spans(traced_run)
    lines = to_jsonl(spans).splitlines()
    assert len(lines) == len(spans)
    first = json.loads(lines[0])
    assert set(first) >= {
        "trace_id",
        "span_id",
        "parent_id",
        "name",
        "kind",
        "duration",
        "attributes",
    }


def test_otlp_json_text_is_strict_json_whatever_the_values() -> None:
    """The indented OTLP/JSON text is written by orjson (json.dumps with an indent took
    4 s for 20,000 spans): NaN stays null, and an integer past 64 bits still exports."""
    from weft.runtime.tracing.export import export

    def span(span_id: str, value: Any) -> SpanRecord:
        return SpanRecord(
            "a" * 32,
            span_id,
            None,
            "wf",
            "run",
            1.0,
            2.0,
            "succeeded",
            attributes={"output": value, "weft.score": float("nan")},
        )

    for value in ({"ratio": float("inf")}, {"big": 2**70}):
        text = export([span("b" * 16, value)], "otlp-json")
        document = json.loads(text)
        (exported,) = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
        assert exported["spanId"] == "b" * 16
        assert "NaN" not in text and "Infinity" not in text
