"""LLM text on the terminal as it is generated: ``weft run --stream``.

Two ways to show it, chosen by what the terminal is:

- with the live panel (stderr is a terminal): whole lines are printed above
  the panel, under a ``── node ──`` header whenever another node's text
  follows, and the line still being written shows in the panel under the
  running nodes, so the panel is never torn by half a line (``LineText``);
- without it (piped, or a terminal without the panel): the pieces are
  written to stdout as they come, a ``[node]`` line before each node's text
  (``RawText``).

Where an LLM agent hands its conversation to another (``handoff_to`` in a
progress event), the text goes on under ``── node → agent ──`` (``[node →
agent]`` piped), so the two agents' words are not run together.

Whether text streams at all: ``--stream`` yes, ``--no-stream`` no, neither
when stdout is a terminal and ``--json`` is not given (the JSON is unchanged,
and nothing else goes to stdout with it). Streaming is asked of the run's
LLM agents left at ``stream=None`` through ``weft.agents.streaming.stream_text``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

import click

from weft.protocols import EventKind, RunEvent
from weft.protocols.streaming import text_delta

#: Longest part of a line being written that the live panel shows.
PARTIAL_CHARS = 100
#: Most lines being written that the live panel shows at once.
PARTIAL_LINES = 4


def stream_option(func: Any) -> Any:
    """``--stream/--no-stream`` (default: when stdout is a terminal and ``--json`` is off)."""
    return click.option(
        "--stream/--no-stream",
        "stream",
        default=None,
        help="Print LLM agents' text as it is generated. Default: when stdout is a "
        "terminal and --json is not given.",
    )(func)


def streaming(stream: bool | None, as_json: bool) -> bool:
    """Whether to stream, from ``--stream``/``--no-stream`` and ``--json``."""
    if stream and as_json:
        raise click.UsageError("--stream prints text as it comes and --json prints only the JSON "
                               "result: give one of them")  # fmt: skip
    if stream is None:
        return not as_json and sys.stdout.isatty()
    return stream


def handoff_of(event: RunEvent) -> str | None:
    """The agent an LLM agent handed its conversation to, if ``event`` says so: its text
    follows under the same node, and without a mark read as the first agent's."""
    if event.kind is not EventKind.PROGRESS:
        return None
    target = (event.data or {}).get("handoff_to")
    return target if isinstance(target, str) else None


def _ends(key: str, finished: str) -> bool:
    """True when ``key`` (an action's execution key) ends with node execution ``finished``."""
    return key == finished or key.startswith(finished + ">")


class LineText:
    """Streamed pieces made whole lines for ``print_line``; the unfinished ones kept apart."""

    def __init__(self, print_line: Callable[[str, bool], None]) -> None:
        #: ``print_line(text, is_header)``.
        self._print = print_line
        #: The line each key is writing now (shown by the live panel).
        self.partial: dict[str, str] = {}
        self._last: str | None = None

    def _header(self, key: str) -> None:
        if key != self._last:
            self._print(f"── {key} ──", True)
            self._last = key

    def add(self, key: str, text: str) -> None:
        *lines, rest = (self.partial.get(key, "") + text).split("\n")
        if lines:
            self._header(key)
            for line in lines:
                self._print(line, False)
        self.partial[key] = rest

    def handoff(self, key: str, target: str) -> None:
        """``key``'s agent handed off to ``target``: end its line, and mark who goes on."""
        rest = self.partial.pop(key, "")
        if rest:
            self._header(key)
            self._print(rest, False)
        self._print(f"── {key} → {target} ──", True)
        self._last = key  # its text goes on under this mark, with no other header

    def end(self, finished: str) -> None:
        """The node execution ``finished`` ended: print what its actions left unfinished."""
        for key in [k for k in self.partial if _ends(k, finished)]:
            rest = self.partial.pop(key)
            if rest:
                self._header(key)
                self._print(rest, False)


class RawText:
    """Run listener: streamed pieces straight to ``out`` (no live panel)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self._last: str | None = None
        self._open = False  # the last piece written did not end its line

    def _write(self, text: str) -> None:
        out = self._out or sys.stdout
        out.write(text)
        out.flush()

    def on_event(self, event: RunEvent) -> None:
        text = text_delta(event)
        key = event.key or event.node or "?"
        if text is not None:
            if key != self._last:
                self._write(("\n" if self._open else "") + f"[{key}]\n")
                self._last = key
            self._write(text)
            self._open = not text.endswith("\n")
        elif (target := handoff_of(event)) is not None:
            self._write(("\n" if self._open else "") + f"[{key} → {target}]\n")
            self._last, self._open = key, False
        elif (
            event.kind is EventKind.NODE_FINISHED
            and self._open
            and event.key
            and self._last is not None
            and _ends(self._last, event.key)
        ):
            self._write("\n")
            self._open = False
