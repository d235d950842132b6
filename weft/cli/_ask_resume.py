"""``weft resume RUN`` for a run of ``weft ask``: the same agents finish the same plan.

``weft resume`` hands a run over to this module when the journal holds an
ask's record (``weft.runtime.orchestrator.ask_record``): there is no workflow
file to run again, but the record has the plan, the routes and the options of
the ``weft ask`` that made it (its ``--agents``, ``--model``, ``--base-url`` and
aggregator). The agents are loaded again from those references and
``Orchestrator.resume`` runs what did not finish; the output is ``weft ask``'s:
the answer on stdout, the summary (and, if it stops again, the next ``weft
resume`` command) on stderr.

The broker follows ``weft ask``'s rule (``weft.cli._broker``): ``--broker``
given to ``weft resume``, or ``$WEFT_BROKER`` when the ask had no ``--agents``.
The ask's budgets (its ``--max-tokens``, ``--max-cost``, ``--max-time``) hold,
counting what it spent before it stopped
(``weft.runtime.orchestrator.resume_budget``); the same flags given to ``weft
resume`` replace them, which is how an ask its budget stopped is finished.
``--engine langgraph`` finishes the ask on LangGraph's engine, as it does a
workflow run. An ask given a workflow (``weft ask --workflow FILE``) is resumed
as a run of its file, but its budgets hold the same way (``workflow_ask_budget``).
The ask's experience memory (its ``--memory``, unless
``--no-memory``) gets how the ask ended after all: its record is replaced, so
a plan that succeeded once resumed is reused for similar tasks. Ctrl-C
(or SIGTERM) ends as in ``weft ask``, naming the command that resumes the run again.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

import click

from weft.cli._broker import broker_if_alone
from weft.cli._stops import run_stoppable
from weft.cli._types import Finite
from weft.protocols import WeftError

#: ``weft resume``'s budget flags, by the ``OrchestratorBudget`` field each sets.
BUDGET_FLAGS = {"max_tokens": "--max-tokens", "max_cost": "--max-cost", "max_time": "--max-time"}


def budget_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--max-tokens``, ``--max-cost`` and ``--max-time`` of ``weft resume``: for an ask,
    they replace the budget it was asked with (what it spent still counts)."""
    for option in reversed(
        [
            click.option(
                "--max-tokens",
                type=click.IntRange(min=1),
                help="For an ask: its token budget, replacing the one it was asked with "
                "(what it spent counts).",
            ),
            click.option(
                "--max-cost",
                type=Finite(min=0),
                help="For an ask: its cost budget in USD, replacing the one it was asked with.",
            ),
            click.option(
                "--max-time",
                type=Finite(min=0, min_open=True),
                help="For an ask: its time budget in seconds, replacing the one it was asked "
                "with (its earlier runs' time counts).",
            ),
        ]
    ):
        func = option(func)
    return func


def refuse_budget_flags(run_id: str, limits: dict[str, Any], journal: Any = None) -> None:
    """``WeftError`` when a budget flag was given to resume ``run_id``, a workflow run:
    only an ask has a budget (a ``weft ask --workflow`` run in ``journal`` has one)."""
    from weft.runtime.orchestrator.workflow_ask import load_budget

    given = [BUDGET_FLAGS[name] for name, value in limits.items() if value is not None]
    if given and (journal is None or load_budget(journal, run_id) is None):
        raise WeftError(
            f"run {run_id} is a workflow run: {given[0]} bounds a resumed weft ask "
            "(a workflow run has no budget)"
        )


def workflow_ask_budget(journal: Any, run_id: str, limits: dict[str, Any]) -> Any:
    """The budget a resume of ``run_id`` is held to when it is a ``weft ask --workflow``
    run (``weft.runtime.orchestrator.workflow_ask.ResumeBudget``; the ``limits`` given in
    place of the ask's), else None. A budget the ask already used up is a ``WeftError``
    naming the flag that raises it, before anything runs (the journal is closed)."""
    from weft.runtime.orchestrator.resume_budget import BudgetUsedUp
    from weft.runtime.orchestrator.workflow_ask import ResumeBudget

    try:
        return ResumeBudget.of(journal, run_id, limits)
    except BudgetUsedUp as exc:
        journal.close()
        raise WeftError(
            f"run {exc.run_id} {exc.why} ({exc.field}): give weft resume a larger "
            f"{BUDGET_FLAGS[exc.field]}"
        ) from None


def ask_end(budget: Any, result: Any, source: str | None, as_json: bool, again: str) -> None:
    """How a resume of a ``weft ask --workflow`` run (held to ``budget``, the
    ``ResumeBudget`` it ran with) ends: as the ask did, with its answer (``print_answer``),
    or, stopped by its budget again, the outputs of every node that finished so far under
    their names, in the workflow's order, and the ``weft resume`` command with the flag
    that gives it more. Exits 1 unless the ask succeeded."""
    from weft.cli._ask_answer import print_answer

    order: list[str] = []
    if source is not None:  # loaded a moment ago by the resume: its order of nodes
        from weft.runtime.engine.compiler import load_definition
        from weft.workflows import Workflow

        loaded = load_definition(source)
        order = list((loaded.build() if isinstance(loaded, Workflow) else loaded).nodes)
    print_answer(budget.answer(result, order, len(order) or None), as_json, again)


def resume_ask_run(
    journal: Any,
    run_id: str,
    record: Any,
    *,
    answers: dict[str, Any],
    force: bool,
    as_json: bool,
    concurrency: int | None,
    journal_mode: str | None,
    broker: str | None,
    namespace: str,
    again: str,
    engine: str = "weft",
    limits: dict[str, Any] | None = None,
    stream: bool = False,
) -> None:
    """Finish the ask ``run_id`` whose ``record`` is in ``journal`` on ``engine``, within its
    budget or the ``limits`` given (``OrchestratorBudget`` field -> value, None: the ask's),
    print as ``weft ask`` does, and exit 1 unless it succeeded. The journal is closed on
    the way out. ``stream``: the agents' text is shown as it comes, as ``weft ask`` shows it."""
    from weft.agents import llm_configured, model_defaults
    from weft.agents.streaming import stream_text
    from weft.cli._ask_display import AskProgress
    from weft.cli._routers import capability_router
    from weft.cli._storage import open_tracer
    from weft.cli._stream_display import RawText
    from weft.cli.ask import (
        _experience,
        _memory_free,
        _remote_agents,
        aggregator_for,
        interrupted,
        load_agents,
        print_answer,
    )
    from weft.runtime.orchestrator import Orchestrator
    from weft.runtime.orchestrator.resume_budget import BudgetUsedUp

    options = record.options
    budget = _budget(record, limits or {})
    refs = tuple(options.get("agents") or ())
    try:
        registry = load_agents(refs, base=options.get("cwd"))
    except WeftError as exc:
        journal.close()
        raise WeftError(f"run {run_id} is an ask, and its agents cannot be loaded: {exc}") from None
    broker = broker_if_alone(broker, refs)
    if not refs and broker is None:
        journal.close()
        raise WeftError(
            f"run {run_id} is an ask whose agents served on a broker: give --broker "
            "(or $WEFT_BROKER)"
        )
    use_llm = options.get("aggregator") in ("llm", "auto")  # "auto": recorded with a model
    with model_defaults(model=options.get("model"), base_url=options.get("base_url")):
        if use_llm and not llm_configured():
            journal.close()
            raise WeftError(
                f"run {run_id} is an ask whose answer an LLM makes: set OPENAI_API_KEY or "
                "OPENAI_BASE_URL as for the ask"
            )
        # the ask's router with its outcome memory, to learn how the subtasks that run
        # again go (the routes are the record's: it routes nothing); none with --no-memory
        kind = options.get("router") or "lexical"
        learn = bool(options.get("learn")) and _memory_free(options.get("memory"))
        router = (
            capability_router(
                "capability" if kind in ("llm", "rerank") else kind,
                options.get("memory"),
                persist=True,
                rerank=False,  # it routes nothing: no model to load
            )
            if learn
            else None
        )
        # the ask's experience memory: how the ask ends now replaces what it recorded
        experience = _experience(options.get("memory"), False) if learn else None
        tracer = open_tracer()
        live = sys.stderr.isatty()
        progress = (
            None
            if as_json
            else AskProgress(
                live=live,
                cluster_rounds=record.cluster_rounds,
                text=stream and live and sys.stdout.isatty(),
            )
        )
        listeners = [progress.on_event] if progress else []
        if stream and (progress is None or progress.text is None):
            listeners.append(RawText().on_event)  # the text to stdout, before the answer

        def took_over(lease: Any) -> None:
            why = lease.expiry_reason() or "its lease expired"
            click.secho(f"taking over run {lease.run_id}: {why}", fg="yellow", err=True)

        async def go() -> Any:
            async with _remote_agents(broker, namespace, registry):
                orchestrator = Orchestrator(
                    registry,
                    router=router,
                    experience=experience,
                    aggregator=aggregator_for(options.get("aggregator") or "concat"),
                    journal=journal,
                    tracer=tracer,
                    listeners=listeners,
                    on_plan=progress.on_plan if progress else None,
                    concurrency=concurrency,
                    sync_cards=False,
                    cluster_rounds=record.cluster_rounds,
                )
                return await orchestrator.resume(
                    run_id,
                    answers=answers,
                    force=force,
                    on_takeover=took_over,
                    journal_mode=journal_mode,
                    budget=budget,
                    engine="langgraph" if engine == "langgraph" else "weft",
                )

        try:
            with progress or contextlib.nullcontext(), stream_text(stream):
                answer = run_stoppable(go())
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (weft.cli._stops)
            interrupted(journal, again, asked=run_id, stop=exc)
        except BudgetUsedUp as exc:
            raise WeftError(
                f"run {exc.run_id} {exc.why} ({exc.field}): give weft resume a larger "
                f"{BUDGET_FLAGS[exc.field]}"
            ) from None
        finally:
            journal.close()
            tracer.close()
    print_answer(answer, as_json, again)


def _budget(record: Any, limits: dict[str, Any]) -> Any:
    """The ask's budget with the ``limits`` given to ``weft resume`` in place of its own;
    None when none was given (the orchestrator holds the ask to the one it journaled)."""
    from weft.runtime.orchestrator import OrchestratorBudget

    given = {name: value for name, value in limits.items() if value is not None}
    if not given:
        return None
    base = record.budget or OrchestratorBudget()
    return OrchestratorBudget.model_validate({**base.model_dump(), **given})
