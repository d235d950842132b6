"""Routing accuracy on four labelled sets, before and after outcome feedback, plus latency.

    python bench/routing_sets.py                 # all sets, feedback experiment, 1k-card latency
    python bench/routing_sets.py --no-latency --sets third   # one set alone
    python bench/routing_sets.py --sizes 1000,100000
    python bench/routing_sets.py --no-latency --rerank   # with the likelihood stage
    python bench/routing_sets.py --latency-only --rerank --sizes 1000,100000
    python bench/routing_sets.py --no-latency --rerank --no-rescue  # the stage without
                                    # overruling the embedding scores' "no agent fits"

Sets:

- ``project``: bench/data/agents.yaml + subtasks.yaml (planner-style, with
  explicit not_skills and examples), routed from the subtask text alone (no
  capability phrase), as the users' sets are. Weights were tuned on its
  ``tune`` half only. Plus 12 subtasks no card fits (project_nofit.jsonl).
- ``user``: bench/data/user_cards.yaml + user_tasks.jsonl, written before any
  tuning in the style users write cards (id, name, prose description with
  negations, skills, tags; no examples, no not_skills); 50% of the subtasks are
  marked hard (close pairs), plus 8 subtasks no card fits. Never tuned on.
- ``third``: bench/data/third_cards.yaml + third_tasks.jsonl, written blind on
  2026-12-07 (before any router ran on it) in the users' card style, other
  domains (HR, legal, accounting, devops, security, marketing, travel, ...);
  45% hard, plus 16 subtasks no card fits (third_nofit.jsonl). Never tuned on:
  a check that changes generalise. No recurring-subtask part.
- ``fourth``: bench/data/fourth_cards.yaml + fourth_tasks.jsonl, written blind
  on 2026-12-07 as the closest proxy of the held-out set: generic
  assistant-tool domains with its close pairs (code review / test writing,
  statistics / calculation, translation / summarising / ticket triage, weather /
  unit conversion) and more (regex / SQL / spreadsheets, email drafting / inbox,
  resume / cover letter, captions / OCR, budgeting / tax, git / CI, ...); 37.5%
  hard, plus 16 subtasks no card fits (fourth_nofit.jsonl). Never tuned on.

Nearest labelled subtask alone: each subtask of one half gets the right agent of its
nearest subtask (MiniLM cosine) in the other half, with no card at all: an upper bound
of what outcomes on one half can teach about the other, when only similar past
subtasks carry them.

Feedback experiments: route every subtask of one half, record the outcome of
the chosen agent (success = it was right) and, when it was wrong, a success
for the right agent (what ``weft feedback`` records), then route the other
half; and record that for every user subtask, then route
``user_tasks_again.jsonl``: one recurring subtask per hard one, the same kind
of request with other specifics, as users repeat them.

Latency: ``route`` (query embedding cached; HNSW + exact rescoring + second
stage) over synthetic cards, as in bench/routing.py; then again after
``--outcomes`` outcomes were recorded (nearest-outcome lookup + learned documents).

LLM stage (``--llm BASE_URL``): the router's own ``LLMChooser``, built as
``weft route --llm --base-url BASE_URL`` builds it, on the same subtasks as a
router without it (at most ``--llm-limit`` per set: the first by SHA-256 of
their id, so a fixed sample that mixes hard and no-fit items). Prints, per set,
top-1 without and with the LLM stage, hard items, no-fit items, seconds per
decision, and every subtask whose decision the model changed.

    python bench/routing_sets.py --no-latency --llm http://127.0.0.1:8790/v1 --llm-limit 60
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from routing import CachedEmbedder, cap_blas, machine, pct  # noqa: E402

from weft.cli._cards_file import user_card_fields  # noqa: E402
from weft.protocols import CapabilityCard, RouteRequest  # noqa: E402
from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights  # noqa: E402
from weft.runtime.routing.embeddings import MiniLMEmbedder  # noqa: E402

DATA = ROOT / "data"


def half(task_id: str) -> str:
    return "tune" if hashlib.sha256(task_id.encode()).digest()[0] % 2 == 0 else "holdout"


def project_set() -> tuple[list[CapabilityCard], list[dict[str, Any]]]:
    agents = yaml.safe_load((DATA / "agents.yaml").read_text())["agents"]
    tasks = yaml.safe_load((DATA / "subtasks.yaml").read_text())["subtasks"]
    nofit = [json.loads(x) for x in (DATA / "project_nofit.jsonl").read_text().splitlines() if x]
    return [CapabilityCard(**a) for a in agents], [
        {"id": t["id"], "text": t["text"], "agent": t["agent"], "hard": False} for t in tasks
    ] + nofit


def user_set() -> tuple[list[CapabilityCard], list[dict[str, Any]]]:
    raw = yaml.safe_load((DATA / "user_cards.yaml").read_text())["cards"]
    cards = [CapabilityCard.model_validate(user_card_fields(c)) for c in raw]
    lines = (DATA / "user_tasks.jsonl").read_text().splitlines()
    return cards, [json.loads(x) for x in lines if x.strip()]


def written_set(prefix: str) -> tuple[list[CapabilityCard], list[dict[str, Any]]]:
    """A set written in the users' card style: ``PREFIX_cards.yaml``, ``PREFIX_tasks.jsonl``
    and ``PREFIX_nofit.jsonl`` (the third and fourth sets)."""
    raw = yaml.safe_load((DATA / f"{prefix}_cards.yaml").read_text())["cards"]
    cards = [CapabilityCard.model_validate(user_card_fields(c)) for c in raw]
    tasks = [
        json.loads(x)
        for name in (f"{prefix}_tasks.jsonl", f"{prefix}_nofit.jsonl")
        for x in (DATA / name).read_text().splitlines()
        if x.strip()
    ]
    return cards, tasks


def third_set() -> tuple[list[CapabilityCard], list[dict[str, Any]]]:
    return written_set("third")


def fourth_set() -> tuple[list[CapabilityCard], list[dict[str, Any]]]:
    return written_set("fourth")


SETS = {"project": project_set, "user": user_set, "third": third_set, "fourth": fourth_set}


def score(tasks: list[dict[str, Any]], chosen: list[str | None]) -> dict[str, float]:
    fit = [(t, c) for t, c in zip(tasks, chosen, strict=True) if t["agent"]]
    none = [c for t, c in zip(tasks, chosen, strict=True) if not t["agent"]]
    hard = [(t, c) for t, c in fit if t.get("hard")]
    out = {"top1": float(np.mean([t["agent"] == c for t, c in fit])), "n": float(len(fit))}
    if hard:
        out["hard"] = float(np.mean([t["agent"] == c for t, c in hard]))
    if none:
        out["none"] = float(np.mean([c is None for c in none]))
    out["false_none"] = float(np.mean([c is None for _, c in fit]))
    return out


async def after_feedback(
    embedder: Any,
    cards: list[CapabilityCard],
    weights: ScoringWeights,
    taught: list[tuple[dict[str, Any], str | None]],
    tests: list[dict[str, Any]],
    chooser: Any = None,
) -> dict[str, float]:
    """Scores on ``tests`` after recording what ``weft feedback`` would for ``taught``.

    ``taught``: (task, agent chosen without feedback) pairs; the chosen agent's
    outcome is recorded (success = it was right) and, when it was wrong, a
    success for the right agent.
    """
    fb = CapabilityRouter.open(embedder, weights=weights, chooser=chooser)
    try:
        fb.add_cards(cards)
        for t, c in taught:
            if not t["agent"]:
                continue
            request = RouteRequest(text=t["text"])
            if c is not None:
                await fb.record_outcome(request, c, c == t["agent"], source="feedback")
            if c != t["agent"]:
                await fb.record_outcome(request, t["agent"], True, source="feedback")
        again = await fb.route_many(RouteRequest(text=t["text"]) for t in tests)
        return score(tests, [d.chosen.agent_id if d.chosen else None for d in again])
    finally:
        fb.close()


def nearest_labelled(
    embedder: Any, taught: list[dict[str, Any]], tests: list[dict[str, Any]]
) -> dict[str, float]:
    """Scores on ``tests`` of the right agent of the nearest ``taught`` subtask alone (cosine,
    fitting subtasks only): how far outcomes on one half can carry to the other at best."""
    known = [t for t in taught if t["agent"]]
    if not known or not tests:
        return score(tests, [None] * len(tests))
    a = np.asarray(embedder.embed([t["text"] for t in known]), dtype=np.float32)
    b = np.asarray(embedder.embed([t["text"] for t in tests]), dtype=np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    nearest = (b @ a.T).argmax(axis=1)
    return score(tests, [known[int(i)]["agent"] for i in nearest])


async def evaluate(
    embedder: Any,
    cards: list[CapabilityCard],
    tasks: list[dict[str, Any]],
    weights: ScoringWeights,
    again: list[dict[str, Any]] | None = None,
    chooser: Any = None,
) -> dict[str, Any]:
    router = CapabilityRouter.open(embedder, weights=weights, chooser=chooser)
    try:
        router.add_cards(cards)
        requests = [RouteRequest(text=t["text"]) for t in tasks]
        decisions = await router.route_many(requests)
        chosen = [d.chosen.agent_id if d.chosen else None for d in decisions]
        top5 = [
            t["agent"] in [c.agent_id for c in d.candidates[:5]]
            for t, d in zip(tasks, decisions, strict=True)
            if t["agent"]
        ]
        result: dict[str, Any] = {"all": score(tasks, chosen), "top5": float(np.mean(top5))}
        for part in ("tune", "holdout"):
            idx = [i for i, t in enumerate(tasks) if half(t["id"]) == part]
            result[part] = score([tasks[i] for i in idx], [chosen[i] for i in idx])
        # Feedback on one half, measured on the other (both directions).
        for train, test in (("tune", "holdout"), ("holdout", "tune")):
            idx = [i for i, t in enumerate(tasks) if half(t["id"]) == test]
            taught = [i for i, t in enumerate(tasks) if half(t["id"]) == train]
            result[f"nearest {train}->{test}"] = nearest_labelled(
                embedder, [tasks[i] for i in taught], [tasks[i] for i in idx]
            )
            result[f"feedback {train}->{test}"] = await after_feedback(
                embedder,
                cards,
                weights,
                [(tasks[i], chosen[i]) for i in taught],
                [tasks[i] for i in idx],
                chooser,
            )
        if again:
            taught_all = list(zip(tasks, chosen, strict=True))
            before = await router.route_many(RouteRequest(text=t["text"]) for t in again)
            result["again before"] = score(
                again, [d.chosen.agent_id if d.chosen else None for d in before]
            )
            result["again after"] = await after_feedback(
                embedder, cards, weights, taught_all, again, chooser
            )
        return result
    finally:
        router.close()


def fmt_row(name: str, r: dict[str, float]) -> str:
    def g(k: str) -> str:
        return f"{r[k]:.3f}" if k in r else "-"

    return (
        f"| {name} | {g('top1')} (n={int(r['n'])}) | {g('hard')} | {g('none')} | "
        f"{g('false_none')} |"
    )


async def timed(router: CapabilityRouter, queries: list[str]) -> str:
    """Route ``queries`` (vectors cached): "p50 | p99" in ms, the first 5 as warm-up."""
    times = []
    for q in queries:
        t0 = time.perf_counter()
        await router.route(RouteRequest(text=q))
        times.append((time.perf_counter() - t0) * 1000)
    return f"{pct(times[5:], 50):.2f} | {pct(times[5:], 99):.2f}"


async def latency(
    sizes: list[int], n_queries: int, minilm: Any, outcomes: int, stage: Any = None
) -> list[str]:
    import random
    import shutil
    import tempfile

    from routing import ComposedEmbedder, synthetic_card, synthetic_query

    from weft.runtime.routing.capability_index import CapabilityIndex, card_documents
    from weft.runtime.routing.outcome_memory import OutcomeMemory

    composed = ComposedEmbedder(minilm)
    rows = []
    for n in sizes:
        rng = random.Random(n)
        cards = [synthetic_card(i, rng) for i in range(n)]
        per = len(card_documents(cards[0]))
        store = tempfile.mkdtemp(prefix="weft-bench-route2-")
        try:
            index = CapabilityIndex(composed, path=store)
            for start in range(0, n, 2000):
                chunk = cards[start : start + 2000]
                vecs = composed.embed([d.text for c in chunk for d in card_documents(c)])
                index.upsert_many(chunk, [vecs[i * per : (i + 1) * per] for i in range(len(chunk))])
            router = CapabilityRouter(index)
            queries = [synthetic_query(rng) for _ in range(n_queries)]
            for q in queries:
                await router.query_vector(RouteRequest(text=q))
            rows.append(f"| {n:,} | 0 | {await timed(router, queries)} | {n_queries} |")
            print(rows[-1], flush=True)
            # Again with outcomes remembered: the nearest-outcome lookup and the learned
            # documents of the shortlisted agents (their rows read once, then in memory).
            router.outcomes = OutcomeMemory(
                index.client, model_id=composed.model_id, dimension=index.dimension
            )
            for j in range(outcomes):
                request = RouteRequest(text=synthetic_query(rng))
                agent = (await router.route(request)).candidates[j % 3].agent_id
                await router.record_outcome(request, agent, j % 2 == 0)
            rows.append(f"| {n:,} | {outcomes:,} | {await timed(router, queries)} | {n_queries} |")
            print(rows[-1], flush=True)
            if stage is not None:
                # The likelihood stage on the same router: each query is new to it, and at
                # these sizes so are most of its top 5 cards, whose prompts run then (the
                # stage's prompt cache keeps 256; its answer cache never hits here).
                router.chooser = stage
                again = fresh(queries)
                for q in again:
                    await router.query_vector(RouteRequest(text=q))
                label = f"{outcomes:,}, likelihood stage"
                took = await timed(router, again)
                ranked = sum(
                    bool(d.candidates) and "likelihood" in d.candidates[0].parts
                    for d in [await router.route(RouteRequest(text=q)) for q in again]
                )
                rows.append(f"| {n:,} | {label} | {took} | {n_queries} ({ranked} re-ranked) |")
                print(rows[-1], flush=True)
                router.chooser = None
        finally:
            shutil.rmtree(store, ignore_errors=True)
    return rows


def fresh(queries: list[str]) -> list[str]:
    """``queries`` made new to a cache keyed by text (same words, so the same vectors'
    neighbourhood; the embedding cache computes the new ones before timing)."""
    return [f"{q} (again)" for q in queries]


def llm_sample(tasks: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """At most ``limit`` subtasks: the first by SHA-256 of their id (fixed, mixes the kinds)."""
    if limit is None or limit >= len(tasks):
        return list(tasks)
    ranked = sorted(tasks, key=lambda t: hashlib.sha256(t["id"].encode()).digest())
    return ranked[:limit]


async def route_timed(
    router: CapabilityRouter, requests: list[RouteRequest]
) -> tuple[list[str | None], list[Any], list[float]]:
    """Chosen ids, decisions and seconds per decision, routing one request at a time."""
    chosen: list[str | None] = []
    decisions: list[Any] = []
    seconds: list[float] = []
    for request in requests:
        t0 = time.perf_counter()
        d = await router.route(request)
        seconds.append(time.perf_counter() - t0)
        decisions.append(d)
        chosen.append(d.chosen.agent_id if d.chosen else None)
    return chosen, decisions, seconds


async def llm_stage(
    embedder: Any,
    cards: list[CapabilityCard],
    tasks: list[dict[str, Any]],
    weights: ScoringWeights,
    chooser: Any,
) -> tuple[dict[str, Any], list[str]]:
    """The same subtasks routed without and with ``chooser``: scores, timings, changes.

    Two routers over the same cards, so the embedding decision is exactly what
    the LLM stage started from (a chooser never changes the ranking before it).
    The query vectors are cached by then (``evaluate`` embedded every text), as
    in steady use, so "s per decision" is routing plus the model call.
    """
    requests = [RouteRequest(text=t["text"], k=max(5, chooser.k)) for t in tasks]
    result: dict[str, Any] = {}
    calls_before = chooser.calls
    runs: dict[str, tuple[list[str | None], list[Any], list[float]]] = {}
    for name, stage in (("embedding", None), ("llm", chooser)):
        router = CapabilityRouter.open(embedder, weights=weights, chooser=stage)
        try:
            router.add_cards(cards)
            runs[name] = await route_timed(router, requests)
        finally:
            router.close()
        chosen, _, seconds = runs[name]
        result[name] = score(tasks, chosen)
        result[f"{name} s"] = float(np.mean(seconds))
        result[f"{name} s max"] = float(np.max(seconds))
    skipped = [
        d.candidates[0].parts.get("llm_skipped")
        for d in runs["llm"][1]
        if d.candidates and "llm_skipped" in d.candidates[0].parts
    ]
    result["skipped"] = len(skipped)
    result["calls"] = chooser.calls - calls_before
    changes = []
    for t, before, after in zip(tasks, runs["embedding"][0], runs["llm"][0], strict=True):
        if before != after:
            mark = "+" if after == t["agent"] else ("-" if before == t["agent"] else "~")
            changes.append(
                f"{mark} {t['id']}{' (hard)' if t.get('hard') else ''}: right {t['agent']}, "
                f"embedding {before}, llm {after} | {t['text'][:90]}"
            )
    return result, changes


def llm_rows(name: str, tasks: list[dict[str, Any]], r: dict[str, Any]) -> list[str]:
    def g(part: str, key: str) -> str:
        return f"{r[part][key]:.3f}" if key in r[part] else "-"

    hard = sum(1 for t in tasks if t.get("hard") and t["agent"])
    nofit = sum(1 for t in tasks if not t["agent"])
    return [
        f"| {name} | {len(tasks)} ({hard} hard, {nofit} no-fit) | "
        f"{g('embedding', 'top1')} -> {g('llm', 'top1')} | "
        f"{g('embedding', 'hard')} -> {g('llm', 'hard')} | "
        f"{g('embedding', 'none')} -> {g('llm', 'none')} | "
        f"{g('embedding', 'false_none')} -> {g('llm', 'false_none')} | "
        f"{r['embedding s']:.3f} -> {r['llm s']:.2f} (max {r['llm s max']:.1f}) | "
        f"{r['calls']} ({r['skipped']} skipped) |"
    ]


def make_chooser(base_url: str, model: str | None, top: int | None) -> Any:
    """The LLM stage exactly as ``weft route --llm --base-url ... --model ...`` builds it."""
    from weft.cli.route import _chooser

    chooser = _chooser(model, base_url, 1_000_000)
    if top is not None:
        chooser.k = top
    return chooser


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument(
        "--latency-only", action="store_true", help="only the latency rows, not the two sets"
    )
    parser.add_argument("--outcomes", type=int, default=1000, help="outcomes for the 2nd row")
    parser.add_argument("--llm", metavar="BASE_URL", help="OpenAI-compatible server: LLM stage")
    parser.add_argument("--llm-model", metavar="NAME", help="model name for --llm")
    parser.add_argument(
        "--llm-top", metavar="K", type=int, help="cards shown to the model (router's default)"
    )
    parser.add_argument(
        "--llm-limit", metavar="N", type=int, help="route at most N subtasks per set with --llm"
    )
    parser.add_argument(
        "--rerank",
        action="store_true",
        help="every router with the likelihood stage (weft route's default when installed)",
    )
    parser.add_argument(
        "--sets", default=",".join(SETS), help=f"comma list of labelled sets ({', '.join(SETS)})"
    )
    parser.add_argument(
        "--no-rescue",
        action="store_true",
        help="with --rerank: the embedding scores' 'no agent fits' always stands",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    if not names or any(n not in SETS for n in names):
        parser.error(f"--sets {args.sets}: give a comma list of {', '.join(SETS)}")
    if args.llm_top is not None and not 1 <= args.llm_top <= 100:
        parser.error(f"--llm-top {args.llm_top}: give 1 to 100")
    if args.llm_limit is not None and args.llm_limit < 1:
        parser.error(f"--llm-limit {args.llm_limit}: give 1 or more")
    env = cap_blas()
    minilm = MiniLMEmbedder().load()
    cached = CachedEmbedder(minilm)
    weights = ScoringWeights()
    lines = (
        []
        if args.latency_only
        else [
            "| set / half | top-1 | hard items | no-fit -> none | fitting -> none |",
            "|---|---|---|---|---|",
        ]
    )
    again_lines = (DATA / "user_tasks_again.jsonl").read_text().splitlines()
    user_again = [json.loads(x) for x in again_lines if x.strip()]
    stage: Any = None
    if args.rerank:
        from weft.runtime.routing.likelihood import LikelihoodChooser

        stage = LikelihoodChooser(rescue_gain=None) if args.no_rescue else LikelihoodChooser()
        lines.insert(
            0,
            f"likelihood stage on (weight {stage.weight}, rescue gain {stage.rescue_gain}, "
            f"top {stage.top})\n",
        )
    for name in () if args.latency_only else names:
        cards, tasks = SETS[name]()
        again = user_again if name == "user" else None
        r = await evaluate(cached, cards, tasks, weights, again, stage)
        lines.append(fmt_row(f"{name}, all (top-5 recall {r['top5']:.3f})", r["all"]))
        for key in ("tune", "holdout", "feedback tune->holdout", "feedback holdout->tune"):
            lines.append(fmt_row(f"{name}, {key}", r[key]))
        for key in ("nearest tune->holdout", "nearest holdout->tune"):
            label = f"{name}, nearest labelled subtask alone, {key[8:]}"
            lines.append(fmt_row(label, r[key]))
        for key in ("again before", "again after"):
            if key in r:
                lines.append(fmt_row(f"{name}, recurring subtasks, {key[6:]} feedback", r[key]))
    cached.save()
    print("\n".join(lines), flush=True)
    if args.llm:
        chooser = make_chooser(args.llm, args.llm_model, args.llm_top)
        model = args.llm_model or "(server default)"
        rows = [
            "",
            f"LLM stage: {args.llm}, model {model}, top {chooser.k} cards shown",
            "",
            "| set | subtasks | top-1 without -> with LLM | hard items | no-fit -> none | "
            "fitting -> none | s per decision | model calls |",
            "|---|---|---|---|---|---|---|---|",
        ]
        changes: list[str] = []
        for name in names:
            cards, tasks = SETS[name]()
            sample = llm_sample(tasks, args.llm_limit)
            r, changed = await llm_stage(cached, cards, sample, weights, chooser)
            rows += llm_rows(name, sample, r)
            changes += [f"{name}: {c}" for c in changed]
            print(rows[-1], flush=True)
        cached.save()
        print("\n".join(rows), flush=True)
        print("\nChanged by the LLM (+ now right, - now wrong, ~ still wrong):")
        print("\n".join(changes) or "(none)", flush=True)
    if not args.no_latency:
        lines += [
            "",
            "| cards | outcomes | route p50 ms | route p99 ms | queries |",
            "|---|---|---|---|---|",
        ]
        sizes = [int(s) for s in args.sizes.split(",")]
        lines += await latency(sizes, args.queries, minilm, args.outcomes, stage)
    print(f"\n_{machine()} · {env}_")


if __name__ == "__main__":
    asyncio.run(main())
