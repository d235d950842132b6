"""The likelihood stage with a larger scorer (``--rerank-model``) against the default, per set.

    python bench/routing_rerank_model.py --model /path/to/model.gguf
    python bench/routing_rerank_model.py --model M.gguf --sets project --cache /tmp/scores.json
    python bench/routing_rerank_model.py --sets user,fourth     # the default scorer alone

Every subtask of each labelled set of ``routing_sets.py`` (fitting and no-fit)
is routed as ``weft route --batch`` routes it: a MiniLM ``CapabilityRouter``
with the likelihood stage, through ``route_many`` (the stage's batch path), once
with the default scorer (SmolLM2-135M in numpy, weight 0.75) and once with
``LlamaCppScorer`` over ``--model`` (``larger_model_stage``: the weight
``LARGER_MODEL_WEIGHT``). The stage's answers are then reused to route the
same subtasks at the other weights of ``--weights`` (the scores do not depend
on the weight), so the weight is chosen on the project set's ``tune`` half
and the other sets and halves are read at that weight.

``--cache FILE`` keeps every (subtask, card prompt) likelihood on disk: a
larger model takes seconds per decision, so a stopped run resumes where it
was. Prints a markdown table; seconds per decision are the stage's own (first
pass, cache empty), on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from routing import CachedEmbedder, cap_blas, machine  # noqa: E402
from routing_sets import SETS, half, score  # noqa: E402

from weft.protocols import CapabilityCard, RouteRequest  # noqa: E402
from weft.runtime.routing.capability_router import CapabilityRouter  # noqa: E402
from weft.runtime.routing.embeddings import MiniLMEmbedder  # noqa: E402
from weft.runtime.routing.likelihood import LikelihoodChooser, card_prompt  # noqa: E402
from weft.runtime.routing.likelihood.chooser import Scorer  # noqa: E402

WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


class CachingScorer:
    """A scorer that keeps its answers per (subtask, card prompt), on disk when given a file."""

    def __init__(self, inner: Scorer, label: str, path: Path | None) -> None:
        self.inner, self.label, self.path = inner, label, path
        self.known: dict[str, float] = {}
        self.scored = 0  # (subtask, card) pairs the model scored in this run
        self.seconds = 0.0
        if path and path.exists():
            self.known = json.loads(path.read_text()).get(label, {})

    @property
    def model(self) -> Any:
        return self.inner.model

    def _key(self, subtask: str, card: CapabilityCard) -> str:
        return json.dumps([subtask, card_prompt(card)])

    def score(self, subtask: str, cards: Sequence[CapabilityCard]) -> list[float]:
        return self.score_many([(subtask, cards)])[0]

    def score_many(self, jobs: Sequence[tuple[str, Sequence[CapabilityCard]]]) -> list[list[float]]:
        todo = [
            (text, [c for c in cards if self._key(text, c) not in self.known])
            for text, cards in jobs
        ]
        todo = [(text, cards) for text, cards in todo if cards]
        if todo:
            started = time.perf_counter()
            many = getattr(self.inner, "score_many", None)
            answers = many(todo) if many else [self.inner.score(t, c) for t, c in todo]
            self.seconds += time.perf_counter() - started
            for (text, cards), row in zip(todo, answers, strict=True):
                for card, value in zip(cards, row, strict=True):
                    self.known[self._key(text, card)] = value
                self.scored += len(cards)
            self.save()
        return [[self.known[self._key(text, c)] for c in cards] for text, cards in jobs]

    def save(self) -> None:
        if self.path is None:
            return
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        data[self.label] = self.known
        self.path.write_text(json.dumps(data))


async def route_set(
    embedder: Any, stage: LikelihoodChooser, name: str, chunk: int, limit: int | None = None
) -> tuple[list[dict[str, Any]], dict[float, list[str | None]], float]:
    """Chosen agents per weight for set ``name``; seconds per decision of the first pass."""
    cards, tasks = SETS[name]()
    tasks = tasks[:limit]
    scorer = stage.scorer
    if isinstance(scorer, CachingScorer):  # this set's own model time
        scorer.scored, scorer.seconds = 0, 0.0
    router = CapabilityRouter.open(embedder, chooser=stage)
    chosen: dict[float, list[str | None]] = {}
    try:
        router.add_cards(cards)
        requests = [RouteRequest(text=t["text"]) for t in tasks]
        started = time.perf_counter()
        for i in range(0, len(requests), chunk):  # chunks: the cache is saved after each
            await router.route_many(requests[i : i + chunk])
        seconds = (time.perf_counter() - started) / max(len(requests), 1)
        shipped = stage.weight
        for weight in sorted({*WEIGHTS, shipped}):
            stage.weight = weight
            decisions = await router.route_many(requests)
            chosen[weight] = [d.chosen.agent_id if d.chosen else None for d in decisions]
        stage.weight = shipped
    finally:
        router.close()
    return tasks, chosen, seconds


def cells(tasks: list[dict[str, Any]], chosen: list[str | None], part: str | None) -> str:
    idx = [i for i, t in enumerate(tasks) if part is None or half(t["id"]) == part]
    r = score([tasks[i] for i in idx], [chosen[i] for i in idx])
    hard = f"{r['hard']:.3f}" if "hard" in r else "-"
    none = f"{r['none']:.3f}" if "none" in r else "-"
    return f"{r['top1']:.3f} | {hard} | {none} | {r['false_none']:.3f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="GGUF file for the larger scorer")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--cache", type=Path, help="JSON file keeping the likelihoods")
    parser.add_argument("--chunk", type=int, default=32, help="subtasks per route_many")
    parser.add_argument("--no-default", action="store_true", help="only the --model scorer")
    parser.add_argument("--limit", type=int, help="route only each set's first N subtasks")
    args = parser.parse_args()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    if not names or any(n not in SETS for n in names):
        parser.error(f"--sets {args.sets}: give a comma list of {', '.join(SETS)}")
    env = cap_blas()
    embedder = CachedEmbedder(MiniLMEmbedder().load())
    stages: list[tuple[str, LikelihoodChooser]] = []
    if not args.no_default:
        default = LikelihoodChooser()
        default.scorer = CachingScorer(default.scorer, "smollm2-135m-numpy", args.cache)
        stages.append(("SmolLM2-135M (default)", default))
    if args.model:
        from weft.runtime.routing.likelihood.llama_cpp_scorer import larger_model_stage

        larger = larger_model_stage(args.model)
        larger.scorer = CachingScorer(larger.scorer, args.model.stem, args.cache)
        stages.append((args.model.stem, larger))
    print(
        "| set / half | scorer | weight | top-1 | hard items | no-fit -> none | "
        "fitting -> none |\n|---|---|---|---|---|---|---|",
        flush=True,
    )
    costs: list[str] = []
    for name in names:
        for label, stage in stages:
            tasks, chosen, seconds = await route_set(embedder, stage, name, args.chunk, args.limit)
            scorer = stage.scorer
            assert isinstance(scorer, CachingScorer)
            costs.append(
                f"{name}, {label}: {seconds:.2f} s per decision "
                f"({scorer.scored} pairs scored in this run, {scorer.seconds:.0f} s in the model)"
            )
            print(f"cost: {costs[-1]}", file=sys.stderr, flush=True)
            for weight, picks in chosen.items():
                mark = " (shipped)" if weight == stage.weight else ""
                for part in (None, "tune", "holdout") if name == "project" else (None,):
                    row = f"{name}{', ' + part if part else ''}"
                    print(f"| {row} | {label} | {weight:g}{mark} | {cells(tasks, picks, part)} |")
    embedder.save()
    print("\n" + "\n".join(costs))
    print(f"\n_{machine()} · {env}_")


if __name__ == "__main__":
    asyncio.run(main())
