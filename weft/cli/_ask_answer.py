"""What ``weft ask`` prints at the end: the answer, its notes, a summary and how to go on.

An ask its budget stopped before its answer was made prints what it paid for
instead: the results of the subtasks that finished, under their descriptions
(or, for ``--workflow``, of the workflow's nodes, under their names), and the
``weft resume`` command with the flag that gives it more. ``weft resume`` of
an ask ends the same way (``_ask_resume``).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from weft.cli._json import json_text

__all__ = ["print_answer"]


def print_answer(answer: Any, as_json: bool, again: str | None) -> None:
    """The answer on stdout (or the whole of it as JSON), notes and a summary on stderr, and
    for an ask that did not succeed the ``weft resume`` command that finishes it (``again``:
    the options it needs, as ``weft run`` prints them; None: it cannot); exits 1 unless ok.

    An ask its budget stopped before its answer was made prints the results of the
    subtasks that finished instead, under their descriptions (what it paid for), and the
    error and its note say that they are no answer."""
    if as_json:
        click.echo(json_text(answer.model_dump(mode="json")))
    else:
        if answer.ok:
            value = answer.answer
            click.echo(value if isinstance(value, str) else json_text(value))
        else:
            partial = _partial_results(answer)
            if partial:
                click.echo(partial)
            click.secho(f"error: {answer.error or answer.state.value}", fg="red", err=True)
        for note in answer.notes:
            click.secho(f"note: {note}", fg="yellow", err=True)
        click.echo(_summary(answer), err=True)
        if not answer.ok and again is not None:
            _resume_hint(answer, again)
    if not answer.ok:
        sys.exit(1)


def _resume_hint(answer: Any, again: str) -> None:
    """``answer with: weft resume RUN --answer KEY=VALUE`` for an ask that stopped for a
    person, else ``resume with: weft resume RUN``: the lines ``weft run`` ends with."""
    from weft.cli._display import answer_text
    from weft.protocols import RunState

    command = f"weft resume {answer.run_id}{again}"
    flag = _budget_flag(answer.error) if answer.state is RunState.CANCELLED else None
    if flag is not None:  # resumed as it is, it would be refused: nothing is left of it
        done = "; what finished is not run again" if answer.results else ""
        click.secho(
            f"resume with: {command} {flag} N  (N: a larger budget for the whole ask{done})",
            fg="yellow",
            err=True,
        )
        return
    if answer.state is not RunState.NEEDS_INPUT:
        click.secho(f"resume with: {command}", fg="yellow", err=True)
        return
    key, question = next(iter(answer.questions.items()), ("NODE", {"choices": None}))
    choices = question.get("choices")
    value = answer_text(choices[0]) if choices else "ANSWER"
    example = shlex.quote(f"{key}={value}")
    click.secho(f"answer with: {command} --answer {example}", fg="yellow", err=True)


#: How ``BudgetWatch`` says a run went over a budget, by the ``weft resume`` flag that raises it.
_BUDGET_STOPS = {
    "token budget exceeded": "--max-tokens",
    "cost budget exceeded": "--max-cost",
    "time budget exceeded": "--max-time",
}


def _partial_results(answer: Any) -> str:
    """The results of the subtasks that finished before the budget stopped ``answer``'s ask,
    under their descriptions, in plan order (a cluster's under its node); for an ask given
    a workflow, of its nodes, under their names; "" when its budget did not stop it or
    nothing finished."""
    if _budget_flag(answer.error) is None or not answer.results:
        return ""
    subtasks = answer.plan.subtasks if answer.plan is not None else []
    titles = {s.id: s.description for s in subtasks}
    ids = [s.id for s in subtasks if s.id in answer.results]
    ids += [i for i in answer.results if i not in titles]  # channel_<id> nodes, a workflow's
    sections = []
    for sid in ids:
        value = answer.results[sid]
        shown = value if isinstance(value, str) else json_text(value)
        sections.append(f"## {titles.get(sid, sid)}\n\n{shown}")
    return "\n\n".join(sections)


def _budget_flag(error: str | None) -> str | None:
    """The flag that raises the budget an ask was cancelled for going over, or None."""
    return next((f for why, f in _BUDGET_STOPS.items() if (error or "").startswith(why)), None)


def _summary(answer: Any) -> str:
    """The one line on stderr after the answer: run, state, plan size, usage, reuse, time."""
    usage = answer.usage
    parts = [f"run {answer.run_id}: {answer.state.value}"]
    if answer.plan is not None:
        parts.append(f"{len(answer.plan.subtasks)} subtask(s)")
    parts.append(
        f"{usage.llm_calls} LLM call(s), {usage.prompt_tokens + usage.completion_tokens} tokens, "
        f"${usage.cost:.4f}"
    )
    if answer.plan_failures:
        parts.append(f"{len(answer.plan_failures)} rejected plan(s)")
    if answer.reuse:
        reuse = answer.reuse
        parts.append(
            f"reused plan {reuse['record']}: saved {reuse['saved_llm_calls']} LLM call(s), "
            f"{reuse['saved_tokens']} tokens"
        )
    parts.append(f"{answer.duration_s:.2f}s")
    return " · ".join(parts)
