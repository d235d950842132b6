"""``weft trace show``: a run's spans as a tree a person can read, however wide the run.

What each line says beyond name, kind, time and state answers the questions
a trace is opened for: which foreach item a call was (``square [16]``),
which attempt of a retried call it was and how long the retry waited
(``attempt 1 · retry in 36.4 ms``), which process served a remote call
(``@agent``; an LLM agent of the run's own process is a ``local agent``)
and, of the time the caller spent on it, how much the agent spent running
it (``waited`` is the rest: the broker both ways and the agent's queue).
A foreach with more items than ``--items`` lists the ones
worth reading (on the critical path, failed, slowest) and sums up the rest
in one line; nodes of the workflow that never ran are listed too, so a
skipped branch is not mistaken for a missing one.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from rich.tree import Tree

from weft.cli._trace_notes import span_notes
from weft.runtime.tracing.analysis import (
    SpanTree,
    critical_path,
    graph_of,
    is_attempt,
    item_index,
    tokens_of,
    usage_of,
)

#: Marks the spans on the critical path.
CRITICAL_MARK = "★"
#: Marks a span that stopped to ask a person: waiting, not failed.
ASK_MARK = "?"
#: The end of a loop pass's node key: ``review#1`` is review's second pass.
_PASS_KEY = re.compile(r"#(\d+)$")
#: Foreach items listed per node unless ``--items`` says otherwise.
DEFAULT_ITEMS = 10

STYLE = {
    "succeeded": "green",
    "ok": "green",
    "failed": "red",
    "error": "red",
    "timeout": "red",
    "cancelled": "yellow",
    "needs_input": "magenta",
    "running": "cyan",
}
_FAILED = frozenset({"error", "failed", "timeout", "cancelled"})


def duration_text(seconds: float | None) -> str:
    """A duration in the unit that reads best: ``µs``, ``ms``, ``s`` or ``min``."""
    if seconds is None:
        return "-"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _is_item(span: Any, parent: Any | None) -> bool:
    return (
        parent is not None
        and parent.kind == "node"
        and bool(parent.attributes.get("weft.foreach"))
        and item_index(span) is not None
    )


def _is_attempt(span: Any, parent: Any | None) -> bool:
    """The engine's span of one attempt of a node's call or of a foreach item."""
    if parent is None:
        return False
    if _is_item(span, parent):
        return "weft.retry_delay" in span.attributes
    return is_attempt(span, parent)


#: How an action that calls out names where its calls ran (``_placement.ELSEWHERE``).
_ELSEWHERE = ("a2a ", "mcp ")


def served_remotely(tree: SpanTree, span: Any) -> bool:
    """Whether the agent that answered ``span``'s call (``span.agent``) is another process
    (``@agent``), not an LLM agent of the run's own process, which names itself too.

    Another process: an A2A agent or MCP server (``a2a URL``, ``mcp SERVER``), or a
    span served on a weft agent (the agent's own spans joined under it carry
    ``weft.side``). An LLM agent here records its model requests (``llm``) and
    handoffs under the call itself; one that made none (its input refused) names
    the action it is. A node is served where its calls were.
    """
    agent = str(span.agent)
    if agent.startswith(_ELSEWHERE) or span.attributes.get("weft.side"):
        return True
    kids = tree.kids(span)
    if any(k.attributes.get("weft.side") for k in kids):
        return True
    calls = [k for k in kids if k.kind in ("call", "critic") and k.agent]
    if span.kind == "node" and calls:
        return any(served_remotely(tree, k) for k in calls)
    if any(k.kind in ("llm", "handoff") for k in kids):
        return False
    own = span.attributes.get("weft.action") if span.kind == "node" else span.name
    return bool(agent != own)


def _served_time(tree: SpanTree, span: Any) -> float | None:
    """How long the agents that served ``span``'s call ran it, or None if none did."""
    served = [k for k in tree.kids(span) if k.attributes.get("weft.side") == "agent"]
    if not served:
        return None
    return sum(k.end - k.start for k in served)


class ShowTree:
    """Builds the rich tree of one run; ``items`` foreach items per node (0: all)."""

    def __init__(
        self,
        spans: list[Any],
        *,
        depth: int | None,
        full: bool,
        items: int = DEFAULT_ITEMS,
        run_id: str | None = None,
    ) -> None:
        self.tree = SpanTree.build(spans)
        self.critical = set(critical_path(self.tree))
        self.depth = depth
        self.full = full
        self.items = items
        self.tracebacks: set[str] = set()
        latest = self.tree.run_span()
        #: The run whose questions still wait for answers (its latest attempt stopped on them).
        self.waiting = latest if latest is not None and latest.status == "needs_input" else None
        self.run_id = run_id
        self.looped = {
            _PASS_KEY.sub("", s.node) for s in spans if s.node and _PASS_KEY.search(s.node)
        }

    def _in_waiting_run(self, span: Any) -> bool:
        """Whether ``span`` is part of the run attempt that still waits for answers."""
        if self.waiting is None:
            return False
        root: Any | None = span
        while root is not None and root.parent_id is not None:
            root = self.parent_of(root)
        return root is self.waiting

    def _waits(self, span: Any) -> str | None:
        """The run id to answer ``span``'s question with, if the run still waits for it."""
        if self.run_id is None or span.status != "needs_input":
            return None
        return self.run_id if self._in_waiting_run(span) else None

    def parent_of(self, span: Any) -> Any | None:
        return self.tree.by_id.get(span.parent_id) if span.parent_id is not None else None

    def label(self, span: Any) -> Text:
        parent = self.parent_of(span)
        text = Text()
        text.append(
            f"{CRITICAL_MARK} " if span.span_id in self.critical else "  ", style="bold yellow"
        )
        text.append(span.name, style="bold" if span.kind in ("run", "node") else "")
        if _is_item(span, parent):
            text.append(f" [{item_index(span)}]", style="bold")
        passes = _pass_of(span)
        looped = passes > 1 or _PASS_KEY.sub("", span.node or "") in self.looped
        if span.kind == "node" and passes > 1:
            text.append(f"#{passes - 1}", style="bold")  # as the journal keys the pass
        text.append(f"  {span.kind}", style="dim")
        if span.kind in ("critic", "call") and "->" in (span.node or ""):
            # A critic's review, or the revision it sent back for: which edge, which round.
            text.append(f"  {span.node}", style="cyan")
        if span.kind == "node" and looped:
            text.append(f"  pass {passes}", style="cyan")
        text.append(f"  {duration_text(span.end - span.start)}")
        if span.status == "needs_input":
            # A resumed run's earlier attempt was answered: it asked, it no longer waits.
            state = "waiting for an answer" if self._in_waiting_run(span) else "asked a person"
            text.append(f"  {ASK_MARK} {state}", style=STYLE["needs_input"])
        else:
            text.append(f"  {span.status}", style=STYLE.get(span.status, "white"))
        prompt, completion = tokens_of(span)
        if prompt or completion:
            text.append(f"  tokens {prompt}/{completion}", style="cyan")
        cost = float(usage_of(span).get("cost") or 0.0)
        if cost:
            text.append(f"  ${cost:.4f}", style="cyan")
        if span.kind in ("llm", "handoff"):  # which agent of a chain made the request
            if span.kind == "llm" and span.agent:
                text.append(f"  by {span.agent}", style="dim")
        elif span.agent and served_remotely(self.tree, span):
            text.append(f"  @{span.agent}", style="magenta")
        elif span.agent:  # an LLM agent of the run's own process; its name unless the span's
            named = "" if span.agent == span.name else f" {span.agent}"
            text.append(f"  local agent{named}", style="dim")
        side = span.attributes.get("weft.side")
        if side == "agent":
            text.append("  agent side", style="dim")
        served = _served_time(self.tree, span)
        if served is not None:
            waited = max(span.end - span.start - served, 0.0)
            text.append(f"  waited {duration_text(waited)}", style="dim")
        attempts = span.attributes.get("weft.attempts")
        if span.kind == "node" and isinstance(attempts, int) and attempts > 1:
            text.append(f"  {attempts} attempts", style="yellow")
        if _is_attempt(span, parent) or side == "caller":
            attempt = span.attributes.get("weft.attempt")
            retried = (
                attempt not in (None, 1) or span.attributes.get("weft.retry_delay") is not None
            )
            if retried or side == "caller":
                text.append(f"  attempt {attempt}", style="yellow")
            delay = span.attributes.get("weft.retry_delay")
            if isinstance(delay, int | float):
                text.append(f" · retry in {duration_text(float(delay))}", style="yellow")
        if span.attributes.get("weft.cached"):
            text.append("  cached", style="dim")
        return text

    def render(self, heading: Text) -> Tree:
        root = Tree(heading)
        run_span = self.tree.run_span()
        for span in self.tree.roots:
            self._add(root, span, 0, not_run=span is run_span)
        return root

    def _add(self, parent: Tree, span: Any, level: int, *, not_run: bool = False) -> None:
        branch = parent.add(self.label(span))
        for note in span_notes(
            span,
            full=self.full,
            seen=self.tracebacks,
            parent=self.parent_of(span),
            waiting=self._waits(span),
        ):
            branch.add(note)
        kids = self.tree.kids(span)
        if self.depth is not None and level >= self.depth:
            if kids:
                branch.add(Text(f"… {len(kids)} more", style="dim"))
            return
        shown, summary = self._fold(span, kids)
        for child in shown:
            self._add(branch, child, level + 1)
        if summary is not None:
            branch.add(summary)
        if not_run:
            for name, action in self._not_run():
                line = Text(f"- {name}", style="bold dim")
                line.append(f"  node  not run  ({action})", style="dim")
                branch.add(line)

    def _not_run(self) -> list[tuple[str, str]]:
        """Nodes of the workflow's graph that have no span: skipped, or never reached."""
        graph = graph_of(self.tree.spans)
        if graph is None:
            return []
        ran = {s.name for s in self.tree.spans if s.kind == "node"}
        return [
            (str(n["name"]), str(n.get("action") or "?"))
            for n in graph.get("nodes", [])
            if n.get("name") not in ran
        ]

    def _fold(self, span: Any, kids: list[Any]) -> tuple[list[Any], Text | None]:
        """The children to print and, past ``items`` foreach items, a line for the rest."""
        if span.kind != "node" or not span.attributes.get("weft.foreach"):
            return kids, None
        by_index: dict[int, list[Any]] = {}
        for kid in kids:
            if _is_item(kid, span):
                by_index.setdefault(item_index(kid) or 0, []).append(kid)
        if self.items == 0 or len(by_index) <= self.items:
            return kids, None

        def last(index: int) -> Any:
            return max(by_index[index], key=lambda s: s.end)

        def took(index: int) -> float:
            members = by_index[index]
            return float(max(s.end for s in members) - min(s.start for s in members))

        failed = {i for i in by_index if last(i).status in _FAILED}
        critical = [
            i for i in sorted(by_index) if any(s.span_id in self.critical for s in by_index[i])
        ]
        slowest = sorted(by_index, key=lambda i: (-took(i), i))
        # The critical item first, then failures by index, then the slowest: what a reader wants.
        chosen = list(dict.fromkeys([*critical, *sorted(failed), *slowest]))[: self.items]
        keep = set(chosen)
        shown = [k for k in kids if not _is_item(k, span) or item_index(k) in keep]
        rest = [i for i in by_index if i not in keep]
        times = sorted(took(i) for i in by_index)
        summary = Text(f"… {len(rest)} more items: ", style="dim")
        bad = [i for i in rest if i in failed]
        summary.append(f"{len(rest) - len(bad)} ok", style="dim")
        if bad:
            summary.append(f", {len(bad)} failed", style="red")
            summary.append(f" ({_index_list(bad)})", style="dim")
        summary.append(
            f" · all {len(by_index)}: p50 {duration_text(times[(len(times) - 1) // 2])},"
            f" max {duration_text(times[-1])} · --items 0 lists every item",
            style="dim",
        )
        return shown, summary


def _pass_of(span: Any) -> int:
    """Which pass of its loop a node span is, counting from 1 (key ``review#1`` is pass 2)."""
    match = _PASS_KEY.search(span.node or "")
    return int(match.group(1)) + 1 if match else 1


def _index_list(indexes: list[int], most: int = 12) -> str:
    """``[16], [33], … 105 more`` for a summary line."""
    ordered = sorted(indexes)
    text = ", ".join(f"[{i}]" for i in ordered[:most])
    return text + (f", … {len(ordered) - most} more" if len(ordered) > most else "")
