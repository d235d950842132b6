"""Terminal rendering: a live view of a run on a TTY, and plain summaries otherwise.

The live view redraws at most a few times a second from counters that event
listeners update, so watching a 10,000-node run costs almost nothing.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from weft.cli._placement import Placements
from weft.cli._stream_display import (
    PARTIAL_CHARS,
    PARTIAL_LINES,
    LineText,
    RawText,
    handoff_of,
)
from weft.protocols import EventKind, NodeState, RunEvent, RunState
from weft.protocols.human_input import question_of
from weft.protocols.streaming import text_delta
from weft.runtime.engine.slots import Verdict

_STATE_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "yellow",
    "running": "cyan",
    "needs_input": "magenta",
    "pending": "dim",
}
_MARK = {
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "-",
    "cancelled": "!",
    "needs_input": "?",
    "running": "…",
    "pending": " ",
}

stderr = Console(stderr=True)
stdout = Console(soft_wrap=True)  # piped summaries keep whole lines for scripts


class RunDisplay:
    """A live panel on stderr: counts per state, the nodes running now and each one's
    latest progress message (sent by its action, local or on a remote agent), and
    what critics and loops did (reviews, work sent back, loop passes), the latest
    of them on a line of its own: the same events come from either engine.

    With ``text`` the LLM agents' streamed text is shown too (``_stream_display``):
    whole lines above the panel, the line being written in it."""

    def __init__(self, *, text: bool = False) -> None:
        self.counts: Counter[str] = Counter()
        self.running: dict[str, float] = {}
        self.notes: dict[str, str] = {}
        self.total = 0
        self.workflow = ""
        self.run_id = ""
        self.reviews = 0
        self.sent_back = 0
        self.loop_passes = 0
        self.last_flow = ""
        self.started = time.monotonic()
        self.text: LineText | None = LineText(self._print_line) if text else None
        self._live = Live(
            get_renderable=self._render, console=stderr, refresh_per_second=8, transient=True
        )

    def _print_line(self, line: str, header: bool) -> None:
        """A whole line of streamed text, above the panel (the panel redraws below it)."""
        self._live.console.print(Text(line, style="dim" if header else ""), soft_wrap=True)

    def __enter__(self) -> RunDisplay:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.__exit__(*exc)

    def on_event(self, event: RunEvent) -> None:
        kind = event.kind
        piece = text_delta(event)
        if piece is not None:
            if self.text is not None:
                self.text.add(event.key or event.node or "?", piece)
            return
        if self.text is not None and (target := handoff_of(event)) is not None:
            self.text.handoff(event.key or event.node or "?", target)
        if kind in (EventKind.RUN_STARTED, EventKind.RUN_RESUMED) and not self.workflow:
            self.workflow = str(event.data.get("workflow", ""))
            self.total = int(event.data.get("nodes", 0))
            self.run_id = event.run_id
        elif kind is EventKind.NODE_STARTED and event.key:
            self.running[event.key] = time.monotonic()
        elif kind is EventKind.PROGRESS and event.key and "critic" in event.data:
            self._review(event)
        elif kind is EventKind.LOOP_ITERATION:
            self.loop_passes += 1
            self.last_flow = (
                f"loop {event.data.get('source', '?')} -> {event.node}: "
                f"pass {event.data.get('iteration', '?')}"
            )
        elif kind is EventKind.PROGRESS and event.key and event.data.get("message"):
            if event.key in self.running:
                self.notes[event.key] = " ".join(str(event.data["message"]).split())[:100]
        elif kind is EventKind.NODE_FINISHED and event.key:
            self.running.pop(event.key, None)
            self.notes.pop(event.key, None)
            if self.text is not None:
                self.text.end(event.key)
            if "[" not in event.key and "/" not in event.key and event.state:
                self.counts[str(event.state)] += 1
        elif kind is EventKind.NODE_SKIPPED and event.key and "/" not in event.key:
            self.counts["skipped"] += 1

    def _review(self, event: RunEvent) -> None:
        """Count one critic's review of an edge's artifact and say what it decided."""
        from weft.runtime.engine.critics import read_review  # the engine's own reading

        approved, _, feedback = read_review(event.data.get("review"), None)
        self.reviews += 1
        verdict = "accepted"
        if event.error is not None:
            verdict = f"failed: {event.error.message}"
        elif not approved:
            self.sent_back += 1
            verdict = "sent back" + (f": {feedback}" if feedback else "")
        line = f"{event.data.get('critic')} on {event.key} (round {event.data.get('round', 0)}): "
        self.last_flow = " ".join((line + verdict).split())[:120]

    def _render(self) -> Group:
        elapsed = time.monotonic() - self.started
        head = Text.assemble(
            ("weft ", "bold"),
            (self.workflow, "bold cyan"),
            f"  run {self.run_id[:12]}  {elapsed:5.1f}s  ",
            *[
                (f"{_MARK[s]} {self.counts[s]}  ", _STATE_STYLE[s])
                for s in ("succeeded", "failed", "skipped")
                if self.counts[s]
            ],
            (f"of {self.total} nodes", "dim"),
            *(
                [(f"  reviews {self.reviews} ({self.sent_back} sent back)", "magenta")]
                if self.reviews
                else []
            ),
            *([(f"  loop passes {self.loop_passes}", "magenta")] if self.loop_passes else []),
        )
        now = time.monotonic()
        rows = sorted(self.running.items(), key=lambda kv: kv[1])[:8]
        lines = [
            Text.assemble(
                (f"  … {key}  {now - t:4.1f}s", "cyan"),
                (f"  {self.notes[key]}" if key in self.notes else "", "dim"),
            )
            for key, t in rows
        ]
        if len(self.running) > 8:
            lines.append(Text(f"  … and {len(self.running) - 8} more running", style="dim"))
        if self.last_flow:
            lines.append(Text(f"  ⟲ {self.last_flow}", style="magenta"))
        writing = [(k, t) for k, t in (self.text.partial if self.text else {}).items() if t]
        for key, partial in writing[-PARTIAL_LINES:]:
            lines.append(Text.assemble((f"  ✎ {key}: ", "cyan"), partial[-PARTIAL_CHARS:]))
        return Group(head, *lines)


async def run_with_display(coro_factory: Any, live: bool, stream: bool = False) -> Any:
    """Await ``coro_factory(listeners)`` with the live panel (``live``) and, with
    ``stream``, the LLM agents' text as it comes (``_stream_display``): in the panel's
    place when stdout is the terminal, else written to stdout as it is."""
    if not live:
        return await coro_factory([RawText().on_event] if stream else [])
    display = RunDisplay(text=stream and sys.stdout.isatty())
    listeners = [display.on_event]
    if stream and not sys.stdout.isatty():
        listeners.append(RawText().on_event)
    with display:
        return await coro_factory(listeners)


def print_summary(
    result: Any,
    placements: Placements | None = None,
    again: str = "",
    questions: Mapping[str, Any] | None = None,
) -> None:
    """The end of a run: state, per-node outcomes and where each ran (compact for big
    runs), outputs. Without ``placements`` every node that ran is shown as local; with
    them a capability node also names the action it was routed to.
    ``again`` are the options the ``weft resume`` hint needs (``--journal``, ``--broker``);
    ``questions`` what a stopped run waits on by execution key
    (``engine.answers.waiting_questions``), for the items of a ``foreach``."""
    placements = placements or Placements()
    style = "green" if result.state is RunState.SUCCEEDED else "red"
    stdout.print(
        Text.assemble(
            (f"run {result.run_id} ", "bold"),
            (result.state.value, f"bold {style}"),
            f" in {result.duration:.2f}s  (workflow {result.workflow})",
        )
    )
    nodes = list(result.nodes.values())
    # A node stopped for a person's answer counts as a failed input below it (nothing
    # arrived); when no node failed, "upstream failed" would send the reader looking
    # for a failure that is not there.
    waiting = result.state is RunState.NEEDS_INPUT and not any(
        n.state in (NodeState.FAILED, NodeState.CANCELLED) for n in nodes
    )
    if len(nodes) <= 40:
        for n in nodes:
            state = n.state.value
            took = (
                f"{(n.finished_at - n.started_at) * 1000:.0f} ms"
                if n.started_at and n.finished_at
                else ""
            )
            where = placements.where(n)
            if where and (routed := placements.routed_to(n.name)):
                where = f"{where}, {routed}"  # a capability node: the action it was given
            extra = f"  {where}" if where else ""
            extra += " (from journal)" if n.cached else ""
            if n.reason:
                reason = n.reason
                if waiting and reason == Verdict.UPSTREAM_FAILED.value:
                    reason = "waiting for an answer upstream"
                extra += f" ({reason})"
            if n.attempts > 1:
                extra += f" ({n.attempts} attempts)"
            stdout.print(
                Text.assemble(
                    (f"  {_MARK.get(state, ' ')} ", _STATE_STYLE.get(state, "")),
                    f"{n.name:<24} {took:>8}{extra}",
                )
            )
            if n.error and n.state in (NodeState.FAILED, NodeState.CANCELLED):
                stdout.print(Text(f"      {n.error.type}: {n.error.message}", style="red"))
    else:
        counts = Counter(n.state.value for n in nodes)
        stdout.print("  " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        places = Counter(where for n in nodes if (where := placements.where(n)))
        if places:
            ran = ", ".join(f"{count} {where}" for where, count in places.most_common())
            stdout.print(f"  ran: {ran}", markup=False, highlight=False)
        for n in nodes:
            if n.state is NodeState.FAILED and n.error:
                stdout.print(Text(f"  ✗ {n.name}: {n.error.message}", style="red"))
    if result.state is RunState.NEEDS_INPUT:
        _print_questions(result, nodes, again, questions or {})
    elif result.state is not RunState.SUCCEEDED:
        # A run cancelled from elsewhere (a call an agent cancelled) has no run error, but
        # is just as resumable as a failed one.
        if result.error:
            stdout.print(Text(f"error: {result.error}", style="red"))
        stdout.print(Text(f"resume with: weft resume {result.run_id}{again}", style="yellow"))
    # an unfinished run's outputs are mostly None: show only what it made
    outputs = {
        name: value
        for name, value in result.outputs.items()
        if value is not None or result.state is RunState.SUCCEEDED
    }
    if outputs:
        stdout.print(Text("outputs:", style="bold"))
        for name, value in outputs.items():
            shown = value if isinstance(value, str) else repr(value)
            if len(shown) > 400:
                shown = shown[:397] + "..."
            # a multi-line text (an LLM agent's answer) keeps to its output's indent
            shown = shown.replace("\n", "\n" + " " * (len(name) + 4))
            stdout.print(f"  {name}: {shown}", markup=False, highlight=False)


def _print_questions(
    result: Any, nodes: list[Any], again: str, questions: Mapping[str, Any]
) -> None:
    """What a run that stopped for a person asks, and the command that answers it."""
    example = None
    for n in nodes:
        if n.state is not NodeState.NEEDS_INPUT or n.error is None:
            continue
        asked = question_of(n.error)
        items = [q for q in questions.values() if q.node == n.name and q.key != n.key]
        if asked is None and items:  # the items of a foreach, each answered by its key
            asked_by = [(q.key, q.question, q.choices) for q in items]
        elif asked is None:  # an A2A agent's own words
            stdout.print(Text(f"  ? {n.name}: {n.error.message}", style="magenta"))
            continue
        else:
            asked_by = [(n.key, asked["question"], asked["choices"])]
        for key, question, choices in asked_by:
            listed = f"  (one of: {', '.join(map(answer_text, choices))})" if choices else ""
            stdout.print(Text(f"  ? {key}: {question}{listed}", style="magenta"))
            example = example or (key, answer_text(choices[0]) if choices else "ANSWER")
    key, value = example or ("NODE", "ANSWER")
    stdout.print(
        Text(
            f"answer with: weft resume {result.run_id}{again} "
            f"--answer {shlex.quote(f'{key}={value}')}",
            style="yellow",
        )
    )


def answer_text(value: Any) -> str:
    """``value`` as ``--answer`` reads it back: text as it is unless it reads as JSON
    (``yes`` stays ``yes``, the text ``42`` becomes ``"42"``), anything else as JSON."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
    return json.dumps(value)


def print_runs(records: list[Any]) -> None:
    """The runs as a table: whole rows when piped (``weft runs | grep failed``); on a
    narrow terminal only the workflow name is cropped."""
    if not records:
        stdout.print("no runs yet")
        return
    rows = []
    for r in records:
        duration = f"{r.finished_at - r.started_at:.2f}s" if r.finished_at else "-"
        started = datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M:%S")
        rows.append((r.run_id, r.workflow, r.state.value, started, duration))
    table = Table(box=None, header_style="bold")
    for index, col in enumerate(("run", "workflow", "state", "started", "duration")):
        # the run id is what a user copies into `weft resume`, the state what a script
        # greps for: never crop them
        widest = max(len(col), *(len(row[index]) for row in rows))
        table.add_column(col, no_wrap=True, min_width=None if col == "workflow" else widest)
    for run_id, workflow, state, started, duration in rows:
        table.add_row(
            run_id, workflow, Text(state, style=_STATE_STYLE.get(state, "")), started, duration
        )
    console = stdout if sys.stdout.isatty() else Console(width=10_000, soft_wrap=True)
    console.print(table)
