"""Spans to JSON and back: what a span looks like once it leaves the process.

The executor hands over spans whose attributes are raw objects (pydantic
``Usage`` and ``ActionError``, whatever an action returned, the prepared
workflow on the run span). This module turns a batch of them into one JSON
document with every attribute value truncated past ``max_chars`` and secrets
masked (``weft.runtime.redaction``), so that the trace store, the OTLP
exporter and every export format write exactly the same thing.

A batch document holds the spans of one run::

    {"v": 1, "trace_id": "...", "shapes": [["weft.action", "input", ...], ...],
     "spans": [[span_id, parent_id, name, kind, start_us, end_us, status,
                node, agent, shape, value, value, ...], ...]}

Times are integer Unix microseconds. A span's attributes are its values in the
order of the keys of ``shapes[shape]``: spans made by the same code share their
keys, and not repeating them halves the cost of encoding a span, which is paid
once per node. ``usage`` is kept only when an LLM was involved (a dict of its
non-zero fields), and a prepared workflow becomes ``weft.graph``'s outline
(``graph_outline``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import Usage
from weft.runtime import redaction
from weft.runtime.redaction import Redactor, is_sensitive_key
from weft.runtime.tracing import SpanRecord

#: Default cap on the JSON size of one attribute value (input, output, error...).
DEFAULT_MAX_CHARS = 4096
FORMAT_VERSION = 1
#: Longest list kept when a value is shrunk; the rest is replaced by a marker.
_MAX_ITEMS = 100
_USAGE_FIELDS = ("llm_calls", "prompt_tokens", "completion_tokens", "cost", "latency_s")


def usage_dict(usage: Usage) -> dict[str, Any]:
    """The non-zero fields of a ``Usage``."""
    return {name: value for name in _USAGE_FIELDS if (value := getattr(usage, name))}


def graph_outline(workflow: Any) -> dict[str, Any]:
    """Nodes, forward edges and loop edges of a prepared workflow, for the DAG view."""
    nodes: list[dict[str, Any]] = []
    edges: list[list[str]] = []
    loops: list[list[str]] = []
    for name, node in workflow.nodes.items():
        nodes.append(
            {"name": name, "action": node.action_name, "foreach": node.render_foreach is not None}
        )
        edges.extend([edge.source, name] for edge in node.incoming)
        loops.extend([edge.source, name] for edge in node.loops_in)
    return {"name": workflow.name, "nodes": nodes, "edges": edges, "loops": loops}


_graph_cache: dict[str, str] = {}


def _graph_json(value: Any) -> str:
    """The outline of a workflow as JSON, computed once per graph hash and process."""
    key = getattr(value, "graph_hash", None)
    if not isinstance(key, str):
        return encode_json(value)
    text = _graph_cache.get(key)
    if text is None:
        if len(_graph_cache) >= 64:
            _graph_cache.clear()
        text = _graph_cache[key] = encode_json(graph_outline(value))
    return text


def _span_default(value: Any) -> Any:
    """JSON fallback for span attributes: usage and workflows get compact forms."""
    if value.__class__ is Usage:
        return usage_dict(value)
    if type(value).__name__ == "PreparedWorkflow" and hasattr(value, "nodes"):
        return graph_outline(value)
    return redaction.json_default(value)


def _make_encoder() -> Callable[[Any], str]:
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


#: Compact JSON of span data (usage, workflows and pydantic models handled).
encode_json = _make_encoder()


def _marker(chars: int) -> str:
    return f"… [truncated: {chars} chars]"


@dataclass
class EncodedBatch:
    """Spans encoded for storage, grouped by ``(run_id, trace_id)``."""

    shapes: list[tuple[str, ...]] = field(default_factory=list)
    groups: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: The spans of each group, in the same order as their texts.
    members: dict[tuple[str, str], list[SpanRecord]] = field(default_factory=dict)
    #: Root spans of kind ``run`` in the batch (a run's outcome, for run listings).
    run_spans: list[SpanRecord] = field(default_factory=list)

    def documents(self) -> Iterator[tuple[str, str, int, str]]:
        """``(run_id, trace_id, span_count, json_document)`` per group."""
        shapes = encode_json(self.shapes)
        for (run_id, trace_id), texts in self.groups.items():
            text = (
                f'{{"v":{FORMAT_VERSION},"trace_id":{encode_json(trace_id)},'
                f'"shapes":{shapes},"spans":[{",".join(texts)}]}}'
            )
            yield run_id, trace_id, len(texts), text


class SpanCodec:
    """Encodes spans for storage and export; shareable, but not across threads at once.

    ``max_chars`` caps each attribute value's JSON size: a longer value keeps
    its structure with long strings and lists cut (marked ``… [truncated: N
    chars]``), or becomes a cut string of its JSON when that is not enough.
    """

    def __init__(
        self, *, max_chars: int = DEFAULT_MAX_CHARS, redactor: Redactor | None = None
    ) -> None:
        self.max_chars = max(max_chars, 64)
        self.redactor = redactor or redaction.redactor()

    def encode_batch(self, spans: list[SpanRecord]) -> EncodedBatch:
        """Encode spans, truncating and redacting; the common case walks nothing.

        Spans are encoded straight away; the redactor's cheap check then runs
        once over the whole batch's text, and only if it (or a span's size)
        flags something are the flagged spans re-encoded on the slow path
        (``clean_fields``: converted, redacted, then cut).
        """
        batch = EncodedBatch()
        shapes = batch.shapes
        shape_ids: dict[tuple[str, ...], int] = {}
        groups = batch.groups
        members = batch.members
        max_chars = self.max_chars
        encode = encode_json
        sensitive_shapes: set[int] = set()
        graphs: list[tuple[list[str], int, str]] = []
        group_run: str | None = None
        group_trace: str | None = None
        texts: list[str] = []
        mine: list[SpanRecord] = []
        for span in spans:
            attributes = span.attributes
            usage = attributes.get("usage")
            if usage.__class__ is Usage:
                attributes = attributes.copy()
                if usage.llm_calls or usage.prompt_tokens or usage.completion_tokens or usage.cost:
                    attributes["usage"] = usage_dict(usage)
                else:
                    del attributes["usage"]
            graph = None
            if span.kind == "run" and span.parent_id is None:
                batch.run_spans.append(span)
            if span.kind == "run" and "weft.graph" in attributes:
                # The workflow's outline is structure for the DAG view, not a value to
                # cut: it goes last, is encoded once per workflow, and is not capped.
                attributes = attributes.copy()
                graph = _graph_json(attributes.pop("weft.graph"))
                attributes["weft.graph"] = None
            keys = tuple(attributes)
            shape = shape_ids.get(keys)
            if shape is None:
                shape = shape_ids[keys] = len(shapes)
                shapes.append(keys)
                if any(map(is_sensitive_key, keys)):
                    sensitive_shapes.add(shape)
            if span.run_id is not group_run or span.trace_id is not group_trace:
                group_run, group_trace = span.run_id, span.trace_id
                group_key = (group_run or group_trace, group_trace)
                texts = groups.setdefault(group_key, [])
                mine = members.setdefault(group_key, [])
            text = encode(
                [
                    span.span_id,
                    span.parent_id,
                    span.name,
                    span.kind,
                    int(span.start * 1e6),
                    int(span.end * 1e6),
                    span.status,
                    span.node,
                    span.agent,
                    shape,
                    *attributes.values(),
                ]
            )
            if len(text) > max_chars or shape in sensitive_shapes:
                text = ""  # the slow path will encode it
            elif graph is not None:
                graphs.append((texts, len(texts), graph))
            mine.append(span)
            texts.append(text)
        slow = self._flag(batch, graphs)
        for group_key, group in groups.items():
            for index, text in enumerate(group):
                if not text or (slow and self.redactor.needs_walk(text)):
                    group[index] = self._encode_slow(members[group_key][index], batch, shape_ids)
        for group, index, graph in graphs:
            text = group[index]
            if text.endswith(",null]"):
                group[index] = text[: -len("null]")] + graph + "]"
        return batch

    def _flag(self, batch: EncodedBatch, graphs: list[tuple[list[str], int, str]]) -> bool:
        """Run the redactor's cheap check over the batch; True if spans need a closer look.

        Workflow outlines are only checked for secrets, not key by key: their
        keys are weft's own.
        """
        redactor = self.redactor
        needles = (*redactor.secrets, "://")
        for group, index, graph in graphs:
            if any(n in graph for n in needles):
                group[index] = ""
        return any(redactor.needs_walk("\x00".join(group)) for group in batch.groups.values())

    def _encode_slow(
        self, span: SpanRecord, batch: EncodedBatch, shape_ids: dict[tuple[str, ...], int]
    ) -> str:
        fields, attributes = self.clean_fields(span)
        keys = tuple(attributes)
        shape = shape_ids.get(keys)
        if shape is None:
            shape = shape_ids[keys] = len(shape_ids)
            batch.shapes.append(keys)
        return encode_json([*fields, shape, *attributes.values()])

    def clean_fields(self, span: SpanRecord) -> tuple[list[Any], dict[str, Any]]:
        """The slow path: JSON-native span fields and attributes, redacted then cut."""
        attributes = dict(span.attributes)
        usage = attributes.get("usage")
        if usage.__class__ is Usage:
            if usage.llm_calls or usage.prompt_tokens or usage.completion_tokens or usage.cost:
                attributes["usage"] = usage_dict(usage)
            else:
                del attributes["usage"]
        fields: list[Any] = [
            span.span_id,
            span.parent_id,
            span.name,
            span.kind,
            int(span.start * 1e6),
            int(span.end * 1e6),
            span.status,
            span.node,
            span.agent,
        ]
        native = json.loads(encode_json([fields, attributes]))
        fields, attributes = self.redactor.value(native)
        limit = self._limit
        return fields, {
            key: value if key == "weft.graph" else limit(value) for key, value in attributes.items()
        }

    def _limit(self, value: Any) -> Any:
        """JSON-native ``value`` made no bigger than ``max_chars`` when encoded.

        Tries cutting strings, lists and dicts harder and harder while keeping
        the value's shape; if even that is too big, keeps a prefix of its JSON.
        """
        size = len(encode_json(value))
        if size <= self.max_chars:
            return value
        for chars, items in (
            (self.max_chars // 4, _MAX_ITEMS),
            (self.max_chars // 16, 20),
            (32, 5),
        ):
            shrunk = _shrink(value, max(chars, 32), items)
            if len(encode_json(shrunk)) <= self.max_chars:
                return shrunk
        return encode_json(value)[: self.max_chars] + _marker(size)

    # -- one span at a time (exporters) ---------------------------------------------------

    def clean(self, span: SpanRecord) -> SpanRecord:
        """The span as it is stored: JSON-native attributes, truncated and redacted."""
        fields, attributes = self.clean_fields(span)
        return _span(fields, attributes, span.trace_id, span.run_id)


def _shrink(value: Any, chars: int, items: int) -> Any:
    """Cut strings past ``chars`` and lists and dicts past ``items`` entries, keeping shape."""
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + _marker(len(value))
    if isinstance(value, dict):
        kept = {key: _shrink(item, chars, items) for key, item in list(value.items())[:items]}
        if len(value) > items:
            kept["…"] = f"[truncated: {len(value) - items} more keys]"
        return kept
    if isinstance(value, list):
        cut = [_shrink(item, chars, items) for item in value[:items]]
        if len(value) > items:
            cut.append(f"… [truncated: {len(value) - items} more items]")
        return cut
    return value


def _span(
    fields: list[Any], attributes: dict[str, Any], trace_id: str, run_id: str | None
) -> SpanRecord:
    span_id, parent_id, name, kind, start, end, status, node, agent = fields[:9]
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        kind=kind,
        start=start / 1e6,
        end=end / 1e6,
        status=status,
        run_id=run_id,
        node=node,
        agent=agent,
        attributes=attributes,
    )


def decode_document(run_id: str, text: str) -> list[SpanRecord]:
    """The spans of one stored batch document (attributes are JSON-native)."""
    document = json.loads(text)
    shapes = document["shapes"]
    trace_id = document["trace_id"]
    return [
        _span(fields, dict(zip(shapes[fields[9]], fields[10:], strict=True)), trace_id, run_id)
        for fields in document["spans"]
    ]
