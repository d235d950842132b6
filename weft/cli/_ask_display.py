"""``weft ask`` as it happens: planning, the plan and its routes, then each node's state.

With a real model an ask takes minutes, most of them planning; silence until
the answer would look like a hang. On a terminal a live panel on stderr
redraws a few times a second and stays on screen at the end; elsewhere (a
pipe, a log file, a test) each step is one plain line on stderr as it
happens. stdout is left to the answer, so ``weft ask ... > answer.txt`` and
``--json`` (which shows no progress, like ``weft run --json``) are unchanged.

With ``--stream`` (the default when stdout is a terminal) the LLM agents'
text shows as it is generated, as ``weft run --stream`` shows it
(``_stream_display``): the subtasks' agents and the aggregator (the
``answer`` node). On a terminal with the live panel, whole lines are printed
above the panel under a ``── node ──`` header and the line being written
shows in it (``AskProgress(text=True)``); otherwise the pieces go to stdout
as they come, each node's under a ``[node]`` line (``RawText``), before the
answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.text import Text

from weft.cli._stream_display import PARTIAL_CHARS, PARTIAL_LINES, LineText
from weft.protocols import EventKind, RunEvent
from weft.protocols.streaming import text_delta

_MARK = {"succeeded": "✓", "failed": "✗", "skipped": "-", "cancelled": "!", "needs_input": "?"}
#: Of the states of several clusters a folded subtask may be in, the one it shows: the worst.
_WORST = ("failed", "cancelled", "needs_input", "skipped", "succeeded")
_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "yellow",
    "needs_input": "magenta",
    "running": "cyan",
    "pending": "dim",
}


@dataclass
class _Row:
    """One node of the ask's run: a subtask (with its route), or the answer node."""

    node: str
    route: str = ""
    text: str = ""
    after: tuple[str, ...] = ()
    state: str = "pending"
    started: float | None = None
    finished: float | None = None
    note: str = ""
    """The node's latest progress message, if its action sends any."""
    own: bool = False
    """The node has had events of its own: it runs as itself, in no cluster."""
    channels: tuple[str, ...] = ()
    """The cluster nodes (``channel_<id>``) this subtask runs in; two or more only when
    the membership was not given and is guessed (``AskProgress._fold``)."""

    def took(self, now: float) -> str:
        if self.started is None:
            return ""
        return f"{(self.finished or now) - self.started:.1f}s"


class AskProgress:
    """Shows an ask on stderr: live on a terminal (``live``), else line by line.

    ``planning`` says what plans; ``on_plan`` (the orchestrator's hook) gets
    the accepted plan, its routes and its clusters; ``on_event`` (a run
    listener) the node states. Use it as a context manager around the ask.
    With ``text`` (and ``live``) the LLM agents' streamed text is printed above
    the panel line by line, the line being written shown in it (``self.text``).
    """

    def __init__(
        self, *, live: bool, cluster_rounds: int | None = None, text: bool = False
    ) -> None:
        self.rows: dict[str, _Row] = {}
        #: The plan's subtask ids in plan order (a cluster is named after its first member).
        self.subtasks: list[str] = []
        #: ``--cluster-rounds``: a ``channel_<id>`` node is a cluster of subtasks, so said.
        self.cluster_rounds = cluster_rounds
        #: The orchestrator said which subtasks each cluster runs: nothing to guess.
        self.exact = False
        #: The cluster nodes it said the run has (when ``exact``).
        self.clusters: set[str] = set()
        self.phase = ""
        self.started = time.monotonic()
        self._live: Live | None = None
        #: The streamed text being shown (``None``: not shown here).
        self.text: LineText | None = LineText(self._print_line) if text and live else None
        if live:
            from weft.cli._display import stderr

            self._live = Live(get_renderable=self._render, console=stderr, refresh_per_second=8)

    def _print_line(self, line: str, header: bool) -> None:
        """A whole line of streamed text, above the live panel (which redraws below it)."""
        if self._live is not None:
            self._live.console.print(Text(line, style="dim" if header else ""), soft_wrap=True)

    def __enter__(self) -> AskProgress:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    # -- what happens -------------------------------------------------------------------

    def planning(self, how: str) -> None:
        self.phase = f"planning with {how}"
        self._line(f"{self.phase}…")

    def planning_note(self, line: str) -> None:
        """What planning does meanwhile (an answer rejected, another planner taking over):
        a line of its own, or the live panel's heading."""
        self.phase = line
        self._line(f"  {line}")

    def on_plan(
        self,
        plan: Any,
        routes: dict[str, str],
        clusters: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """The plan, its routes and, from the orchestrator, its clusters (``channel_<id>``
        -> subtask ids). Without ``clusters`` (another caller) the membership is guessed
        from the grouping rule as the clusters start (``_fold``)."""
        count = len(plan.subtasks)
        self.phase = f"plan: {count} subtask{'s' if count != 1 else ''}"
        self._line(self.phase)
        member_of = {i: c for c, ids in (clusters or {}).items() for i in ids}
        self.exact = clusters is not None
        self.clusters = set(clusters or {})
        for subtask in plan.subtasks:
            row = _Row(
                subtask.id,
                routes.get(subtask.id, "?"),
                subtask.description,
                tuple(subtask.depends_on),
            )
            if subtask.id in member_of:
                row.channels = (member_of[subtask.id],)
            self.rows[row.node] = row
            self.subtasks.append(row.node)
            after = f" (after {', '.join(row.after)})" if row.after else ""
            folded = f" · in {row.channels[0]}" if row.channels else ""
            self._line(f"  {row.node} → {row.route}: {row.text}{after}{folded}")

    def on_event(self, event: RunEvent) -> None:
        kind, node, key = event.kind, event.node, event.key or ""
        piece = text_delta(event)
        if piece is not None:
            if self.text is not None:
                self.text.add(key or node or "?", piece)
            return
        if kind is EventKind.NODE_FINISHED and key and self.text is not None:
            self.text.end(key)
        if kind is EventKind.RUN_STARTED and not self.rows:
            self.phase = f"running workflow {event.data.get('workflow', '')}"
            self._line(self.phase)
        elif kind is EventKind.RUN_FINISHED:
            self.phase = f"{event.state or 'finished'}"  # the summary line follows
        if not node or "/" in node or "[" in key:
            return  # sub-workflow nodes and foreach items: their node's row says it
        row = self.rows.get(node)
        if row is None:
            row = self.rows[node] = _Row(node, self._route_of(node))
        if node in self.subtasks and not row.own:  # it runs as itself after all
            if row.channels:
                row.channels, row.state, row.started, row.finished = (), "pending", None, None
            row.own = True
        self._show_state(node, row, event)
        if self._is_channel(node):
            if kind is EventKind.NODE_STARTED and not self.exact:
                self._fold(node)
            self._follow(node)

    def _show_state(self, node: str, row: _Row, event: RunEvent) -> None:
        kind = event.kind
        now = time.monotonic()
        if kind is EventKind.NODE_STARTED and row.started is None:
            row.state, row.started = "running", now
            via = f" ({row.route})" if row.route else ""
            self._line(f"  … {node}{via} running")
        elif kind is EventKind.NODE_FINISHED and event.state:
            row.state, row.finished = str(event.state), now
            self._line(f"  {_MARK.get(row.state, '?')} {node} {row.state} in {row.took(now)}")
        elif kind is EventKind.NODE_SKIPPED:
            row.state = "skipped"
            self._line(f"  - {node} skipped")
        elif kind is EventKind.PROGRESS and event.data.get("message"):
            message = str(event.data["message"])
            if message != row.note:
                row.note = message
                self._line(f"  · {node}: {message}")

    def _is_channel(self, node: str) -> bool:
        """Whether ``node`` is a cluster of subtasks (``--cluster-rounds``), not a subtask."""
        if self.exact:
            return node in self.clusters
        return self.cluster_rounds is not None and node.startswith("channel_")

    def _fold(self, channel: str) -> None:
        """Guess the subtasks ``channel`` runs, for a caller that did not say (``on_plan``
        without ``clusters``): they get no events of their own.

        The orchestrator names a cluster after its first subtask and puts in
        it only subtasks with that one's dependencies, later in the plan
        (``weft.runtime.teams.plan_channels``). Which of those are in it,
        rather than running alone, shows by what happens: one that starts on
        its own leaves the cluster (``on_event``). Two clusters over the same
        dependencies cannot be told apart from here, so a subtask after both
        leaders is shown in both, and as running until both are done.
        """
        leader = channel.removeprefix("channel_")
        if leader not in self.subtasks:
            return
        self.rows[leader].channels = (channel,)
        inputs = self.rows[leader].after
        for node in self.subtasks[self.subtasks.index(leader) + 1 :]:
            row = self.rows[node]
            if row.own or row.after != inputs or f"channel_{node}" in self.rows:
                continue  # runs alone, needs other inputs, or is the first of another cluster
            if channel not in row.channels:
                row.channels = (*row.channels, channel)

    def _follow(self, channel: str) -> None:
        """Subtasks in ``channel`` show its state and time, with other clusters they may be in."""
        for row in self.rows.values():
            if channel not in row.channels:
                continue
            holders = [self.rows[c] for c in row.channels if c in self.rows]
            states = {h.state for h in holders}
            starts = [h.started for h in holders if h.started is not None]
            row.started = min(starts) if starts else None
            if states & {"running", "pending"}:
                row.state, row.finished = ("running" if starts else "pending"), None
            else:
                row.state = next((s for s in _WORST if s in states), holders[0].state)
                row.finished = max(h.finished or 0.0 for h in holders) or None

    def _route_of(self, node: str) -> str:
        """What runs a node that is not a subtask of the plan: a cluster's channel, or nothing."""
        if not self._is_channel(node):
            return ""
        if self.cluster_rounds is None:
            return "cluster"
        return f"cluster, {self.cluster_rounds} round{'s' if self.cluster_rounds != 1 else ''}"

    # -- how it is shown ----------------------------------------------------------------

    def _line(self, text: str) -> None:
        """A plain line on stderr, unless the live panel shows it."""
        if self._live is None:
            click.echo(text, err=True)

    def _render(self) -> Group:
        now = time.monotonic()
        head = Text.assemble(
            ("weft ask  ", "bold"), (self.phase, "cyan"), (f"  {now - self.started:.1f}s", "dim")
        )
        lines = [head]
        for row in self.rows.values():
            mark = _MARK.get(row.state, "…" if row.state == "running" else " ")
            route = f" → {row.route}" if row.route else ""
            after = f" (after {', '.join(row.after)})" if row.after else ""
            folded = f" · in {' or '.join(row.channels)}" if row.channels else ""
            text = Text.assemble(
                (f"  {mark} {row.node}{route}", _STYLE.get(row.state, "")),
                f"  {row.text[:60]}{after}{folded}  ",
                (row.took(now), "dim"),
                (f"  {row.note[:60]}" if row.note and row.state == "running" else "", "cyan"),
            )
            lines.append(text)
        writing = [(k, t) for k, t in (self.text.partial if self.text else {}).items() if t]
        for key, partial in writing[-PARTIAL_LINES:]:
            lines.append(Text.assemble((f"  ✎ {key}: ", "cyan"), partial[-PARTIAL_CHARS:]))
        return Group(*lines)
