"""Spans to JSON and back: what a span looks like once it leaves the process.

The executor hands over spans whose attributes are raw objects (pydantic
``Usage`` and ``ErrorInfo``, whatever an action returned, the prepared
workflow on the run span). This module turns a batch of them into one JSON
document with every attribute value truncated past ``max_chars`` and secrets
masked (``weft.runtime.support.redaction``), so that the trace store, the OTLP
exporter and every export format write exactly the same thing.

A batch document holds the spans of one run::

    {"v": 2, "trace_id": "...", "shapes": [["weft.action", "input", ...], ...],
     "spans": [[span_id, parent_id, name, kind, start_us, end_us, status,
                node, agent, shape, value, value, ...], ...],
     "nodes": [[parent_id, [[span_id, node, start, end, status,
                             action, input, output], ...]], ...]}

Times are integer Unix microseconds in ``spans`` and Unix seconds in ``nodes``
(made once per node, so not converted). A span's attributes are its values in the
order of the keys of ``shapes[shape]``: spans made by the same code share their
keys, and not repeating them halves the cost of encoding a span. Node spans,
one per node, are shorter still (``tracing.NODE_ROW``): grouped under their
parent, with kind, name and the usual attempts/cached/error/usage implied, so
the bytes encoded, scanned for secrets and written per node are about half.
An ``llm`` span's ``input`` and ``output`` (the messages sent and the reply)
get a larger cap, ``max_content_chars``: a prompt is usually longer than a
tool's arguments, and it is what explains the model's answer.
``usage`` is kept only when an LLM was involved (a dict of its non-zero
fields), and a prepared workflow becomes ``weft.graph``'s outline
(``graph_outline``), kept apart by graph hash (``EncodedBatch.graphs``) with
``null`` in its place. Version 1 documents (no ``nodes``) are still read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson

from weft.protocols import Usage
from weft.runtime.support import redaction
from weft.runtime.support.redaction import Redactor, is_sensitive_key
from weft.runtime.tracing.spans import NodeGroup, NodeRow, SpanRecord, span_from_node_row

#: Default cap on the JSON size of one attribute value (input, output, error...).
DEFAULT_MAX_CHARS = 4096
#: Default cap on the JSON size of an LLM request's messages, and of its reply.
DEFAULT_MAX_CONTENT_CHARS = 16384
#: Attributes of ``llm`` spans capped at ``max_content_chars`` instead of ``max_chars``.
CONTENT_ATTRIBUTES = frozenset({"input", "output"})
FORMAT_VERSION = 2
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
    spec = getattr(workflow, "spec", None)
    shared_limit = getattr(spec, "concurrency", None)
    action_limits = getattr(spec, "action_concurrency", None) or {}
    for name, node in workflow.nodes.items():
        outline: dict[str, Any] = {
            "name": name,
            "action": node.action_name,
            "foreach": node.render_foreach is not None,
        }
        own = getattr(getattr(node, "spec", None), "concurrency", None)
        if outline["foreach"] and (own or shared_limit or action_limits.get(node.action_name)):
            # Its items may wait for each other's slots: the critical path may go through several.
            outline["limited"] = True
        nodes.append(outline)
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
        return usage_dict(value) or None
    if type(value).__name__ == "PreparedWorkflow" and hasattr(value, "nodes"):
        return graph_outline(value)
    return redaction.json_default(value)


#: Compact JSON of span data (usage, workflows and pydantic models handled).
encode_json = redaction.make_encoder(_span_default)


def _marker(chars: int) -> str:
    return f"… [truncated: {chars} chars]"


#: Key of a group of spans: ``(run_id or trace_id, trace_id)``.
GroupKey = tuple[str, str]
#: Node rows (``tracing.NODE_ROW``) by the execution that made them, as buffered.
NodeRows = dict[NodeGroup, list[NodeRow]]
_ROW_INPUT = itemgetter(6)


@dataclass
class EncodedBatch:
    """Spans encoded for storage, grouped by ``(run_id, trace_id)``.

    A text in ``groups`` or ``nodes`` holds one or more rows, comma-separated.
    """

    shapes: list[tuple[str, ...]] = field(default_factory=list)
    groups: dict[GroupKey, list[str]] = field(default_factory=dict)
    #: Node rows per group and parent span.
    nodes: dict[GroupKey, dict[str | None, list[str]]] = field(default_factory=dict)
    #: How many spans each group holds, and the earliest start among them (seconds).
    counts: dict[GroupKey, int] = field(default_factory=dict)
    starts: dict[GroupKey, float] = field(default_factory=dict)
    #: Root spans of kind ``run`` in the batch (a run's outcome, for run listings).
    run_spans: list[SpanRecord] = field(default_factory=list)
    #: Workflow outlines (JSON) by graph hash, for run spans that refer to them.
    graphs: dict[str, str] = field(default_factory=dict)
    #: Node rows as encoded in the run's process, one JSON array per group and
    #: parent, not yet checked (``SpanCodec.check_rows`` moves them into ``nodes``),
    #: with the rows themselves while the batch is in that process.
    raw_rows: list[tuple[GroupKey, str | None, str, list[NodeRow] | None]] = field(
        default_factory=list
    )
    #: The ``trace_runs`` rows this batch adds to or updates (set by the trace store).
    runs: list[dict[str, Any]] = field(default_factory=list)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for the writer process) as JSON text only: rows and spans hold live objects."""
        state = self.__dict__.copy()
        state["raw_rows"] = [(key, parent, text, None) for key, parent, text, _ in self.raw_rows]
        state["run_spans"] = []  # already summed up in ``runs``
        return state

    def add(self, key: GroupKey, count: int, start: float) -> list[str]:
        """The span texts of group ``key``, counting ``count`` more spans from ``start``."""
        texts = self.groups.get(key)
        if texts is None:
            texts = self.groups[key] = []
            self.counts[key] = count
            self.starts[key] = start
        else:
            self.counts[key] += count
            self.starts[key] = min(self.starts[key], start)
        return texts

    def documents(self) -> Iterator[tuple[str, str, int, str]]:
        """``(run_id, trace_id, span_count, json_document)`` per group."""
        if self.raw_rows:  # never store rows nobody checked for secrets
            raise RuntimeError("node rows not checked yet: SpanCodec.check_rows comes first")
        shapes = encode_json(self.shapes)
        for key, texts in self.groups.items():
            run_id, trace_id = key
            parts = [
                f'{{"v":{FORMAT_VERSION},"trace_id":{encode_json(trace_id)},'
                f'"shapes":{shapes},"spans":[{",".join(texts)}]'
            ]
            nodes = self.nodes.get(key)
            if nodes:
                parts.append(',"nodes":[')
                parts.append(
                    ",".join(
                        f"[{encode_json(parent)},[{','.join(rows)}]]"
                        for parent, rows in nodes.items()
                    )
                )
                parts.append("]")
            parts.append("}")
            yield run_id, trace_id, self.counts[key], "".join(parts)


class SpanCodec:
    """Encodes spans for storage and export; shareable, but not across threads at once.

    ``max_chars`` caps each attribute value's JSON size: a longer value keeps
    its structure with long strings and lists cut (marked ``… [truncated: N
    chars]``), or becomes a cut string of its JSON when that is not enough.
    ``max_content_chars`` does the same for the messages and the reply of an
    ``llm`` span (``CONTENT_ATTRIBUTES``).
    """

    def __init__(
        self,
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
        max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS,
        redactor: Redactor | None = None,
    ) -> None:
        self.max_chars = max(max_chars, 64)
        self.max_content_chars = max(max_content_chars, 64)
        self.redactor = redactor or redaction.redactor()
        self._sensitive_shapes: dict[tuple[str, ...], bool] = {}
        self._clean_graphs: set[tuple[str, frozenset[str]]] = set()

    def encode_batch(self, spans: list[SpanRecord], rows: NodeRows | None = None) -> EncodedBatch:
        """Encode spans (truncated, redacted) and node rows (encoded only, see ``check_rows``).

        Spans other than node rows are few, made by code that knows what they
        hold (runs, LLM calls, routing): they are finished here. Node rows are
        one per node: each execution's are encoded in one call and left in
        ``raw_rows`` for ``check_rows``, which the trace writer runs in a
        process of its own, off the run's event loop.
        """
        batch = EncodedBatch()
        shape_ids: dict[tuple[str, ...], int] = {}
        for group, group_rows in (rows or {}).items():
            key = (group.run_id, group.trace_id)
            # The first node to finish started about when the run did; the run span,
            # when it comes, gives trace_runs the exact start.
            batch.add(key, len(group_rows), group_rows[0][2])
            batch.raw_rows.append((key, group.parent_id, encode_json(group_rows), group_rows))
        for span in spans:
            self._encode_span(span, batch, shape_ids)
        return batch

    def check_rows(self, batch: EncodedBatch) -> None:
        """Truncate and redact ``batch.raw_rows`` into ``batch.nodes``; usually walking nothing.

        Each group's rows are checked in one pass over their JSON: no row
        longer than ``max_chars``, no secret, no sensitive key. If that fails
        they are looked at one row at a time, and a row still flagged takes
        the slow path (``clean_fields``: redacted, then cut) as a full span.
        """
        shape_ids = {shape: index for index, shape in enumerate(batch.shapes)}
        for key, parent_id, text, rows in batch.raw_rows:
            texts = batch.nodes.setdefault(key, {}).setdefault(parent_id, [])
            live = rows is not None
            if rows is None:  # in the writer process: read back from the JSON
                try:
                    rows = orjson.loads(text)
                except orjson.JSONDecodeError:  # lone surrogates, which the stdlib encoded
                    rows = json.loads(text)
            if (
                self._rows_fit(rows, text)
                and not self.redactor.may_hold_secret(text)
                and self._keys_clean(rows, text)
            ):
                texts.append(text[1:-1])
                continue
            group = NodeGroup(key[0], key[1], parent_id)
            # Read again exactly: orjson reads integers past 64 bits as floats.
            for row in rows if live else json.loads(text):
                row_text = encode_json(row)
                if len(row_text) <= self.max_chars and not self.redactor.needs_walk(row_text):
                    texts.append(row_text)
                    continue
                span = span_from_node_row(group, row)
                spans = batch.groups.setdefault(key, [])
                spans.append(self._encode_slow(span, batch, shape_ids))
        batch.raw_rows = []

    def _graph_may_hold_secret(self, graph_hash: Any, graph: str) -> bool:
        """The redactor's cheap check on a workflow outline, remembered per graph and secrets."""
        secrets = self.redactor.secrets
        if isinstance(graph_hash, str) and (graph_hash, secrets) in self._clean_graphs:
            return False
        if self.redactor.may_hold_secret(graph):
            return True
        if isinstance(graph_hash, str):
            if len(self._clean_graphs) >= 64:
                self._clean_graphs.clear()
            self._clean_graphs.add((graph_hash, secrets))
        return False

    def _rows_fit(self, rows: list[Any], text: str) -> bool:
        """Whether no row in ``text`` (the JSON array of ``rows``) is over ``max_chars``.

        Rows are separated by ``],[``; unless a value holds that sequence too,
        splitting there gives exactly one piece per row, and their lengths.
        """
        if len(text) <= self.max_chars:
            return True
        pieces = text[2:-2].split("],[")
        return len(pieces) == len(rows) and max(map(len, pieces)) + 2 <= self.max_chars

    def _keys_clean(self, rows: list[Any], text: str) -> bool:
        """Whether the encoded node rows ``text`` hold no sensitive object key.

        Every key in compact JSON is followed by a colon. When the text has no
        more colons than the rows' arguments have keys, those keys are the only
        ones (nothing nested, no colon in a string), and they are checked
        directly (as objects, cached) instead of being cut out of the text.
        Counting one character is a fast loop in C; anything else gets the
        redactor's full check.
        """
        inputs = list(map(_ROW_INPUT, rows))
        try:
            argument_keys = sum(map(len, inputs))
        except TypeError:  # a row without arguments (a node that never called)
            return not self.redactor.needs_walk(text)
        if text.count(":") != argument_keys:
            return not self.redactor.needs_walk(text)
        return not self.redactor.any_sensitive_key(chain.from_iterable(inputs))

    def _encode_span(
        self, span: SpanRecord, batch: EncodedBatch, shape_ids: dict[tuple[str, ...], int]
    ) -> None:
        """One span that is not a node row: usage compacted, a run's graph spliced in."""
        attributes = _compact_usage(span.attributes)
        graph = None
        if span.kind == "run" and span.parent_id is None:
            batch.run_spans.append(span)
        if span.kind == "run" and "weft.graph" in attributes:
            # The workflow's outline is structure for the DAG view, not a value to
            # cut: encoded once per workflow, not capped, and stored once per graph
            # hash beside the spans (``graphs``), not again with every run.
            workflow = attributes["weft.graph"]
            attributes = attributes.copy()
            attributes["weft.graph"] = None
            graph = _graph_json(workflow)
            graph_hash = getattr(workflow, "graph_hash", None)
            if self._graph_may_hold_secret(graph_hash, graph):
                graph = None  # the slow path redacts the outline with everything else
                attributes = span.attributes
            elif isinstance(graph_hash, str):
                batch.graphs[graph_hash] = graph
                graph = None
        keys = tuple(attributes)
        shape = _shape_index(keys, batch, shape_ids)
        texts = batch.add((span.run_id or span.trace_id, span.trace_id), 1, span.start)
        text = encode_json([*_span_fields(span), shape, *attributes.values()])
        sensitive = self._sensitive_shapes.get(keys)
        if sensitive is None:
            sensitive = self._sensitive_shapes[keys] = any(map(is_sensitive_key, keys))
        if len(text) > self.max_chars or sensitive or self.redactor.needs_walk(text):
            texts.append(self._encode_slow(span, batch, shape_ids))
        elif graph is not None and text.endswith(",null]"):
            # Workflow outlines are only checked for secrets, not key by key:
            # their keys are weft's own.
            texts.append(text[: -len("null]")] + graph + "]")
        else:
            texts.append(text)

    def _encode_slow(
        self, span: SpanRecord, batch: EncodedBatch, shape_ids: dict[tuple[str, ...], int]
    ) -> str:
        fields, attributes = self.clean_fields(span)
        shape = _shape_index(tuple(attributes), batch, shape_ids)
        return encode_json([*fields, shape, *attributes.values()])

    def clean_fields(self, span: SpanRecord) -> tuple[list[Any], dict[str, Any]]:
        """The slow path: JSON-native span fields and attributes, redacted then cut."""
        attributes = _compact_usage(span.attributes)
        native = json.loads(encode_json([_span_fields(span), attributes]))
        fields, attributes = self.redactor.value(native)
        limit = self._limit
        content = self.max_content_chars if span.kind == "llm" else self.max_chars
        return fields, {
            key: value
            if key == "weft.graph"
            else limit(value, content if key in CONTENT_ATTRIBUTES else self.max_chars)
            for key, value in attributes.items()
        }

    def _limit(self, value: Any, max_chars: int) -> Any:
        """JSON-native ``value`` made no bigger than ``max_chars`` when encoded.

        Tries cutting strings, lists and dicts harder and harder while keeping
        the value's shape; if even that is too big, keeps a prefix of its JSON.
        """
        size = len(encode_json(value))
        if size <= max_chars:
            return value
        for chars, items in (
            (max_chars // 4, _MAX_ITEMS),
            (max_chars // 16, 20),
            (32, 5),
        ):
            shrunk = _shrink(value, max(chars, 32), items)
            if len(encode_json(shrunk)) <= max_chars:
                return shrunk
        return encode_json(value)[:max_chars] + _marker(size)

    # -- one span at a time (exporters) ---------------------------------------------------

    def clean(self, span: SpanRecord) -> SpanRecord:
        """The span as it is stored: JSON-native attributes, truncated and redacted."""
        fields, attributes = self.clean_fields(span)
        return _span(fields, attributes, span.trace_id, span.run_id)


def _span_fields(span: SpanRecord) -> list[Any]:
    """The fixed fields of a stored span row, before its shape and attribute values."""
    return [
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


def _shape_index(
    keys: tuple[str, ...], batch: EncodedBatch, shape_ids: dict[tuple[str, ...], int]
) -> int:
    """The index of attribute keys ``keys`` in the batch's shapes, added if new."""
    shape = shape_ids.get(keys)
    if shape is None:
        shape = shape_ids[keys] = len(batch.shapes)
        batch.shapes.append(keys)
    return shape


def _compact_usage(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` with a ``Usage`` as a dict of its non-zero fields, or dropped if zero.

    Returns ``attributes`` itself when there is nothing to change.
    """
    usage = attributes.get("usage")
    if usage.__class__ is not Usage:
        return attributes
    attributes = attributes.copy()
    if usage.llm_calls or usage.prompt_tokens or usage.completion_tokens or usage.cost:
        attributes["usage"] = usage_dict(usage)
    else:
        del attributes["usage"]
    return attributes


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
    spans = [
        _span(fields, dict(zip(shapes[fields[9]], fields[10:], strict=True)), trace_id, run_id)
        for fields in document["spans"]
    ]
    for parent_id, rows in document.get("nodes", ()):
        group = NodeGroup(run_id, trace_id, parent_id)
        spans.extend(span_from_node_row(group, row) for row in rows)
    return spans
