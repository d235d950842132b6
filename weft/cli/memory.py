"""``weft memory add|match|ls|show|rm|prune|export|import`` and ``weft feedback RUN good|bad``.

The output of ``add`` (the record id) and ``match --json`` is a fixed
contract that other tools call (docs/cli.md):

- ``weft memory add "TASK" [--plan PLAN.json] [--outcome good|bad]`` prints the id;
- ``weft memory match "TASK" --json`` prints ``{"reuse": {"record": ID, "task": TEXT,
  "similarity": S}}`` or ``{"reuse": null}``; with ``--file TASKS.jsonl`` (one
  ``{"text": ...}`` per line) one such object per line, in order.

Every command takes ``--memory DIR`` (default ``$WEFT_HOME/memory``) and
``--chroma-url URL`` (default ``$WEFT_CHROMA_URL``; a server instead of the
embedded store). The reuse rule needs no model: it runs offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from weft.cli._json import json_text
from weft.cli._types import Finite
from weft.protocols import WeftError

_memory_option = click.option(
    "--memory",
    "memory_dir",
    type=click.Path(file_okay=False),
    help="Memory folder (embedded Chroma). Default: $WEFT_HOME/memory.",
)
_url_option = click.option(
    "--chroma-url", envvar="WEFT_CHROMA_URL", help="Chroma server URL [env: WEFT_CHROMA_URL]."
)


#: How long a command waits for another process to let go of an embedded memory folder.
LOCK_WAIT_S = 10.0


def _open(
    memory_dir: str | None,
    chroma_url: str | None,
    threshold: float | None = None,
    *,
    create: bool = False,
) -> Any:
    """The memory a command works on; only ``add`` and ``import`` may create one."""
    from weft.runtime.memory import ExperienceMemory, ReusePolicy

    policy = ReusePolicy() if threshold is None else ReusePolicy(threshold=threshold)
    if memory_dir is not None and chroma_url:
        chroma_url = None  # an explicit folder wins over the environment
    return ExperienceMemory.open(
        memory_dir,
        url=chroma_url,
        policy=policy,
        create=create,
        wait=LOCK_WAIT_S,
        on_wait=lambda message: click.echo(f"note: {message}", err=True),
    )


def _read_plan(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise WeftError(f"--plan {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise WeftError(f"--plan {path}: not JSON: {exc}") from None
    if isinstance(data, list):
        data = {"subtasks": data}
    if not isinstance(data, dict) or not isinstance(data.get("subtasks"), list):
        raise WeftError(f"--plan {path}: expected {{'subtasks': [...]}} (a plan) or a list")
    from pydantic import ValidationError

    from weft.runtime.orchestrator.plan import Plan

    try:
        return Plan.model_validate(data).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise WeftError(f"--plan {path}: {where}: {err['msg']}") from None


@click.group("memory")
def memory_group() -> None:
    """Experience memory: past tasks and plans, reused for similar tasks."""


@memory_group.command("add")
@click.argument("task")
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), help="The plan (JSON).")
@click.option("--outcome", type=click.Choice(["good", "bad"]), help="How the task went.")
@_memory_option
@_url_option
def add_command(
    task: str,
    plan_file: str | None,
    outcome: str | None,
    memory_dir: str | None,
    chroma_url: str | None,
) -> None:
    """Record a finished TASK by hand and print its record id."""
    from weft.runtime.memory import MemoryRecord, single_subtask_plan

    if not task.strip():
        raise WeftError("the task is empty")
    plan = _read_plan(plan_file) if plan_file else single_subtask_plan(task)
    record = MemoryRecord(
        task=task,
        plan=plan,
        outcome=outcome,  # type: ignore[arg-type]
        quality=None if outcome is None else 1.0 if outcome == "good" else 0.0,
        source="manual",
    )
    click.echo(_open(memory_dir, chroma_url, create=True).add(record))


def _match_object(decision: Any, record: Any, verbose: bool) -> dict[str, Any]:
    if record is None:
        out: dict[str, Any] = {"reuse": None}
        if verbose:
            out["why"] = decision.why
        return out
    reuse: dict[str, Any] = {
        "record": record.id,
        "task": record.task,
        "similarity": round(decision.similarity, 4),
    }
    if verbose:
        reuse["why"] = decision.why
        reuse["borderline"] = decision.borderline
    return {"reuse": reuse}


def _read_tasks(path: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WeftError(f"--file {path}: {exc.strerror or exc}") from None
    tasks = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            text = json.loads(line)["text"]
        except (ValueError, KeyError, TypeError):
            raise WeftError(f'{path}:{number}: expected {{"text": "..."}}') from None
        if not isinstance(text, str) or not text.strip():
            raise WeftError(f"{path}:{number}: 'text' must be a non-empty string")
        tasks.append(text)
    return tasks


@memory_group.command("match")
@click.argument("task", required=False)
@click.option("--file", "tasks_file", type=click.Path(dir_okay=False), help="JSONL of tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the fixed contract).")
@click.option("--why", is_flag=True, help="Also say why (adds 'why' to the JSON).")
@click.option("--threshold", type=Finite(0, 1), help="Similarity that settles a match.")
@_memory_option
@_url_option
def match_command(
    task: str | None,
    tasks_file: str | None,
    as_json: bool,
    why: bool,
    threshold: float | None,
    memory_dir: str | None,
    chroma_url: str | None,
) -> None:
    """Would a past plan be reused for TASK (or each task of --file)?"""
    if (task is None) == (tasks_file is None):
        raise WeftError("give one TASK or --file TASKS.jsonl")
    tasks = [task] if task is not None else _read_tasks(tasks_file or "")
    memory = _open(memory_dir, chroma_url, threshold)
    for decision, record in memory.match_many(tasks):
        obj = _match_object(decision, record, why)
        if as_json:
            click.echo(json_text(obj, indent=None))
        elif record is None:
            click.echo(f"no reuse: {decision.why}")
        else:
            click.echo(f"reuse {record.id} ({decision.similarity:.2f}): {record.task}")
            click.echo(f"  {decision.why}")


@memory_group.command("ls")
@click.option("--json", "as_json", is_flag=True)
@_memory_option
@_url_option
def ls_command(as_json: bool, memory_dir: str | None, chroma_url: str | None) -> None:
    """List the records: id, outcome, uses, task."""
    records = _open(memory_dir, chroma_url).records()
    if as_json:
        click.echo(json_text([r.model_dump(mode="json") for r in records]))
        return
    for r in records:
        click.echo(f"{r.id}  {r.outcome or '-':4}  uses {r.uses:<3}  {r.task[:90]}")
    click.echo(f"{len(records)} record(s)", err=True)


@memory_group.command("show")
@click.argument("record_id")
@_memory_option
@_url_option
def show_command(record_id: str, memory_dir: str | None, chroma_url: str | None) -> None:
    """Print one record as JSON."""
    click.echo(json_text(_open(memory_dir, chroma_url).get(record_id).model_dump(mode="json")))


@memory_group.command("rm")
@click.argument("record_ids", nargs=-1, required=True, metavar="ID...")
@_memory_option
@_url_option
def rm_command(record_ids: tuple[str, ...], memory_dir: str | None, chroma_url: str | None) -> None:
    """Delete records by id (a record added by hand has no run for ``weft feedback``).

    Every id is checked first: one unknown id deletes nothing.
    """
    memory = _open(memory_dir, chroma_url)
    for record_id in record_ids:
        memory.get(record_id)  # names an unknown id before anything goes
    memory.delete(list(dict.fromkeys(record_ids)))
    click.echo(f"deleted {len(set(record_ids))} record(s), kept {len(memory)}")


@memory_group.command("prune")
@click.option("--keep", type=Finite(0, 1, min_open=True), default=0.12, show_default=True)
@_memory_option
@_url_option
def prune_command(keep: float, memory_dir: str | None, chroma_url: str | None) -> None:
    """Keep the most valuable KEEP fraction of the records (quality x use), drop the rest.

    A dropped near-duplicate is merged into the kept record of its plan: its use
    counts add up and its wording keeps matching that record.
    """
    memory = _open(memory_dir, chroma_url)
    dropped = memory.prune(keep)
    click.echo(f"dropped {len(dropped)}, kept {len(memory)}")


@memory_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@_memory_option
@_url_option
def export_command(file: str, memory_dir: str | None, chroma_url: str | None) -> None:
    """Write every record to FILE (JSON lines)."""
    click.echo(f"exported {_open(memory_dir, chroma_url).export(file)} record(s) to {file}")


@memory_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@_memory_option
@_url_option
def import_command(file: str, memory_dir: str | None, chroma_url: str | None) -> None:
    """Add the records of FILE (an export); records with the same id are replaced."""
    from weft.runtime.memory.store import read_records

    records = list(read_records(file))  # check the whole file before opening the store
    memory = _open(memory_dir, chroma_url, create=True)
    for record in records:
        memory.add(record)
    click.echo(f"imported {len(records)} record(s)")


@click.command("feedback")
@click.argument("run_id")
@click.argument("verdict", type=click.Choice(["good", "bad"]))
@_memory_option
@_url_option
def feedback_command(
    run_id: str, verdict: str, memory_dir: str | None, chroma_url: str | None
) -> None:
    """Say whether run RUN_ID (or `last`: the newest ask in memory) went well: a bad
    run's plan is never reused."""
    memory = _open(memory_dir, chroma_url)
    if run_id == "last":  # what a user types after an ask, as for resume and trace show
        run_id = _newest_ask(memory.records())
    record = memory.feedback(run_id, verdict)
    click.echo(f"{record.id}: {verdict}")
    _route_feedback(memory.client, record, verdict == "good")


def _newest_ask(records: list[Any]) -> str:
    """The run id of the newest record an ask made (``weft feedback last``)."""
    asked = [r for r in records if r.run_id is not None and r.source == "ask"]
    if not asked:
        raise WeftError("no ask is recorded in this memory yet: 'last' names none")
    return str(max(asked, key=lambda r: r.created).run_id)


def _route_feedback(client: Any, record: Any, good: bool) -> None:
    """Tell the router's outcome memory (same store) how each routed subtask went.

    A good run counts for the agents of its subtasks that succeeded, a bad one
    against all of them. A subtask that failed in a run judged good is left out:
    its call's failure was counted when it ran. (A run finished by ``weft
    resume`` shows as it finally went: the resume rewrites its record.)
    Skipped without the MiniLM model (nothing to embed with).
    """
    import asyncio

    from weft.protocols import RouteRequest
    from weft.runtime.routing.capability_index import CapabilityIndex
    from weft.runtime.routing.capability_router import CapabilityRouter
    from weft.runtime.routing.embeddings import EmbeddingError, make_embedder
    from weft.runtime.routing.outcome_memory import open_outcomes

    plan = {s.get("id"): s for s in record.plan.get("subtasks", []) if isinstance(s, dict)}
    todo = [
        (plan[s.id], s.agent, good and s.succeeded)
        for s in record.subtasks
        if s.agent and s.id in plan and plan[s.id].get("description")
        if s.succeeded or not good
    ]
    if not todo:
        return
    try:
        embedder = make_embedder("minilm")
        router = CapabilityRouter(CapabilityIndex(embedder), outcomes=None)
        router.outcomes = open_outcomes(client, embedder)
    except EmbeddingError:
        return

    async def record_all() -> None:
        for subtask, agent, success in todo:
            request = RouteRequest(
                text=subtask["description"], capability=subtask.get("capability") or None
            )
            await router.record_outcome(request, agent, success, source="feedback")

    try:
        asyncio.run(record_all())
    finally:
        router.close()


def register(group: click.Group) -> None:
    group.add_command(memory_group)
    group.add_command(feedback_command)
