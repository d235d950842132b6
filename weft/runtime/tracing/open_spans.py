"""Stand-ins for the spans of a running run that have not ended yet.

A span is recorded when it ends, so while a run goes on the store holds its
finished foreach items and attempts but not the node that holds them, nor the
run span: ``weft trace show`` of a running run printed every finished item as
a root of its own, without its index, and the view had nothing to group
them under. ``with_open_spans`` adds one stand-in per missing parent (state
``running``, from its first child's start to ``now``, ``weft.open`` set), so
the tree and the view read as they will once the run ends. Exports never use
it: they hold what was recorded.
"""

from __future__ import annotations

import re

from weft.runtime.tracing.spans import SpanRecord

#: A foreach item's or a loop pass's key: ``research[17]``, ``review#1``.
_ITEM_KEY = re.compile(r"\[\d+\]$")
#: Span id of the stand-in run span when no finished span names the real one.
OPEN_RUN_ID = "open-run"


def with_open_spans(
    spans: list[SpanRecord], *, now: float, workflow: str | None = None
) -> list[SpanRecord]:
    """``spans`` plus a stand-in for each span they name as parent that is not among them.

    A missing parent of node spans is the run (or, for nodes keyed
    ``sub/name``, the sub-workflow node ``sub``); one of calls is the node
    their key names (``name[i]`` makes it a foreach node). Stand-in nodes
    hang under the run, a stand-in run when its span has not ended either.
    """
    if not spans:
        return spans
    ids = {s.span_id for s in spans}
    orphans: dict[str, list[SpanRecord]] = {}
    for span in spans:
        if span.parent_id is not None and span.parent_id not in ids:
            orphans.setdefault(span.parent_id, []).append(span)
    if not orphans:
        return spans
    first = spans[0]
    run_id = next((pid for pid, kids in orphans.items() if _parent_kind(kids) == ("run", "")), None)
    if run_id is None:  # (a resumed run's earlier run span is no parent of this attempt's)
        run_id = OPEN_RUN_ID
    added: list[SpanRecord] = []
    for parent_id, kids in orphans.items():
        kind, name = _parent_kind(kids)
        start = min(k.start for k in kids)
        if kind == "run":
            continue
        foreach = any(_ITEM_KEY.search(k.node or "") for k in kids)
        action = next((k.name for k in kids if _own_call(k)), None)
        attributes: dict[str, object] = {"weft.open": True, "weft.foreach": foreach}
        if action is not None:
            attributes["weft.action"] = action
        added.append(
            SpanRecord(
                first.trace_id,
                parent_id,
                run_id,
                name,
                "node",
                start,
                max(now, start),
                "running",
                run_id=first.run_id,
                node=name,
                attributes=attributes,
            )
        )
    if run_id not in ids:
        start = min(s.start for s in spans)
        added.append(
            SpanRecord(
                first.trace_id,
                run_id,
                None,
                workflow or "run",
                "run",
                start,
                max(now, start),
                "running",
                run_id=first.run_id,
                attributes={"weft.open": True},
            )
        )
    return [*spans, *added]


def _own_call(span: SpanRecord) -> bool:
    """Whether ``span`` is a call of the missing node's own action: a foreach item, or an
    attempt that failed and was retried. A call the action made through its context
    (an agent's tool) shares the node's key but is neither; naming the stand-in's
    action after it made the tree hang the running agent's model requests under that
    finished tool call."""
    item = bool(_ITEM_KEY.search(span.node or ""))
    retried = span.attributes.get("weft.retry_delay") is not None
    return span.kind == "call" and (item or retried)


def _parent_kind(kids: list[SpanRecord]) -> tuple[str, str]:
    """``("run", "")`` or ``("node", its key)`` for the missing parent of ``kids``."""
    nodes = [k for k in kids if k.kind == "node"]
    if nodes:
        prefixes = {(k.node or k.name).rpartition("/")[0] for k in nodes}
        if len(prefixes) == 1 and "" not in prefixes:
            return "node", prefixes.pop()
        return "run", ""
    key = next((k.node for k in kids if k.node), None) or kids[0].name
    return "node", _ITEM_KEY.sub("", key)
