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
Budgets (``--max-*``) are not applied again: they bounded the ask as it was asked.
The ask's experience memory (its ``--memory``, unless ``--no-memory``) gets
how the ask ended after all: its record is replaced, so a plan that succeeded
once resumed is reused for similar tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import click

from weft.cli._broker import broker_if_alone
from weft.protocols import WeftError


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
) -> None:
    """Finish the ask ``run_id`` whose ``record`` is in ``journal``, print as ``weft ask``
    does, and exit 1 unless it succeeded. The journal is closed on the way out."""
    from weft.agents import llm_configured, model_defaults
    from weft.cli._ask_display import AskProgress
    from weft.cli._routers import capability_router
    from weft.cli._storage import open_tracer
    from weft.cli.ask import _experience, _remote_agents, load_agents, print_answer
    from weft.runtime.orchestrator import ConcatAggregator, LLMAggregator, Orchestrator

    options = record.options
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
    use_llm = options.get("aggregator") == "llm"
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
        router = (
            capability_router(
                "capability" if kind == "llm" else kind, options.get("memory"), persist=True
            )
            if options.get("learn")
            else None
        )
        # the ask's experience memory: how the ask ends now replaces what it recorded
        experience = _experience(options.get("memory"), False) if options.get("learn") else None
        tracer = open_tracer()
        progress = (
            None
            if as_json
            else AskProgress(live=sys.stderr.isatty(), cluster_rounds=record.cluster_rounds)
        )

        def took_over(lease: Any) -> None:
            why = lease.expiry_reason() or "its lease expired"
            click.secho(f"taking over run {lease.run_id}: {why}", fg="yellow", err=True)

        async def go() -> Any:
            async with _remote_agents(broker, namespace, registry):
                orchestrator = Orchestrator(
                    registry,
                    router=router,
                    experience=experience,
                    aggregator=LLMAggregator() if use_llm else ConcatAggregator(),
                    journal=journal,
                    tracer=tracer,
                    listeners=[progress.on_event] if progress else (),
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
                )

        try:
            with progress or contextlib.nullcontext():
                answer = asyncio.run(go())
        finally:
            journal.close()
            tracer.close()
    print_answer(answer, as_json, again)
