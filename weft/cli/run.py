"""``weft run | validate | schema | resume | runs``: workflows from the terminal."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from weft.protocols import InputError, WeftError


def _parse_inputs(pairs: tuple[str, ...], input_file: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if input_file:
        path = Path(input_file)
        if not path.exists():
            raise InputError(f"--input-file {input_file}: no such file")
        import yaml

        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise InputError(f"--input-file {input_file}: not valid JSON or YAML: {exc}") from None
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


def _open_tracer() -> Any:
    """The local trace store (plus OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
    from weft.runtime.tracing.store import open_default_tracer

    return open_default_tracer()


def _open_journal(path: str | None) -> Any:
    from weft.runtime.engine.journal import Journal
    from weft.runtime.support.home import default_journal_path

    return Journal(path or default_journal_path())


def _result_json(result: Any) -> str:
    return json.dumps(
        {
            "run_id": result.run_id,
            "workflow": result.workflow,
            "state": result.state.value,
            "outputs": result.outputs,
            "error": result.error,
            "duration_s": round(result.duration, 6),
            "usage": result.usage.model_dump(),
            "nodes": {
                name: {
                    "state": n.state.value,
                    "attempts": n.attempts,
                    "cached": n.cached,
                    "error": n.error.model_dump() if n.error else None,
                    "reason": n.reason,
                }
                for name, n in result.nodes.items()
            },
        },
        indent=2,
        default=str,
    )


def _remote_options(func: Any) -> Any:
    """``--broker``, ``--namespace``, ``--wait-agents``: call actions served by agents."""
    func = click.option(
        "--wait-agents",
        type=click.FloatRange(min=0),
        default=30.0,
        show_default=True,
        help="With --broker: seconds to wait for agents serving actions the file lacks.",
    )(func)
    func = click.option(
        "--namespace",
        envvar="WEFT_NAMESPACE",
        default="default",
        show_default=True,
        help="With --broker: the agents' topic namespace (env WEFT_NAMESPACE).",
    )(func)
    return click.option(
        "--broker",
        envvar="WEFT_BROKER",
        default=None,
        help="MQTT v5 broker URL: actions served by live agents there are called remotely "
        "(env WEFT_BROKER).",
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


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        click.echo(_result_json(result))
        return
    from weft.cli._display import print_summary

    print_summary(result)


def _exit_for(result: Any) -> None:
    if not result.ok:
        sys.exit(1)


async def _run_with_display(coro_factory: Any, live: bool) -> Any:
    from weft.cli._display import RunDisplay

    if not live:
        return await coro_factory([])
    display = RunDisplay()
    with display:
        return await coro_factory([display.on_event])


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--input", "-i", "inputs", multiple=True, help="Workflow input KEY=VALUE (repeat).")
@click.option("--input-file", type=click.Path(dir_okay=False), help="JSON or YAML inputs file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Max action calls at once.")
@click.option("--run-id", help="Use this run id instead of a random one.")
@_journal_option
@_remote_options
def run_command(
    file: str,
    inputs: tuple[str, ...],
    input_file: str | None,
    as_json: bool,
    concurrency: int | None,
    run_id: str | None,
    journal_path: str | None,
    broker: str | None,
    namespace: str,
    wait_agents: float,
) -> None:
    """Run the workflow in FILE (YAML, or Python defining `workflow`)."""
    from weft.runtime.engine.runner import run_workflow

    values = _parse_inputs(inputs, input_file)
    journal = _open_journal(journal_path)
    tracer = _open_tracer()
    live = sys.stderr.isatty() and not as_json

    async def go(listeners: list[Any]) -> Any:
        async with _remote_actions(broker, file, namespace, wait_agents) as actions:
            return await run_workflow(
                file,
                values,
                actions=actions,
                journal=journal,
                listeners=listeners,
                concurrency=concurrency,
                run_id=run_id,
                inputs_from_text=True,
                tracer=tracer,
            )

    result = _run_cancellable(go, live, journal, tracer)
    _print_result(result, as_json)
    _exit_for(result)


def _run_cancellable(go: Any, live: bool, journal: Any, tracer: Any = None) -> Any:
    try:
        return asyncio.run(_run_with_display(go, live))
    except KeyboardInterrupt:
        runs = journal.list_runs(limit=1)
        if runs:
            click.secho(
                f"interrupted; resume with: weft resume {runs[0].run_id}", fg="yellow", err=True
            )
        sys.exit(130)
    finally:
        journal.close()
        if tracer is not None:
            tracer.close()


@click.command("resume")
@click.argument("run_id")
@click.option("--force", is_flag=True, help="Resume even if the workflow file changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Max action calls at once.")
@_journal_option
@_remote_options
def resume_command(
    run_id: str,
    force: bool,
    as_json: bool,
    concurrency: int | None,
    journal_path: str | None,
    broker: str | None,
    namespace: str,
    wait_agents: float,
) -> None:
    """Finish RUN_ID without repeating the calls that already finished."""
    from weft.runtime.engine.runner import resume_run

    journal = _open_journal(journal_path)
    live = sys.stderr.isatty() and not as_json
    source = journal.get_run(run_id).source if broker else None
    if broker and source is None:
        raise WeftError(f"run {run_id} was started from Python code; --broker needs its file")
    tracer = _open_tracer()

    async def go(listeners: list[Any]) -> Any:
        async with _remote_actions(broker, source, namespace, wait_agents) as actions:
            return await resume_run(
                run_id,
                journal=journal,
                actions=actions,
                listeners=listeners,
                force=force,
                concurrency=concurrency,
                tracer=tracer,
            )

    result = _run_cancellable(go, live, journal, tracer)
    _print_result(result, as_json)
    _exit_for(result)


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate_command(file: str) -> None:
    """Check FILE without running it: syntax, types, graph, references, actions."""
    from weft.runtime.engine.compiler import compile_workflow

    prepared = compile_workflow(file)
    edges = sum(len(n.incoming) + len(n.loops_in) for n in prepared.nodes.values())
    click.echo(
        f"ok: workflow '{prepared.name}' with {len(prepared.nodes)} nodes, {edges} edges, "
        f"{len(prepared.plan.loops)} loops"
    )


@click.command("schema")
@click.option(
    "--model",
    default="Workflow",
    show_default=True,
    help="Workflow (the YAML format) or a protocol model: ActionSpec, ActionCall, "
    "ActionResult, ProgressEvent, CapabilityCard, RunEvent, AgentCard, CallAccepted, "
    "CallCancel, DeadLetter.",
)
def schema_command(model: str) -> None:
    """Print a JSON Schema (by default the one of workflow YAML files, for editors)."""
    from weft.protocols import json_schema, workflow_json_schema

    try:
        schema = workflow_json_schema() if model == "Workflow" else json_schema(model)
    except KeyError as exc:
        raise WeftError(str(exc.args[0])) from None
    click.echo(json.dumps(schema, indent=2))


@click.command("runs")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@_journal_option
def runs_command(limit: int, as_json: bool, journal_path: str | None) -> None:
    """List recent runs from the journal."""
    journal = _open_journal(journal_path)
    try:
        records = journal.list_runs(limit)
    finally:
        journal.close()
    if as_json:
        click.echo(
            json.dumps(
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


def register(group: click.Group) -> None:
    for command in (run_command, resume_command, validate_command, schema_command, runs_command):
        group.add_command(command)
