"""A run's spans in formats other tools read: JSON lines, OTLP/JSON, Chrome trace events.

The input is what the trace store returns (already truncated and redacted),
so no format can leak what the store did not keep. ``otel_attributes`` is
also what the live OTLP exporter sends: OpenTelemetry GenAI semantic
conventions where they apply (``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.input.messages`` and
``gen_ai.output.messages`` in the conventions' message form (``genai``),
``gen_ai.usage.input_tokens``...), ``weft.*`` for the rest, inputs and
outputs as JSON strings. An error that kept its traceback is also an
``exception`` span event (``exception.type``, ``exception.message``,
``exception.stacktrace``), as OpenTelemetry records exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

from weft.protocols.results import finite
from weft.runtime.tracing.analysis import (
    SpanTree,
    critical_path,
    lane_of,
    nest_first_attempts,
    pack_rows,
    usage_of,
)
from weft.runtime.tracing.genai import input_messages, output_messages, server_of
from weft.runtime.tracing.spans import SpanRecord

FORMATS = ("otlp-json", "jsonl", "chrome")

#: OTLP status codes.
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
_OK_STATES = frozenset({"ok", "succeeded"})
_ERROR_STATES = frozenset({"error", "failed", "timeout"})
#: OTLP span kind INTERNAL.
_KIND_INTERNAL = 1
_ORJSON_INDENTED = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS

AttributeValue = str | bool | int | float | list[str] | list[bool] | list[int] | list[float]


def _json(value: Any) -> str:
    """Strict JSON (NaN as null: docs/cli.md, "JSON output"), as every export writes."""
    return json.dumps(
        finite(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
    )


def status_code(span: SpanRecord) -> int:
    if span.status in _OK_STATES:
        return STATUS_OK
    if span.status in _ERROR_STATES:
        return STATUS_ERROR
    return STATUS_UNSET


def error_message(span: SpanRecord) -> str | None:
    error = span.attributes.get("error")
    if error is None:
        return None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)
    return str(error)


def _plain(value: Any) -> AttributeValue | None:
    """An OpenTelemetry attribute value: scalars and homogeneous scalar lists as they are."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, list) and value and all(type(v) in (int, float) for v in value):
        return [float(v) for v in value] if any(isinstance(v, float) for v in value) else value
    return None


def otel_attributes(span: SpanRecord) -> dict[str, AttributeValue]:
    """A span's attributes the way OpenTelemetry expects them (GenAI conventions first)."""
    attrs = span.attributes
    out: dict[str, AttributeValue] = {"weft.span.kind": span.kind, "weft.status": span.status}
    if span.run_id:
        out["weft.run_id"] = span.run_id
    if span.node:
        out["weft.node"] = span.node
    if span.agent:
        out["gen_ai.agent.id"] = span.agent
    usage = usage_of(span)
    llm = span.kind == "llm"
    action = attrs.get("weft.action") if span.kind == "node" else span.name
    if llm:
        out["gen_ai.operation.name"] = str(attrs.get("gen_ai.operation.name") or "chat")
        out["gen_ai.provider.name"] = "openai"  # the API spoken, whoever serves it
        model = attrs.get("gen_ai.request.model") or attrs.get("llm.model") or attrs.get("model")
        if model:
            out["gen_ai.request.model"] = str(model)
        server = server_of(attrs.get("llm.base_url"))
        if server is not None:
            out["server.address"], out["server.port"] = server
    elif span.kind in ("node", "call", "critic") and isinstance(action, str):
        if usage.get("llm_calls"):
            out["gen_ai.operation.name"] = "invoke_agent"
            out["gen_ai.agent.name"] = action
        else:
            out["gen_ai.operation.name"] = "execute_tool"
            out["gen_ai.tool.name"] = action
    if usage.get("prompt_tokens"):
        out["gen_ai.usage.input_tokens"] = int(usage["prompt_tokens"])
    if usage.get("completion_tokens"):
        out["gen_ai.usage.output_tokens"] = int(usage["completion_tokens"])
    if usage.get("cost"):
        out["weft.usage.cost"] = float(usage["cost"])
    if usage.get("llm_calls"):
        out["weft.usage.llm_calls"] = int(usage["llm_calls"])
    for key, value in attrs.items():
        if key in ("usage", "weft.graph") or value is None:
            continue
        if key == "input":
            if llm:
                out["gen_ai.input.messages"] = _json(input_messages(value))
            else:
                out["weft.input"] = _json(value)
        elif key == "output":
            if llm:
                reasons = attrs.get("gen_ai.response.finish_reasons")
                out["gen_ai.output.messages"] = _json(output_messages(value, reasons))
            else:
                out["weft.output"] = _json(value)
        elif key == "error":
            if isinstance(value, dict) and value.get("type"):
                out["error.type"] = str(value["type"])
            out["weft.error"] = _json(value)
        else:
            plain = _plain(value)
            out[key] = plain if plain is not None else _json(value)
    return out


def exception_event(span: SpanRecord) -> dict[str, AttributeValue] | None:
    """The attributes of an ``exception`` event for a span whose error kept its traceback."""
    error = span.attributes.get("error")
    if not isinstance(error, dict):
        dump = getattr(error, "model_dump", None)
        error = dump(mode="json") if dump is not None else None
    details = error.get("details") if isinstance(error, dict) else None
    stack = details.get("traceback") if isinstance(details, dict) else None
    if not isinstance(error, dict) or not isinstance(stack, str):
        return None
    return {
        "exception.type": str(error.get("type") or "Exception"),
        "exception.message": str(error.get("message") or ""),
        "exception.stacktrace": stack,
    }


def _otlp_value(value: AttributeValue) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_otlp_value(v) for v in value]}}
    return {"stringValue": value}


def _nanos(seconds: float) -> str:
    return str(round(seconds * 1e9))


def to_otlp_json(spans: Iterable[SpanRecord], *, service_name: str = "weft") -> dict[str, Any]:
    """An OTLP/JSON ``TracesData`` document (ids in hex, 64-bit integers as strings)."""
    from weft import __version__

    otlp_spans = []
    for span in spans:
        item: dict[str, Any] = {
            "traceId": span.trace_id,
            "spanId": span.span_id,
            "name": span.name,
            "kind": _KIND_INTERNAL,
            "startTimeUnixNano": _nanos(span.start),
            "endTimeUnixNano": _nanos(span.end),
            "attributes": [
                {"key": k, "value": _otlp_value(v)} for k, v in otel_attributes(span).items()
            ],
            "status": {"code": status_code(span)},
        }
        if span.parent_id:
            item["parentSpanId"] = span.parent_id
        exception = exception_event(span)
        if exception is not None:
            item["events"] = [
                {
                    "timeUnixNano": _nanos(span.end),
                    "name": "exception",
                    "attributes": [
                        {"key": k, "value": _otlp_value(v)} for k, v in exception.items()
                    ],
                }
            ]
        message = error_message(span)
        if message and item["status"]["code"] == STATUS_ERROR:
            item["status"]["message"] = message
        otlp_spans.append(item)
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service_name}}]
                },
                "scopeSpans": [
                    {"scope": {"name": "weft", "version": __version__}, "spans": otlp_spans}
                ],
            }
        ]
    }


def to_jsonl(spans: Iterable[SpanRecord]) -> str:
    """One JSON object per span and line, weft's own field names, times in Unix seconds."""
    lines = []
    for span in spans:
        lines.append(
            _json(
                {
                    "trace_id": span.trace_id,
                    "span_id": span.span_id,
                    "parent_id": span.parent_id,
                    "name": span.name,
                    "kind": span.kind,
                    "start": span.start,
                    "end": span.end,
                    "duration": span.end - span.start,
                    "status": span.status,
                    "run_id": span.run_id,
                    "node": span.node,
                    "agent": span.agent,
                    "attributes": span.attributes,
                }
            )
        )
    return "\n".join(lines) + ("\n" if lines else "")


def to_chrome(spans: Iterable[SpanRecord]) -> dict[str, Any]:
    """Chrome trace-event JSON (opens in Perfetto and chrome://tracing).

    One process per run; one thread per lane (agent or action) and row, so
    that spans running at the same time sit on separate tracks. Spans on the
    critical path carry ``"critical": true`` in their args.
    """
    tree = SpanTree.build(spans)
    critical = set(critical_path(tree))
    origin = min((s.start for s in tree.spans), default=0.0)
    lanes: dict[str, list[SpanRecord]] = {}
    for span in tree.spans:
        lanes.setdefault(lane_of(span, tree) or "run", []).append(span)
    events: list[dict[str, Any]] = []
    tid = 0
    pid = 1
    run = tree.run_span()
    events.append(
        {
            "ph": "M",
            "name": "process_name",
            "pid": pid,
            "tid": 0,
            "args": {"name": f"weft run {run.run_id if run else ''}".strip()},
        }
    )
    order = sorted(lanes, key=lambda lane: (lane != "run", min(s.start for s in lanes[lane])))
    for lane in order:
        rows = pack_rows(lanes[lane])
        base = tid
        for row in range(max(rows.values()) + 1):
            label = lane if row == 0 else f"{lane} ({row + 1})"
            events.append(
                {
                    "ph": "M",
                    "name": "thread_name",
                    "pid": pid,
                    "tid": base + row,
                    "args": {"name": label},
                }
            )
            events.append(
                {
                    "ph": "M",
                    "name": "thread_sort_index",
                    "pid": pid,
                    "tid": base + row,
                    "args": {"sort_index": base + row},
                }
            )
        for span in lanes[lane]:
            args: dict[str, Any] = {
                "span_id": span.span_id,
                "parent_id": span.parent_id,
                "kind": span.kind,
                "status": span.status,
                "critical": span.span_id in critical,
            }
            for key, value in span.attributes.items():
                if key != "weft.graph" and value is not None:
                    args[key] = value
            events.append(
                {
                    "ph": "X",
                    "name": span.name,
                    "cat": span.kind,
                    "pid": pid,
                    "tid": base + rows[span.span_id],
                    "ts": round((span.start - origin) * 1e6, 3),
                    "dur": round(max(span.end - span.start, 0.0) * 1e6, 3),
                    "args": args,
                }
            )
        tid = base + max(rows.values()) + 1
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": {"tool": "weft"}}


def export(spans: list[SpanRecord], fmt: str) -> str:
    """A run's spans as text in ``fmt`` (one of ``FORMATS``).

    What a retried node's first attempt made is parented to that attempt's
    span (``analysis.nest_first_attempts``), as ``weft trace show`` nests it.
    """
    spans = nest_first_attempts(spans)
    if fmt == "jsonl":
        return to_jsonl(spans)
    if fmt == "otlp-json":
        document = to_otlp_json(spans)
        try:  # json.dumps with an indent is pure Python: 4 s for 20,000 spans, orjson 0.1 s;
            # orjson writes NaN and infinities as null, as ``finite`` makes them
            return orjson.dumps(document, default=str, option=_ORJSON_INDENTED).decode() + "\n"
        except orjson.JSONEncodeError:  # an integer past 64 bits in some output
            text = json.dumps(
                finite(document), ensure_ascii=False, indent=2, allow_nan=False, default=str
            )
            return text + "\n"
    if fmt == "chrome":
        document = finite(to_chrome(spans))
        return json.dumps(document, ensure_ascii=False, allow_nan=False, default=str) + "\n"
    raise ValueError(f"unknown trace format '{fmt}' (use one of: {', '.join(FORMATS)})")
