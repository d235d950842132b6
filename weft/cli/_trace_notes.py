"""The lines ``weft trace show`` prints under a span: its error and traceback, an LLM exchange.

A failed span shows its error (``✗ Type: message``) and the traceback its
error kept; a traceback through the same frames as one already printed (the
same failure seen by a retry, another foreach item) is referred to, not
repeated. A routing decision (``route``) shows the action it chose, its
score and the runners-up; a memory lookup, the past plan it reused or not
and why; a ``note`` (a planner fallback), what it says. A ``team`` span (a
message on a team's topic) shows the flow-control step it made and who
chose its speaker. An
``llm`` span shows the last message it sent and the reply, one line each, or
with ``--full`` every message and the whole reply.
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.text import Text

from weft.cli._display import answer_text
from weft.runtime.tracing.span_text import (
    error_line,
    llm_messages,
    message_text,
    one_line,
    traceback_of,
)

#: Width of a message or reply shown on one line.
EXCERPT_CHARS = 160


def span_notes(
    span: Any, *, full: bool, seen: set[str], parent: Any = None, waiting: str | None = None
) -> list[Text]:
    """The lines to print under ``span``; ``seen`` holds the frames of the tracebacks printed.

    An agent's own span of a call that failed with the error its caller's
    span already shows (``parent``) says nothing more: it is the same failure.
    A span that stopped to ask a person shows the question, not an error;
    ``waiting`` is the id of the run when it still waits for this answer, to
    print the command that gives it.
    """
    notes: list[Text] = []
    if span.status == "needs_input":
        return _question(span, waiting)
    if span.kind == "llm":
        notes.extend(_exchange(span, full))
    if span.kind == "team":
        notes.extend(_team_move(span))
    if span.kind == "route":
        notes.extend(_route(span))
    if span.kind == "memory":
        notes.extend(_memory(span))
    if span.kind == "note" and span.attributes.get("weft.note"):
        notes.append(Text(f"note: {span.attributes['weft.note']}", style="blue"))
    error = error_line(span)
    if (
        error is not None
        and span.attributes.get("weft.side") == "agent"
        and parent is not None
        and error_line(parent) == error
    ):
        return notes
    if error is not None and span.status not in ("ok", "succeeded"):
        notes.append(Text(f"✗ {error}", style="red"))
        stack = traceback_of(span)
        if stack is not None:
            frames = _frames(stack)
            if frames in seen:
                notes.append(Text("(traceback: the same frames as above)", style="dim"))
            else:
                seen.add(frames)
                notes.append(Text(stack, style="dim"))
    return notes


#: Runners-up a routing decision names after its choice.
RUNNERS_UP = 2


def _route(span: Any) -> list[Text]:
    """What a routing decision chose and over whom: ``→ summarize_text  score 2.44 · next ...``."""
    attributes = span.attributes
    chosen = attributes.get("weft.action")
    candidates = [c for c in attributes.get("candidates") or [] if isinstance(c, dict)]
    line = Text("→ ", style="blue")
    if chosen:
        line.append(str(chosen), style="bold")
        mine = next((c for c in candidates if c.get("agent_id") == chosen), None)
        if mine is not None and isinstance(mine.get("score"), int | float):
            line.append(f"  score {mine['score']:.2f}")
    else:
        line.append("no agent fits", style="red")
    raw_skipped = attributes.get("weft.skipped")
    skipped: dict[str, Any] = raw_skipped if isinstance(raw_skipped, dict) else {}
    others = [c for c in candidates if c.get("agent_id") not in (chosen, *skipped)][:RUNNERS_UP]
    if others:
        line.append(
            " · next "
            + ", ".join(
                f"{c.get('agent_id')} {c['score']:.2f}"
                if isinstance(c.get("score"), int | float)
                else str(c.get("agent_id"))
                for c in others
            ),
            style="dim",
        )
    capability = attributes.get("weft.capability")
    if capability:
        line.append(f"  (for {capability!r})", style="dim")
    # the router's favourite passed over when chosen: an agent this caller does not trust
    passed = [Text(f"  skipped {agent}: {why}", style="yellow") for agent, why in skipped.items()]
    return [line, *passed]


def _memory(span: Any) -> list[Text]:
    """What a memory lookup found: a past plan reused, and why, or why not."""
    attributes = span.attributes
    record = attributes.get("weft.memory.record")
    if not record:
        return []
    if attributes.get("weft.memory.reused"):
        line = Text(f"↺ reused the plan of {record}", style="blue")
        why = attributes.get("weft.memory.why")
    else:
        line = Text(f"↺ did not reuse the plan of {record}", style="dim")
        problems = attributes.get("weft.memory.problems")
        why = "; ".join(map(str, problems)) if isinstance(problems, list) else problems
    if why:
        line.append(f": {why}", style="dim")
    return [line]


def _team_move(span: Any) -> list[Text]:
    """A team message's flow-control step: ``⇢ DISCUSSION → VOTE  chosen by round_robin``."""
    attributes = span.attributes
    after = attributes.get("weft.team.state")
    if not after:
        return []
    before = attributes.get("weft.team.from_state") or after
    line = Text(f"⇢ {before} → {after}" if before != after else f"⇢ {after}", style="blue")
    how = attributes.get("weft.team.selected_by")
    if how:
        line.append(f"  chosen by {how}", style="dim")
    waits = attributes.get("weft.team.wait_for")
    if waits:
        line.append(f"  waits for {', '.join(map(str, waits))}", style="dim")
    return [line]


def _question(span: Any, waiting: str | None) -> list[Text]:
    """``? Publish the draft?  (one of: yes, no)`` and, while the run waits, how to answer."""
    error = span.attributes.get("error")
    if hasattr(error, "model_dump"):  # an in-memory span's ErrorInfo
        error = error.model_dump()
    if not isinstance(error, dict):  # a run span: its nodes say what they ask
        return []
    found = error.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    question = details.get("question")
    choices = details.get("choices") if isinstance(details.get("choices"), list) else None
    if not isinstance(question, str):  # an A2A agent's own words, or a node whose items ask
        question = str(error.get("message") or "waiting for an answer")
    line = Text(f"? {question}", style="magenta")
    if choices:
        line.append(f"  (one of: {', '.join(map(answer_text, choices))})", style="magenta")
    notes = [line]
    if waiting is not None and span.kind == "node":
        key = span.node or span.name
        value = answer_text(choices[0]) if choices else "ANSWER"
        notes.append(
            Text(
                f"answer with: weft resume {waiting} --answer {shlex.quote(f'{key}={value}')}",
                style="yellow",
            )
        )
    return notes


def _frames(stack: str) -> str:
    """What makes two tracebacks the same: their frame lines, not the exceptions' messages."""
    return "\n".join(line for line in stack.splitlines() if line.startswith(" "))


def _exchange(span: Any, full: bool) -> list[Text]:
    sent, reply = llm_messages(span)
    lines: list[Text] = []
    shown = sent if full else sent[-1:]
    for message in shown:
        who, text = message_text(message)
        line = Text(f"→ {who}: " if who else "→ ", style="cyan")
        line.append(text if full else one_line(text, EXCERPT_CHARS))
        lines.append(line)
    if reply is not None:
        _, text = message_text(reply)
        line = Text("← ", style="green")
        line.append(text if full else one_line(text, EXCERPT_CHARS))
        lines.append(line)
    return lines
