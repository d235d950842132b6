"""Spans to JSON and back: what a span looks like once it leaves the process.

The executor hands over spans whose attributes are raw objects (pydantic
``Usage`` and ``ActionError``, whatever an action returned, the prepared
workflow on the run span). This module turns one into a compact JSON array
with every value truncated past ``max_chars`` and secrets masked
(``weft.runtime.redaction``), so the trace store, the OTLP exporter and the
export formats all write exactly the same thing.

Encoded layout (one JSON array per span, positional to keep it small)::

    [trace_id, span_id, parent_id, name, kind, start, end, status,
     run_id, node, agent, attributes]

``start`` and ``end`` are Unix seconds. In ``attributes``, ``usage`` becomes a
dict of its non-zero fields and the prepared workflow of a run span becomes
``weft.graph``: ``{"nodes": [{"name", "action", "foreach"}], "edges": [[s, t]],
"loops": [[s, t]]}``.
"""

from __future__ import annotations

import json
from typing import Any

from weft.protocols import Usage
from weft.runtime import redaction
from weft.runtime.redaction import Redactor
from weft.runtime.tracing import SpanRecord

#: Default cap on the JSON size of one attribute value (input, output, error...).
DEFAULT_MAX_CHARS = 4096
#: Longest list kept when a value is shrunk; the rest is replaced by a marker.
_MAX_ITEMS = 100

_USAGE_FIELDS = ("llm_calls", "prompt_tokens", "completion_tokens", "cost", "latency_s")


def usage_dict(usage: Usage) -> dict[str, Any]:
    """The non-zero fields of a ``Usage``: most spans use no LLM, so most dicts are tiny."""
    return {name: value for name in _USAGE_FIELDS if (value := getattr(usage, name))}


def graph_outline(workflow: Any) -> dict[str, Any]:
    """Nodes, forward edges and loop edges of a prepared workflow, for the DAG view."""
    nodes: list[dict[str, Any]] = []
    edges: list[list[str]] = []
    loops: list[list[str]] = []
    for name, node in workflow.nodes.items():
        nodes.append(
            {
                "name": name,
                "action": node.action_name,
                "foreach": node.render_foreach is not None,
            }
        )
        edges.extend([edge.source, name] for edge in node.incoming)
        loops.extend([edge.source, name] for edge in node.loops_in)
    return {"name": workflow.name, "nodes": nodes, "edges": edges, "loops": loops}


def _span_default(value: Any) -> Any:
    """JSON fallback for span attributes: usage and workflows get compact forms."""
    if value.__class__ is Usage:
        return usage_dict(value)
    if type(value).__name__ == "PreparedWorkflow" and hasattr(value, "nodes"):
        return graph_outline(value)
    return redaction._default(value)


def _make_span_encoder() -> Any:
    from json import encoder as json_encoder

    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has _json
        return json.JSONEncoder(
            default=_span_default, separators=(",", ":"), ensure_ascii=False, check_circular=False
        ).encode
    fast = make(
        None, _span_default, json_encoder.encode_basestring, None, ":", ",", False, False, True
    )
    join = "".join

    def encode(value: Any) -> str:
        return join(fast(value, 0))

    return encode


encode_json = _make_span_encoder()


def _marker(chars: int) -> str:
    return f"… [truncated: {chars} chars]"


class SpanCodec:
    """Encodes spans for storage and export; safe to share, holds no per-span state.

    ``max_chars`` caps each attribute value's JSON size; a longer value keeps
    its structure with long strings and lists cut (and a ``[truncated: N
    chars]`` marker), or becomes a string prefix of its JSON when that is not
    enough.
    """

    def __init__(self, *, max_chars: int = DEFAULT_MAX_CHARS, redactor: Redactor | None = None):
        self.max_chars = max(max_chars, 64)
        self.redactor = redactor or redaction.redactor()

    def encode(self, span: SpanRecord) -> str:
        """One span as a JSON array (see the module docstring), truncated.

        Redaction is decided on whole batches by ``encode_batch``, which keeps
        the cost of the check out of the common case; an oversized span is
        checked here, before it is cut, so that a cut never hides half a secret.
        """
        text = encode_json(_fields(span))
        if len(text) > self.max_chars:
            text = self._encode_slow(span, redact=self.redactor.needs_walk(text))
        return text

    def encode_batch(self, spans: list[SpanRecord]) -> list[str]:
        """Encode many spans; redaction walks only the spans the cheap check flags."""
        encode = self.encode
        texts = [encode(span) for span in spans]
        redactor = self.redactor
        if redactor.needs_walk("\x00".join(texts)):
            for index, text in enumerate(texts):
                if redactor.needs_walk(text):
                    texts[index] = self._encode_slow(spans[index], redact=True)
        return texts

    def encode_one(self, span: SpanRecord) -> str:
        """One span, truncated and redacted."""
        return self.encode_batch([span])[0]

    def clean(self, span: SpanRecord) -> SpanRecord:
        """The span as it would be stored: JSON-native attributes, truncated and redacted."""
        return decode(self.encode_one(span))

    def _encode_slow(self, span: SpanRecord, *, redact: bool) -> str:
        """Redact (on the whole values), then cut each attribute value to ``max_chars``."""
        fields: list[Any] = json.loads(encode_json(_fields(span)))
        if redact:
            fields = self.redactor.value(fields)
        attributes = fields[-1]
        if isinstance(attributes, dict):
            fields[-1] = {key: self._limit(value) for key, value in attributes.items()}
        return encode_json(fields)

    def _limit(self, value: Any) -> Any:
        """JSON-native ``value`` made no bigger than ``max_chars`` when encoded."""
        size = len(encode_json(value))
        if size <= self.max_chars:
            return value
        shrunk = _shrink(value, max(self.max_chars // 4, 32))
        if len(encode_json(shrunk)) <= self.max_chars:
            return shrunk
        return encode_json(value)[: self.max_chars] + _marker(size)


def _fields(span: SpanRecord) -> list[Any]:
    return [
        span.trace_id,
        span.span_id,
        span.parent_id,
        span.name,
        span.kind,
        span.start,
        span.end,
        span.status,
        span.run_id,
        span.node,
        span.agent,
        span.attributes,
    ]


def _shrink(value: Any, limit: int) -> Any:
    """Cut strings longer than ``limit`` and lists longer than ``_MAX_ITEMS``, keeping shape."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + _marker(len(value))
    if isinstance(value, dict):
        return {key: _shrink(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        kept = [_shrink(item, limit) for item in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            kept.append(f"… [truncated: {len(value) - _MAX_ITEMS} more items]")
        return kept
    return value


def decode(text: str | list[Any]) -> SpanRecord:
    """A span back from its encoded array (attributes stay JSON-native)."""
    fields = json.loads(text) if isinstance(text, str) else text
    return decode_fields(fields)


def decode_fields(fields: list[Any]) -> SpanRecord:
    """A span from an already-parsed encoded array."""
    (trace_id, span_id, parent_id, name, kind, start, end, status, run_id, node, agent, attrs) = (
        fields
    )
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        kind=kind,
        start=start,
        end=end,
        status=status,
        run_id=run_id,
        node=node,
        agent=agent,
        attributes=attrs or {},
    )
