"""``weft run | validate | schema | resume | runs``: workflows from the terminal."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from weft.cli._ask_resume import ask_end, budget_options, refuse_budget_flags, workflow_ask_budget
from weft.cli._broker import broker_for_workflow, from_environment, namespace_value
from weft.cli._json import json_text
from weft.cli._placement import Placements
from weft.cli._prune import before_of, print_report, prune_options, require_a_rule
from weft.cli._resume_hint import again_options as _again
from weft.cli._resume_target import run_record
from weft.cli._stops import exit_stopped, run_stoppable, stoppable
from weft.cli._stream_display import stream_option, streaming
from weft.cli._types import Answer, Finite, RunId, answers_of
from weft.protocols import InputError, RunState, WeftError


def _parse_inputs(pairs: tuple[str, ...], input_file: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if input_file:
        path = Path(input_file)
        if not path.exists():
            raise InputError(f"--input-file {input_file}: no such file")
        from weft.workflows.yaml_io import loads_yaml, read_yaml_file

        # The workflow loader's reading: bounded (LoadLimits), errors name file and line.
        loaded = loads_yaml(read_yaml_file(path, what="--input-file"), file=input_file)
        if not isinstance(loaded, dict):
            raise InputError(f"--input-file {input_file}: expected a mapping of input names")
        values.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--input {pair!r}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


def _journal_option(func: Any) -> Any:
    return click.option(
        "--journal",
        "journal_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Run journal (SQLite). Default: $WEFT_HOME/journal.db or ./.weft/journal.db.",
    )(func)


def _journal_mode_option(func: Any) -> Any:
    return click.option(
        "--journal-mode",
        type=click.Choice(["batched", "durable"]),
        default=None,
        help="durable: each finished call is on disk before its dependents start (no re-run "
        "after a crash, slower). Default: the workflow's `journal:` setting, else batched.",
    )(func)


def _open_tracer() -> Any:
    """The local trace store (plus OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
    from weft.cli._storage import open_tracer

    return open_tracer()


def _open_journal(path: str | None) -> Any:
    from weft.cli._storage import open_journal

    return open_journal(path)


def _result_json(result: Any, placements: Placements) -> str:
    return json_text(
        {
            "run_id": result.run_id,
            "workflow": result.workflow,
            "state": result.state.value,
            "outputs": result.outputs,
            "error": result.error,
            "warnings": result.warnings,
            "duration_s": round(result.duration, 6),
            "usage": result.usage.model_dump(),
            "nodes": {
                name: {
                    "state": n.state.value,
                    "attempts": n.attempts,
                    "cached": n.cached,
                    "error": n.error.model_dump() if n.error else None,
                    "reason": n.reason,
                    "agents": placements.agents_of(name),
                    "routed_to": placements.routes_of(name),
                }
                for name, n in result.nodes.items()
            },
        },
    )


def _remote_options(func: Any) -> Any:
    """``--broker``, ``--namespace``, ``--wait-agents``: call actions served by agents."""
    func = click.option(
        "--wait-agents",
        type=Finite(min=0),
        default=30.0,
        show_default=True,
        help="With --broker: seconds to wait for agents serving actions the file lacks.",
    )(func)
    func = click.option(
        "--namespace",
        envvar="WEFT_NAMESPACE",
        callback=namespace_value,
        default="default",
        show_default=True,
        help="With --broker: the agents' topic namespace (env WEFT_NAMESPACE).",
    )(func)
    return click.option(
        "--broker",
        envvar="WEFT_BROKER",
        default=None,
        help="MQTT v5 broker URL: actions served by live agents there are called remotely. "
        "$WEFT_BROKER is used only when the workflow names actions it does not define.",
    )(func)


@asynccontextmanager
async def _remote_actions(
    broker: str | None, definition: Any, namespace: str, wait: float
) -> AsyncIterator[Any]:
    """The remote actions of ``definition`` on ``broker`` (None without a broker)."""
    if broker is None:
        yield None
        return
    from weft.runtime.remote.distributed import remote_actions

    async with remote_actions(broker, definition, namespace=namespace, wait=wait) as actions:
        yield actions


def _node_router(definition: Any) -> Any:
    """A router for the workflow's capability nodes, or None when it has none.

    The capability router (MiniLM) when its model is installed, else the
    keyword router, with the same one-line note as ``weft ask``.
    """
    if definition is None:
        return None
    from weft.runtime.engine.compiler import load_definition
    from weft.workflows import IncompleteDefinition, Workflow

    try:
        loaded = load_definition(definition)
    except IncompleteDefinition:  # the run's compile reports it, with its actions' problems
        return None
    spec = loaded.build() if isinstance(loaded, Workflow) else loaded
    if all(node.capability is None for node in spec.nodes.values()):
        return None
    from weft.cli._routers import capability_router

    router = capability_router("auto")
    if router is None:
        from weft.runtime.routing.lexical_router import LexicalRouter

        return LexicalRouter()
    return router


def _placed(listeners: list[Any], placements: Placements, actions: Any) -> list[Any]:
    """``listeners``, plus the one that learns where nodes ran: on agents serving actions,
    or where an action sent its calls (an A2A agent, an MCP server)."""
    if actions is not None and len(actions):
        placements.remote = set(actions.names())
    return [*listeners, placements.on_event]


def _resume_broker(broker: str | None, source: str | None, run_id: str) -> str | None:
    """The broker ``weft resume`` uses, per the rule in ``weft.cli._broker``."""
    if broker is None:
        return None
    if source is None:  # a run from Python code: agents need the file to know the actions
        if from_environment():
            return None
        raise WeftError(f"run {run_id} was started from Python code; --broker needs its file")
    return broker_for_workflow(broker, source)


def _masked(result: Any) -> Any:
    """``result`` as the terminal shows it: outputs and errors masked as in every record
    (``weft.runtime.support.redaction``). The run's own values are left untouched."""
    import copy

    from weft.protocols import ErrorInfo
    from weft.runtime.support.redaction import redactor

    masker = redactor()
    shown = copy.copy(result)
    shown.outputs = masker.value(result.outputs)
    shown.error = masker.text(result.error) if result.error else result.error
    shown.nodes = dict(result.nodes)
    for name, node in result.nodes.items():
        if node.error is not None:
            shown.nodes[name] = copy.copy(node)
            shown.nodes[name].error = ErrorInfo.model_validate(
                masker.value(node.error.model_dump())
            )
    return shown


def _print_result(
    result: Any,
    as_json: bool,
    placements: Placements,
    again: str = "",
    questions: Mapping[str, Any] | None = None,
) -> None:
    result = _masked(result)
    if as_json:
        click.echo(_result_json(result, placements))
        return
    from weft.cli._display import print_summary

    print_summary(result, placements, again=again, questions=questions)


def _exit_for(result: Any) -> None:
    if not result.ok:
        sys.exit(1)


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--input", "-i", "inputs", multiple=True, help="Workflow input KEY=VALUE (repeat).")
@click.option("--input-file", type=click.Path(dir_okay=False), help="JSON or YAML inputs file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Max action calls at once.")
@click.option("--run-id", type=RunId(), help="Use this run id instead of a random one.")
@click.option(
    "--engine",
    type=click.Choice(["weft", "langgraph"]),
    default="weft",
    show_default=True,
    help="Run on weft's dataflow executor, or compiled to a LangGraph StateGraph "
    "(journaled and traced alike; `weft resume --engine` picks the engine that finishes "
    "it; docs/interop.md).",
)
@stream_option
@_journal_option
@_journal_mode_option
@_remote_options
@stoppable
def run_command(
    file: str,
    inputs: tuple[str, ...],
    input_file: str | None,
    as_json: bool,
    concurrency: int | None,
    run_id: str | None,
    engine: str,
    stream: bool | None,
    journal_path: str | None,
    journal_mode: str | None,
    broker: str | None,
    namespace: str,
    wait_agents: float,
) -> None:
    """Run the workflow in FILE (YAML, or Python defining `workflow`)."""
    from weft.runtime.engine.runner import run_workflow

    values = _parse_inputs(inputs, input_file)
    streamed = streaming(stream, as_json)
    broker = broker_for_workflow(broker, file)
    journal = _open_journal(journal_path)
    tracer = _open_tracer()
    live = sys.stderr.isatty() and not as_json
    placements = Placements()
    router = _node_router(file)

    async def go(listeners: list[Any]) -> Any:
        async with _remote_actions(broker, file, namespace, wait_agents) as actions:
            common: dict[str, Any] = {
                "actions": actions,
                "run_id": run_id,
                "inputs_from_text": True,
                "listeners": _placed(listeners, placements, actions),
                "journal": journal,
                "tracer": tracer,
                "concurrency": concurrency,
                "journal_mode": journal_mode,
            }
            if engine == "langgraph":
                from weft.runtime.engine.to_langgraph import run_langgraph

                return await run_langgraph(file, values, **common)
            return await run_workflow(file, values, router=router, **common)

    again = _again(journal_path, broker, namespace)
    result, questions = _run_cancellable(go, live, journal, tracer, again=again, stream=streamed)
    _print_result(result, as_json, placements, again, questions)
    _exit_for(result)


def _run_cancellable(
    go: Any,
    live: bool,
    journal: Any,
    tracer: Any = None,
    asked: str | None = None,
    again: str = "",
    stream: bool = False,
) -> Any:
    """Run ``go``; on Ctrl-C or SIGTERM, name the run this command was running and exit
    130 or 143 (``weft.cli._stops``).

    That run is the one this process started or took the lease of
    (``Journal.opened_runs``), never the newest in the journal, which may be
    another process's; ``asked`` is the run ``weft resume`` was given, in case
    Ctrl-C came before it was taken. Returns the result and, for a run that stopped
    ``needs_input``, the questions it waits on by execution key (read from the
    journal before it is closed: a ``foreach`` node's result holds only its first).
    ``stream``: LLM agents stream their text and it is printed (``_stream_display``).
    """
    from weft.agents.streaming import stream_text
    from weft.cli._display import run_with_display

    try:
        with stream_text(stream):
            result = run_stoppable(run_with_display(go, live, stream))
        questions: dict[str, Any] = {}
        if result.state is RunState.NEEDS_INPUT:
            from weft.runtime.engine.answers import waiting_questions

            questions = dict(waiting_questions(journal, result.run_id))
        return result, questions
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (weft.cli._stops)
        exit_stopped(exc, journal.opened_runs[-1] if journal.opened_runs else asked, again)
    finally:
        journal.close()
        if tracer is not None:
            tracer.close()


def _ask_of(journal: Any, run_id: str, limits: dict[str, Any]) -> Any:
    """The journaled record of ``run_id`` when it is a planned ``weft ask`` (no file to load:
    ``weft.cli._ask_resume`` finishes it), else None; budget ``limits`` given for another
    run are refused."""
    from weft.runtime.orchestrator.ask_record import load_ask

    ask = load_ask(journal, run_id)
    if ask is None:
        try:
            refuse_budget_flags(run_id, limits, journal)
        except WeftError:
            journal.close()
            raise
    return ask


@click.command("resume")
@click.argument("run_id")
@click.option(
    "--answer",
    "answer_pairs",
    multiple=True,
    type=Answer(),
    help="Answer the question node NODE asked (repeat): VALUE is read as JSON when it is "
    "JSON, else as text. The run ended needs_input; its summary shows the questions.",
)
@click.option("--force", is_flag=True, help="Resume even if the workflow file changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Max action calls at once.")
@click.option(
    "--engine",
    type=click.Choice(["weft", "langgraph"]),
    default="weft",
    show_default=True,
    help="Finish the run on weft's dataflow executor or on LangGraph's engine, whichever "
    "engine started it.",
)
@stream_option
@_journal_option
@_journal_mode_option
@_remote_options
@budget_options
@stoppable
def resume_command(
    run_id: str,
    answer_pairs: tuple[tuple[str, Any], ...],
    force: bool,
    as_json: bool,
    concurrency: int | None,
    engine: str,
    stream: bool | None,
    journal_path: str | None,
    journal_mode: str | None,
    broker: str | None,
    namespace: str,
    wait_agents: float,
    max_tokens: int | None,
    max_cost: float | None,
    max_time: float | None,
) -> None:
    """Finish RUN_ID (an id, a unique prefix of one, or `last`: the newest run) without
    repeating the calls that already finished."""
    from weft.runtime.engine.answers import checked_answers
    from weft.runtime.engine.runner import resume_run

    answers = answers_of(answer_pairs)
    streamed = streaming(stream, as_json)
    journal = _open_journal(journal_path)
    live = sys.stderr.isatty() and not as_json
    record = run_record(journal, run_id)
    run_id = record.run_id
    holder = journal.live_lease(record.run_id)
    if holder is not None:  # say so now, not after waiting for agents
        raise holder.refusal()
    checked_answers(journal, record.run_id, answers)  # the same: refused before any wait
    limits = {"max_tokens": max_tokens, "max_cost": max_cost, "max_time": max_time}
    ask = _ask_of(journal, record.run_id, limits)
    if ask is not None:
        from weft.cli._ask_resume import resume_ask_run

        resume_ask_run(
            journal, record.run_id, ask, answers=answers,
            force=force, as_json=as_json, concurrency=concurrency, journal_mode=journal_mode,
            broker=broker, namespace=namespace, again=_again(journal_path, broker, namespace),
            engine=engine, limits=limits, stream=streamed,
        )  # fmt: skip
        return
    budget = workflow_ask_budget(journal, record.run_id, limits)  # a weft ask --workflow run's
    source = record.source
    broker = _resume_broker(broker, source, record.run_id)
    tracer = _open_tracer()
    placements = Placements()

    def took_over(lease: Any) -> None:
        click.secho(
            f"taking over run {lease.run_id}: {lease.expiry_reason() or 'its lease expired'}",
            fg="yellow",
            err=True,
        )

    async def go(listeners: list[Any]) -> Any:
        async with _remote_actions(broker, source, namespace, wait_agents) as actions:
            common: dict[str, Any] = {
                "journal": journal,
                "actions": actions,
                "listeners": _placed(listeners, placements, actions),
                "force": force,
                "concurrency": concurrency,
                "tracer": tracer,
                "on_takeover": took_over,
                "journal_mode": journal_mode,
                "answers": answers,
            }
            if engine == "langgraph":
                from weft.runtime.engine.to_langgraph import resume_langgraph

                return await resume_langgraph(run_id, **common)
            return await resume_run(run_id, router=_node_router(source), **common)

    again = _again(journal_path, broker, namespace)
    start = go if budget is None else budget.around(go, record.workflow)
    result, questions = _run_cancellable(
        start, live, journal, tracer, asked=record.run_id, again=again, stream=streamed
    )
    if budget is not None:  # a weft ask --workflow run ends as the ask did: with its answer
        return ask_end(budget, result, source, as_json, again)  # exits 1 unless ok
    _print_result(result, as_json, placements, again, questions)
    _exit_for(result)


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate_command(file: str) -> None:
    """Check FILE without running it: syntax, types, graph, references, actions."""
    from weft.runtime.engine.compiler import compile_workflow

    prepared = compile_workflow(file)
    edges = sum(len(n.incoming) + len(n.loops_in) for n in prepared.nodes.values())
    count = len(prepared.warnings)  # each was logged (stderr) as it was found
    warned = f", {count} warning{'s' if count != 1 else ''} (above)" if count else ""
    click.echo(
        f"ok: workflow '{prepared.name}' with {len(prepared.nodes)} nodes, {edges} edges, "
        f"{len(prepared.plan.loops)} loops{warned}"
    )


@click.command("schema")
@click.option(
    "--model",
    default="Workflow",
    show_default=True,
    help="Workflow (the YAML format) or a protocol model: ActionSpec, ActionCall, "
    "ActionResult, ProgressEvent, CapabilityCard, RunEvent, AgentCard, CallAccepted, "
    "CallsHeld, CallCancel, DeadLetter.",
)
def schema_command(model: str) -> None:
    """Print a JSON Schema (by default the one of workflow YAML files, for editors)."""
    from weft.protocols import json_schema, workflow_json_schema

    try:
        schema = workflow_json_schema() if model == "Workflow" else json_schema(model)
    except KeyError as exc:
        raise WeftError(str(exc.args[0])) from None
    click.echo(json_text(schema))


def _runs_options(func: Any) -> Any:
    """``-n/--limit``, ``--json`` and ``--journal``: ``weft runs`` and ``weft runs ls``."""
    func = _journal_option(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print as JSON.")(func)
    limit = click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(min=1))
    return limit(func)


@click.group("runs", invoke_without_command=True)
@_runs_options
@click.pass_context
def runs_command(ctx: click.Context, limit: int, as_json: bool, journal_path: str | None) -> None:
    """List recent runs from the journal (also `weft runs ls`); `weft runs prune` deletes
    old finished ones."""
    if ctx.invoked_subcommand is not None:
        return
    _list_runs(limit, as_json, journal_path)


@runs_command.command("ls")
@_runs_options
def runs_ls_command(limit: int, as_json: bool, journal_path: str | None) -> None:
    """List recent runs from the journal, newest first (as `weft runs`).

    Spelt like `weft trace ls` and `weft memory ls`, which a user types by habit.
    """
    _list_runs(limit, as_json, journal_path)


def _list_runs(limit: int, as_json: bool, journal_path: str | None) -> None:
    journal = _open_journal(journal_path)
    try:
        records = journal.list_runs(limit)
    finally:
        journal.close()
    if as_json:
        click.echo(
            json_text(
                [
                    {
                        "run_id": r.run_id,
                        "workflow": r.workflow,
                        "state": r.state.value,
                        "started_at": r.started_at,
                        "finished_at": r.finished_at,
                        "source": r.source,
                    }
                    for r in records
                ],
                indent=2,
            )
        )
        return
    from weft.cli._display import print_runs

    print_runs(records)


@runs_command.command("prune")
@prune_options
@_journal_option
def runs_prune_command(
    older_than: float | None,
    keep: int | None,
    dry_run: bool,
    as_json: bool,
    journal_path: str | None,
) -> None:
    """Delete finished runs from the journal and shrink the file.

    Running runs are never deleted, nor is a run `weft resume` has taken.
    """
    require_a_rule(older_than, keep)
    journal = _open_journal(journal_path)
    try:
        report = journal.prune(before=before_of(older_than), keep=keep or 0, dry_run=dry_run)
    finally:
        journal.close()
    print_report(report, "the journal", ("event", "events"), journal.path, as_json)


def register(group: click.Group) -> None:
    for command in (run_command, resume_command, validate_command, schema_command, runs_command):
        group.add_command(command)
