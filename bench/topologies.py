"""Topology benchmark: MacNet graphs of 100 to 10,000 agents, in process and over MQTT.

    python bench/topologies.py            # full run (~10 min), appended to bench/RESULTS.md
    python bench/topologies.py --quick    # tiny sizes, printed only (add --save to keep it)
    python bench/topologies.py --only registry   # one section: inproc, tokens, registry, agents
    python bench/topologies.py --build-only      # graph build time only (generate + compile)
    python bench/topologies.py --build-only --nodes 1000,10000 --kinds chain,layered

Four measurements:

1. ``inproc``: each generator of ``weft.workflows.topologies`` (chain, star,
   tree, layered, random, small-world, scale-free at 100, 1,000 and 10,000
   nodes; mesh at 100 only, n(n-1)/2 edges) built and run by the executor
   with no-op async actions: build time, run time, orchestration overhead per
   node (the run's wall time over its nodes: the actions do nothing) and the
   peak of Python allocations (tracemalloc, a second run). Random uses p = 8/n
   (mean degree about 8); layered is ``round(sqrt(n))`` wide up to 1,000 nodes
   and 32 wide beyond (a 10,000-node graph 100 wide has a million edges).
2. ``tokens``: characters (and tokens, at 4 characters each) that nodes
   receive as input when each passes on only its artifact (MacNet: a node
   sees the task and its direct predecessors' artifacts) against passing the
   full history (everything upstream, merged), on chain, layered and random
   graphs. Artifacts are 100 characters; the task is 100 characters.
3. ``registry``: 1,000 and 10,000 retained cards (the README's counter agent
   card: three tools, ~2.2 kB, copied with other ids and signed by a trusted
   key) taken in by a bare aiomqtt client (the floor: receive only), by a
   ``LiveRegistry`` (``start()`` returns when every card is in), and by
   ``weft agents --json`` (the whole command: start-up, sync, every
   signature checked, output). Each in a fresh process: wall time and peak
   RSS; the median of three, interleaved.
4. ``agents``: 10,000 distinct agents (``bench/topology_agents.py``, one
   action each) served by 4 ``weft agent serve --agent-per-action``
   processes on one Mosquitto: time until all are registered, the same sync
   measurements as 3 on the live cards, then a layered MacNet of 100 and
   1,000 nodes where node ``n{i}`` is played by agent ``node-{i}``: run time
   and time per node, over MQTT.

``--build-only`` measures building alone: ``generate(kind, n)`` with its
default shape (layered about ``sqrt(n)`` wide: 990,000 edges at 10,000 nodes;
random with ``p = 8/n``; mesh up to 1,000 nodes, n(n-1)/2 edges) and
``compile_workflow`` (model and graph validation, compiling): the median of
``--repeats`` builds after a garbage collection, and microseconds per node
plus edge, which stays flat when building is linear.

The script starts its own Mosquitto with weft's config (``MosquittoBroker``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from topology_mqtt import Sizes, agents_section, registry_section  # noqa: E402

from weft.runtime import Executor, compile_workflow  # noqa: E402
from weft.workflows.casting import per_node  # noqa: E402
from weft.workflows.topologies import generate  # noqa: E402

RESULTS = HERE / "RESULTS.md"
KINDS = ("chain", "star", "tree", "layered", "random", "small_world", "scale_free")
TASK = "t" * 100
ARTIFACT = 100


async def noop(task: str, context: Any = None) -> str:
    """A node that does nothing: what is left of a run is orchestration."""
    return "ok"


def shape(kind: str, n: int) -> dict[str, Any]:
    if kind == "random":
        return {"p": min(0.3, 8 / n), "seed": 7}
    if kind == "layered":  # sqrt(n) wide up to 1,000 nodes, then 32: 10,000 nodes, 310k edges
        return {"width": round(min(n, 1_000) ** 0.5)}
    return {"seed": 7}


def edges_of(built: Any) -> int:
    return sum(len(node.after) for node in built.spec.nodes.values())


@dataclass
class InprocRow:
    kind: str
    nodes: int
    edges: int
    build_s: float
    run_s: float
    peak_mb: float

    @property
    def us_per_node(self) -> float:
        return self.run_s / self.nodes * 1e6


async def run_once(kind: str, n: int) -> tuple[float, float, int]:
    """``(build seconds, run seconds, edges)`` of one no-op run."""
    started = time.perf_counter()
    workflow = generate(kind, n, noop, **shape(kind, n))
    built = compile_workflow(workflow)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    result = await Executor().run(built, {"task": TASK})
    run_s = time.perf_counter() - started
    if not result.ok or len(result.nodes) != n:
        raise RuntimeError(f"{kind} {n}: {result.state} {result.error}")
    return build_s, run_s, edges_of(built)


async def inproc_section(sizes: Sizes, log: Callable[[str], None]) -> list[InprocRow]:
    rows = []
    for n in sizes.nodes:
        for kind in (*KINDS, "mesh") if n <= sizes.mesh_max else KINDS:
            await run_once(kind, min(n, 50))  # warm the code paths up
            builds, runs = [], []
            for _ in range(sizes.repeats):
                build_s, run_s, edges = await run_once(kind, n)
                builds.append(build_s)
                runs.append(run_s)
            tracemalloc.start()
            await run_once(kind, n)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            row = InprocRow(
                kind, n, edges, statistics.median(builds), statistics.median(runs), peak
            )
            log(f"inproc {kind} {n}: run {row.run_s:.3f}s ({row.us_per_node:.0f} us/node)")
            rows.append(row)
    return rows


class Counter:
    """Characters the nodes of one run received, by the actions' own count."""

    def __init__(self) -> None:
        self.chars = 0

    def artifact_only(self, index: int) -> Callable[..., Any]:
        own = f"[n{index}]".ljust(ARTIFACT, ".")

        async def play(task: str, context: Any = None) -> str:
            items = context if isinstance(context, list) else [] if context is None else [context]
            self.chars += len(task) + sum(len(item) for item in items)
            return own

        play.__name__ = f"artifact_{index}"  # one action per node: one name each
        return play

    def full_history(self, index: int) -> Callable[..., Any]:
        own = f"[n{index}]".ljust(ARTIFACT, ".")

        async def play(task: str, context: Any = None) -> list[str]:
            items = context if isinstance(context, list) else [] if context is None else [context]
            history: dict[str, None] = {}  # merged, in order: a diamond's ancestor counts once
            for item in items:
                for artifact in item if isinstance(item, list) else [item]:
                    history[artifact] = None
            self.chars += len(task) + sum(len(a) for a in history)
            return [*history, own]

        play.__name__ = f"history_{index}"
        return play


@dataclass
class TokenRow:
    kind: str
    nodes: int
    edges: int
    artifact_chars: int
    history_chars: int | None


async def tokens_section(sizes: Sizes, log: Callable[[str], None]) -> list[TokenRow]:
    rows = []
    for n in sizes.token_nodes:
        for kind in ("chain", "layered", "random"):
            counts: dict[str, int | None] = {}
            edges = 0
            for mode in ("artifact_only", "full_history"):
                if mode == "full_history" and n > sizes.history_max:
                    counts[mode] = None
                    continue
                counter = Counter()
                factory = getattr(counter, mode)
                actors = per_node(lambda _n, i, f=factory: f(i))
                built = compile_workflow(generate(kind, n, actors, **shape(kind, n)))
                edges = edges_of(built)
                result = await Executor().run(built, {"task": TASK})
                if not result.ok:
                    raise RuntimeError(f"tokens {kind} {n} {mode}: {result.error}")
                counts[mode] = counter.chars
            artifact = counts["artifact_only"] or 0
            rows.append(TokenRow(kind, n, edges, artifact, counts["full_history"]))
            log(f"tokens {kind} {n}: {artifact:,} vs {counts['full_history']}")
    return rows


def render_inproc(rows: Sequence[InprocRow]) -> str:
    lines = [
        "| topology | nodes | edges | build (s) | run (s) | overhead per node (µs) | peak (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.kind} | {r.nodes:,} | {r.edges:,} | {r.build_s:.3f} | {r.run_s:.3f} | "
            f"{r.us_per_node:.0f} | {r.peak_mb:.1f} |"
        )
    return "\n".join(lines)


def render_tokens(rows: Sequence[TokenRow]) -> str:
    lines = [
        "| topology | nodes | edges | artifact-only: tokens in | per node | full history: "
        "tokens in | per node | history / artifact |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        art = r.artifact_chars / 4
        if r.history_chars is None:
            hist = "not run"
            per, ratio = "", ""
        else:
            hist = f"{r.history_chars / 4:,.0f}"
            per = f"{r.history_chars / 4 / r.nodes:,.0f}"
            ratio = f"{r.history_chars / max(r.artifact_chars, 1):.1f}x"
        lines.append(
            f"| {r.kind} | {r.nodes:,} | {r.edges:,} | {art:,.0f} | {art / r.nodes:,.0f} | "
            f"{hist} | {per} | {ratio} |"
        )
    return "\n".join(lines)


@dataclass
class BuildRow:
    kind: str
    nodes: int
    edges: int
    generate_s: float
    compile_s: float

    @property
    def total_s(self) -> float:
        return self.generate_s + self.compile_s

    @property
    def us_per_item(self) -> float:
        return self.total_s / (self.nodes + self.edges) * 1e6


BUILD_KINDS = ("chain", "layered", "random", "mesh")
MESH_MAX = 1_000


def build_shape(kind: str, n: int) -> dict[str, Any]:
    """``generate``'s own defaults (what ``weft topology`` builds), but a sparse random."""
    return {"p": 8 / n, "seed": 7} if kind == "random" else {}


def build_once(kind: str, n: int) -> tuple[float, float, int]:
    """``(generate seconds, compile seconds, edges)`` of one build from a collected heap."""
    gc.collect()
    started = time.perf_counter()
    workflow = generate(kind, n, noop, **build_shape(kind, n))
    generated = time.perf_counter()
    built = compile_workflow(workflow)
    done = time.perf_counter()
    return generated - started, done - generated, edges_of(built)


def build_section(
    nodes: Sequence[int], kinds: Sequence[str], repeats: int, log: Callable[[str], None]
) -> list[BuildRow]:
    rows = []
    build_once("chain", 50)  # warm the code paths up
    for n in nodes:
        for kind in kinds:
            if kind == "mesh" and n > MESH_MAX:
                log(f"build {kind} {n}: skipped ({n * (n - 1) // 2:,} edges)")
                continue
            runs = [build_once(kind, n) for _ in range(repeats)]
            gen = statistics.median(r[0] for r in runs)
            comp = statistics.median(r[1] for r in runs)
            row = BuildRow(kind, n, runs[0][2], gen, comp)
            log(f"build {kind} {n}: {row.edges:,} edges, {row.total_s:.3f}s")
            rows.append(row)
    return rows


def render_build(rows: Sequence[BuildRow]) -> str:
    lines = [
        "| topology | nodes | edges | generate (s) | compile (s) | total (s) | µs per node+edge |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.kind} | {r.nodes:,} | {r.edges:,} | {r.generate_s:.3f} | {r.compile_s:.3f} | "
            f"{r.total_s:.3f} | {r.us_per_item:.1f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    from bus import machine as bus_machine

    return bus_machine()


async def run(sizes: Sizes, only: str | None, log: Callable[[str], None]) -> str:
    parts = []
    if only in (None, "inproc"):
        parts.append(
            "### In process, no-op actions\n\n" + render_inproc(await inproc_section(sizes, log))
        )
    if only in (None, "tokens"):
        parts.append(
            "### Input passed along edges (tokens = characters / 4)\n\n"
            + render_tokens(await tokens_section(sizes, log))
        )
    if only in (None, "registry"):
        parts.append(await registry_section(sizes, log))
    if only in (None, "agents"):
        parts.append(await agents_section(sizes, log))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument("--save", action="store_true", help="append a --quick run to RESULTS.md")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--only", choices=["inproc", "tokens", "registry", "agents"])
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (markdown)")
    parser.add_argument(
        "--build-only", action="store_true", help="time building graphs only (printed only)"
    )
    parser.add_argument("--nodes", default="1000,5000,10000", help="--build-only: node counts")
    parser.add_argument("--kinds", default=",".join(BUILD_KINDS), help="--build-only: kinds")
    parser.add_argument("--repeats", type=int, default=3, help="--build-only: builds per row")
    args = parser.parse_args(args_list)
    if args.build_only:
        return build_main(args, args_list)
    sizes = Sizes.quick() if args.quick else Sizes()
    save = (args.save or not args.quick) and not args.no_save
    command = "python bench/topologies.py" + (" " + " ".join(args_list) if args_list else "")

    def log(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    machine_info = machine()
    body = asyncio.run(run(sizes, args.only, log))
    print(f"machine: {machine_info}\ncommand: {command}\n\n{body}")
    if save:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with args.out.open("a") as f:
            f.write(
                f"\n## Topologies and scale, {stamp}\n\n- command: `{command}`\n"
                f"- machine: {machine_info}\n\n{body}\n"
            )
        log(f"appended to {args.out}")
    return 0


def build_main(args: argparse.Namespace, args_list: Sequence[str]) -> int:
    """``--build-only``: print the build table (``--save`` appends it to RESULTS.md)."""
    nodes = [int(v) for v in args.nodes.split(",") if v]
    kinds = [k for k in args.kinds.split(",") if k]
    command = "python bench/topologies.py " + " ".join(args_list)

    def log(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    machine_info = machine()
    body = render_build(build_section(nodes, kinds, args.repeats, log))
    print(f"machine: {machine_info}\ncommand: {command}\n\n{body}")
    if args.save:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with args.out.open("a") as f:
            f.write(
                f"\n## Topology build time, {stamp}\n\n- command: `{command}`\n"
                f"- machine: {machine_info}\n\n{body}\n"
            )
        log(f"appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
