"""Executor benchmark: weft against LangGraph and hand-written asyncio, in one run.

    python bench/executor.py           # full run (a few minutes), appended to bench/RESULTS.md
    python bench/executor.py --quick   # smaller smoke version, printed only (add --save to keep it)
    python bench/executor.py --only-journal-modes  # batched vs durable journal only, appended

Three measurements, each on the SAME graph for every contender:

1. Per-node orchestration overhead (µs/node) on a 1,000-node chain, a 1,000-way
   fan-out with a join, and a layered DAG of 10 x 100 nodes where each node
   depends on 3 nodes of the previous layer. Actions do no work: they return
   their input, and a join's list of inputs is summed, so every node's output is
   its number of paths from the sources and a lost or doubled edge shows up in
   the check that follows every timed run. Building and compiling the graph is
   timed separately, never inside the run.
2. Makespan against the critical path on DAGs whose nodes sleep for varying
   times, including LangGraph's known case (a fast branch followed by a step,
   beside a slow sibling), where a superstep barrier makes the fast branch wait.
3. Wall time and peak memory (tracemalloc peak, peak RSS over the baseline) of
   a 10,000-node layered DAG, each contender in a fresh subprocess.
4. Makespan with plain ``def`` nodes that block (``time.sleep``): a fan-out of
   50 nodes of 10 ms, and the two makespan graphs, weft (each ``def`` tool in
   its pool of worker threads) against LangGraph's sync nodes run with
   ``invoke`` (in its thread pool), both with the same number of threads, and
   LangGraph with its default pool (``min(32, cores + 4)`` threads).
5. The journal's two modes (``--only-journal-modes`` runs just this): per-node
   time of a chain and a fan-out of no-op nodes journaled ``batched`` (the
   default: commits every 2 ms) and ``durable`` (each finished call committed
   with ``synchronous=FULL``, an fsync, before its dependents start; calls that
   finish in the same loop turn share a commit), beside the bare run, on a
   database in the system's temporary folder (a real disk, not tmpfs, here).

Contenders:

- plain asyncio: a minimal dataflow written by hand (a counter of missing inputs
  per node, a task started when it reaches zero); the floor for any executor;
- weft: ``compile_workflow`` + ``Executor().run``, bare, with the SQLite journal, and with
  the SQLite trace store (each a database in a temporary folder, opened once
  and kept across runs like ``.weft/``; their final flush is timed); the trace
  store as ``weft run`` uses it (its writer process checks and commits spans
  on another core; that process's CPU time per node is reported too) and with
  every step in the run's process (``weft+trace-inline``, reported, not judged);
- LangGraph: a compiled ``StateGraph`` run with ``ainvoke``, its most favourable
  idiomatic encoding: a chain overwrites one ``value`` key; other graphs write
  ``{node: output}`` into one dict channel with a merging reducer (one key per
  node was 2-3x slower: every superstep copies every channel), and a node with
  several predecessors hangs off a waiting edge ``add_edge([p1, p2, ...], n)``;
- LangGraph+sqlite: the same graph with LangGraph's SQLite checkpointer
  (``AsyncSqliteSaver`` from ``langgraph-checkpoint-sqlite``, its default
  ``durability="async"``), a new thread per run, one database kept across
  runs: the durable counterpart of weft+journal, compared per node on the
  overhead graphs (section "Durable runs"). Opening its connection is not
  timed; a run and its checkpoint writes are.

All three call the very same async functions (``step.fn`` / ``sleep_step.fn``).
Repetitions are interleaved (the order rotates every repetition), each contender
is warmed up first, and medians are reported with the min-max spread.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypedDict

from weft import Workflow, tool
from weft.agents import worker_threads
from weft.runtime import Executor, Journal, compile_workflow
from weft.runtime.tracing.store import TraceStore
from weft.workflows.topologies import from_edges

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
TASK = 1  # every source node starts from this value

# -- the actions: the same two functions for every contender ---------------------------


def combine(value: Any) -> Any:
    """A join's inputs arrive as a list and are summed; a single input passes through."""
    return sum(value) if isinstance(value, list) else value


@tool
async def step(value: Any) -> Any:
    """No-op: return the input (a join's inputs summed)."""
    return combine(value)


@tool
async def sleep_step(value: Any, ms: float) -> Any:
    """Sleep ``ms`` milliseconds, then behave like ``step``."""
    await asyncio.sleep(ms / 1000)
    return combine(value)


@tool
def blocking_sleep_step(value: Any, ms: float) -> Any:
    """``sleep_step`` as a plain function that blocks its thread, as most user tools do."""
    time.sleep(ms / 1000)
    return combine(value)


# -- graphs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dag:
    """A DAG over nodes ``0..n-1``: ``preds[i]`` lists node i's predecessors (sorted).

    ``latency_ms`` (one per node) turns the no-op ``step`` into ``sleep_step``.
    """

    name: str
    preds: tuple[tuple[int, ...], ...]
    latency_ms: tuple[float, ...] | None = None

    @property
    def n(self) -> int:
        return len(self.preds)

    @property
    def edges(self) -> list[tuple[int, int]]:
        return [(p, i) for i, ps in enumerate(self.preds) for p in ps]

    @property
    def succs(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.preds]
        for p, i in self.edges:
            out[p].append(i)
        return out

    @property
    def sinks(self) -> list[int]:
        return [i for i, s in enumerate(self.succs) if not s]

    def is_chain(self) -> bool:
        return all(ps == ((i - 1,) if i else ()) for i, ps in enumerate(self.preds))

    def expected(self, task: Any = TASK) -> dict[int, Any]:
        """Every node's output, computed directly (nodes are numbered in topological order)."""
        values: dict[int, Any] = {}
        for i, ps in enumerate(self.preds):
            if not ps:
                values[i] = task
            else:
                values[i] = combine([values[p] for p in ps] if len(ps) > 1 else values[ps[0]])
        return values

    def critical_path_ms(self) -> float:
        """The longest path, weighting each node by its latency: the ideal makespan."""
        finish: list[float] = []
        for i, ps in enumerate(self.preds):
            own = self.latency_ms[i] if self.latency_ms else 0.0
            finish.append(own + max((finish[p] for p in ps), default=0.0))
        return max(finish)


def chain_dag(n: int) -> Dag:
    return Dag(f"chain-{n}", tuple((i - 1,) if i else () for i in range(n)))


def fanout_dag(width: int) -> Dag:
    """A hub, ``width`` leaves fed by it, and one node joining all the leaves."""
    preds: list[tuple[int, ...]] = [()]
    preds += [(0,)] * width
    preds.append(tuple(range(1, width + 1)))
    return Dag(f"fanout-{width}+join", tuple(preds))


def layered_dag(layers: int, width: int, fan_in: int = 3) -> Dag:
    """``layers`` x ``width`` nodes; node b of layer L depends on nodes b, b+1, b+width/2
    (mod width) of layer L-1 (the first ``fan_in`` of those offsets), deterministically."""
    offsets = (0, 1, width // 2, width // 3)[:fan_in]
    preds: list[tuple[int, ...]] = []
    for layer in range(layers):
        for b in range(width):
            if layer == 0:
                preds.append(())
            else:
                base = (layer - 1) * width
                preds.append(tuple(sorted({base + (b + d) % width for d in offsets})))
    return Dag(f"layered-{layers}x{width}-fanin{fan_in}", tuple(preds))


def sleepy_fanout_dag(width: int, ms: float) -> Dag:
    """``fanout_dag(width)`` whose ``width`` leaves each sleep ``ms`` (hub and join: 0)."""
    plain = fanout_dag(width)
    latency = (0.0,) + (ms,) * width + (0.0,)
    return Dag(f"fan-out {width} x {ms:g} ms + join", plain.preds, latency)


def lagging_branch_dag(scale: float = 1.0) -> Dag:
    """LangGraph's known case: A -> fast -> fast2 and A -> slow; fast2 and slow join at end.

    Critical path A + slow + end; a superstep barrier makes fast2 start only after
    slow, giving A + slow + fast2 + end.
    """
    #            A      fast   fast2         slow          end
    preds = ((), (0,), (1,), (0,), (2, 3))
    latency = tuple(ms * scale for ms in (5.0, 30.0, 60.0, 100.0, 5.0))
    return Dag("fast-branch+step beside slow sibling", preds, latency)


def random_latency_dag(n: int = 50, seed: int = 7, scale: float = 1.0) -> Dag:
    """``n`` nodes; node i depends on 1-3 of the 8 nodes before it; 10-60 ms each."""
    rng = random.Random(seed)
    preds: list[tuple[int, ...]] = []
    for i in range(n):
        if i < 3:
            preds.append(())
            continue
        window = list(range(max(0, i - 8), i))
        preds.append(tuple(sorted(rng.sample(window, min(len(window), rng.randint(1, 3))))))
    latency = tuple(round(rng.uniform(10, 60)) * scale for _ in range(n))
    return Dag(f"random DAG {n} nodes, 10-60 ms", tuple(preds), latency)


# -- contenders ------------------------------------------------------------------------


class Contender:
    """Builds a runnable form of a DAG (untimed) and runs it (timed inside ``run``)."""

    label = ""

    def build(self, dag: Dag) -> Any:
        raise NotImplementedError

    async def run(self, built: Any, task: Any = TASK) -> tuple[float, dict[int, Any]]:
        """Seconds spent running, and the outputs it saw (all nodes, or at least the sinks)."""
        raise NotImplementedError

    def helper_cpu_s(self) -> float | None:
        """CPU seconds used so far by helper processes (work done outside the timed run)."""
        return None


class PlainAsyncio(Contender):
    """A hand-written dataflow: a task per node, started when its last input arrives."""

    label = "asyncio"

    def build(self, dag: Dag) -> Any:
        return dag, dag.succs, [len(ps) for ps in dag.preds]

    async def run(self, built: Any, task: Any = TASK) -> tuple[float, dict[int, Any]]:
        dag, succs, indegree = built
        preds, latency = dag.preds, dag.latency_ms
        act, sleepy = step.fn, sleep_step.fn
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        values: list[Any] = [None] * dag.n
        waiting = list(indegree)
        left = dag.n
        done: asyncio.Future[None] = loop.create_future()
        tasks: set[asyncio.Task[None]] = set()

        async def node(i: int) -> None:
            nonlocal left
            ps = preds[i]
            x = task if not ps else values[ps[0]] if len(ps) == 1 else [values[p] for p in ps]
            values[i] = await (act(x) if latency is None else sleepy(x, latency[i]))
            for s in succs[i]:
                waiting[s] -= 1
                if not waiting[s]:
                    launch(s)
            left -= 1
            if not left:
                done.set_result(None)

        def finished(t: asyncio.Task[None]) -> None:
            tasks.discard(t)
            if not t.cancelled() and t.exception() is not None and not done.done():
                done.set_exception(t.exception())  # type: ignore[arg-type]

        def launch(i: int) -> None:
            t = loop.create_task(node(i))
            tasks.add(t)
            t.add_done_callback(finished)

        for i, ps in enumerate(preds):
            if not ps:
                launch(i)
        await done
        elapsed = time.perf_counter() - started
        return elapsed, dict(enumerate(values))


class Weft(Contender):
    """weft's executor: bare, with the SQLite journal, or with the SQLite trace store.

    The journal or trace store is one database per contender, opened on the
    first run (a warm-up) and kept for every later run, as ``weft run`` keeps
    ``.weft/``: what a run costs is writing its events or spans, not creating
    a database file. The final flush of either is inside the timed part. For
    the trace store that flush hands the spans to its writer process, whose
    checking and committing happen on another core while the run goes on: its
    CPU time is reported beside the run's (``helper_cpu_s``), and
    ``weft+trace-inline`` does all of it in the run's process.
    """

    def __init__(
        self,
        journal: bool = False,
        trace: bool = False,
        inline: bool = False,
        sync: bool = False,
        durable: bool = False,
    ) -> None:
        self.journal = journal or durable
        self.durable = durable  # ``journal_mode="durable"``: an fsync'd commit per finished call
        self.trace = trace or inline
        self.inline = inline
        self.sync = sync  # sleeping nodes are plain ``def`` tools that block a worker thread
        self.label = (
            "weft+journal-durable"
            if durable
            else "weft+journal"
            if journal
            else "weft+trace-inline"
            if inline
            else "weft+trace"
            if trace
            else "weft (def)"
            if sync
            else "weft"
        )
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._journal: Journal | None = None
        self._tracer: TraceStore | None = None

    def build(self, dag: Dag) -> Any:
        if dag.latency_ms is None:
            wf = from_edges(dag.n, dag.edges, step, name="bench")
        else:
            wf = Workflow("bench")
            wf.input("task")
            for i, ps in enumerate(dag.preds):
                value = "${input}" if ps else "${inputs.task}"
                wf.node(
                    f"n{i}",
                    blocking_sleep_step if self.sync else sleep_step,
                    with_={"value": value, "ms": dag.latency_ms[i]},
                    after=[f"n{p}" for p in ps],
                )
        return compile_workflow(wf)

    def _stores(self) -> tuple[Journal | None, TraceStore | None]:
        if self._folder is None and (self.journal or self.trace):
            self._folder = tempfile.TemporaryDirectory(prefix="weft-bench-")
            folder = Path(self._folder.name)
            self._journal = Journal(folder / "journal.db") if self.journal else None
            self._tracer = (
                # As ``weft run`` opens it: its writer process starts after the first runs.
                TraceStore(folder / "traces.db", writer="inline" if self.inline else "auto")
                if self.trace
                else None
            )
        return self._journal, self._tracer

    async def run(self, built: Any, task: Any = TASK) -> tuple[float, dict[int, Any]]:
        journal, tracer = self._stores()
        executor = Executor(journal=journal, tracer=tracer)
        mode = "durable" if self.durable else None
        started = time.perf_counter()
        result = await executor.run(built, {"task": task}, journal_mode=mode)
        if journal is not None:
            journal.flush()
        if tracer is not None:
            tracer.flush()
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise RuntimeError(f"weft run ended {result.state}: {result.error}")
        values = {int(name[1:]): outcome.output for name, outcome in result.nodes.items()}
        return elapsed, values

    def helper_cpu_s(self) -> float | None:
        """The trace writer process's CPU time, once everything handed to it is committed."""
        if self._tracer is None or self._folder is None:
            return None
        self._tracer.sync()
        pid = _writer_pid(Path(self._folder.name) / "traces.db")
        if pid is None:
            return None
        with open(f"/proc/{pid}/schedstat") as schedstat:  # nanoseconds on a CPU, first field
            return int(schedstat.read().split()[0]) / 1e9


def _writer_pid(database: Path) -> int | None:
    """The trace writer process of ``database``: a child of this process started as
    ``python -m weft.runtime.tracing.writer DATABASE ...`` (Linux ``/proc``)."""
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if (
            parent == me
            and b"weft.runtime.tracing.writer" in argv
            and str(database).encode() in argv
        ):
            return int(proc.name)
    return None


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    return {**left, **right}


class ChainState(TypedDict):
    """LangGraph state of a chain: one value, overwritten by every node."""

    value: Any


class DagState(TypedDict):
    """LangGraph state of any other DAG: the task, and every node's output by name."""

    task: Any
    out: Annotated[dict[str, Any], _merge]


class LangGraph(Contender):
    """A compiled StateGraph, run with ``ainvoke``; ``durable`` adds the SQLite checkpointer.

    The checkpointer's database is one file per contender, kept across runs as
    weft's journal is; each run opens a connection to it outside the timed part
    (an ``AsyncSqliteSaver`` lives on one event loop, and a contender may be
    dropped without being told) and runs on its own thread id.
    """

    def __init__(
        self, durable: bool = False, sync: bool = False, threads: int | None = None
    ) -> None:
        self.durable = durable
        # ``sync``: plain ``def`` nodes run with ``invoke``, in LangGraph's thread pool of
        # ``threads`` (its ``max_concurrency``; None: the pool's default size).
        self.sync = sync
        self.threads = threads
        self.label = (
            "LangGraph+sqlite"
            if durable
            else f"LangGraph (def, {threads} threads)"
            if sync and threads
            else "LangGraph (def, default pool)"
            if sync
            else "LangGraph"
        )
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def build(self, dag: Dag) -> Any:
        from langgraph.graph import END, START, StateGraph

        act, sleepy, latency = step.fn, sleep_step.fn, dag.latency_ms
        blocking = blocking_sleep_step.fn
        graph: Any
        if dag.is_chain() and latency is None:

            async def overwrite(state: ChainState) -> dict[str, Any]:
                return {"value": await act(state["value"])}

            graph = StateGraph(ChainState)
            for i in range(dag.n):
                graph.add_node(f"n{i}", overwrite)
                graph.add_edge(f"n{i - 1}" if i else START, f"n{i}")
            graph.add_edge(f"n{dag.n - 1}", END)
            return graph.compile(), dag, "chain"

        def make(i: int, ps: tuple[int, ...]) -> Callable[[DagState], Any]:
            name, sources = f"n{i}", [f"n{p}" for p in ps]
            delay = None if latency is None else latency[i]

            async def node(state: DagState) -> dict[str, Any]:
                out = state["out"]
                if not sources:
                    x = state["task"]
                elif len(sources) == 1:
                    x = out[sources[0]]
                else:
                    x = [out[s] for s in sources]
                value = await (act(x) if delay is None else sleepy(x, delay))
                return {"out": {name: value}}

            def sync_node(state: DagState) -> dict[str, Any]:
                """``node`` as a plain function (the sync-tool section): it blocks its thread."""
                values = [state["out"][s] for s in sources]
                x = state["task"] if not values else values[0] if len(values) == 1 else values
                return {"out": {name: blocking(x, delay or 0.0)}}

            return sync_node if self.sync else node

        graph = StateGraph(DagState)
        succs = dag.succs
        for i, ps in enumerate(dag.preds):
            graph.add_node(f"n{i}", make(i, ps))
        for i, ps in enumerate(dag.preds):
            if not ps:
                graph.add_edge(START, f"n{i}")
            elif len(ps) == 1:
                graph.add_edge(f"n{ps[0]}", f"n{i}")
            else:
                graph.add_edge([f"n{p}" for p in ps], f"n{i}")
            if not succs[i]:
                graph.add_edge(f"n{i}", END)
        return graph.compile(), dag, "dict"

    async def run(self, built: Any, task: Any = TASK) -> tuple[float, dict[int, Any]]:
        app, dag, encoding = built
        # one superstep per node of the longest path; the default limit (25) stops a long chain
        config: dict[str, Any] = {"recursion_limit": dag.n + 10}
        if self.sync:
            if self.threads:
                config["max_concurrency"] = self.threads
            started = time.perf_counter()
            state = app.invoke({"task": task}, config)  # blocks the loop: nothing else runs
            elapsed = time.perf_counter() - started
            return elapsed, {int(k[1:]): v for k, v in state["out"].items()}
        if not self.durable:
            return await self._timed(app, config, dag, encoding, task)
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="lg-bench-")
        database = str(Path(self._folder.name) / "checkpoints.db")
        async with AsyncSqliteSaver.from_conn_string(database) as saver:
            await saver.setup()  # creates the tables once; not part of a run
            durable = app.copy(update={"checkpointer": saver})
            config["configurable"] = {"thread_id": uuid.uuid4().hex}
            return await self._timed(durable, config, dag, encoding, task)

    @staticmethod
    async def _timed(
        app: Any, config: dict[str, Any], dag: Dag, encoding: str, task: Any
    ) -> tuple[float, dict[int, Any]]:
        started = time.perf_counter()
        if encoding == "chain":
            state = await app.ainvoke({"value": task}, config)
        else:
            state = await app.ainvoke({"task": task}, config)
        elapsed = time.perf_counter() - started
        if encoding == "chain":
            return elapsed, {dag.n - 1: state["value"]}
        return elapsed, {int(k[1:]): v for k, v in state["out"].items()}


#: Who runs the makespan graphs: what sleeping nodes show does not need every variant.
MAKESPAN_CONTENDERS = ("asyncio", "weft", "weft+journal", "LangGraph")


def contenders() -> list[Contender]:
    return [
        PlainAsyncio(),
        Weft(),
        Weft(journal=True),
        Weft(trace=True),
        Weft(inline=True),
        LangGraph(),
        LangGraph(durable=True),
    ]


def sync_contenders() -> list[Contender]:
    """Who runs the sync-tool graphs: weft and LangGraph with as many threads, and
    LangGraph with its default pool."""
    threads = worker_threads()
    return [Weft(sync=True), LangGraph(sync=True, threads=threads), LangGraph(sync=True)]


def check(dag: Dag, label: str, values: dict[int, Any]) -> None:
    """Raise unless ``values`` holds every sink and agrees with the direct computation."""
    expected = dag.expected()
    missing = [s for s in dag.sinks if s not in values]
    wrong = [i for i, v in values.items() if expected.get(i) != v]
    if missing or wrong:
        i = (missing or wrong)[0]
        raise AssertionError(
            f"{label} on {dag.name}: node n{i} gave {values.get(i)!r}, expected {expected[i]!r}"
            f" ({len(missing)} sinks missing, {len(wrong)} wrong)"
        )


# -- measuring -------------------------------------------------------------------------


@dataclass
class Timing:
    """Build time and the run times of one contender on one graph."""

    label: str
    build_s: float
    runs_s: list[float] = field(default_factory=list)
    #: CPU seconds helper processes spent on the timed runs (the trace writer), if any.
    helper_cpu_s: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs_s)


async def interleaved(
    dag: Dag, rivals: Sequence[Contender], reps: int, warmup: int
) -> dict[str, Timing]:
    """Build every contender, warm each up, then time ``reps`` rounds in rotating order."""
    built: dict[str, Any] = {}
    timings: dict[str, Timing] = {}
    for rival in rivals:
        gc.collect()
        started = time.perf_counter()
        built[rival.label] = rival.build(dag)
        timings[rival.label] = Timing(rival.label, time.perf_counter() - started)
        for _ in range(warmup):
            _, values = await rival.run(built[rival.label])
            check(dag, rival.label, values)
    helper_before = {rival.label: rival.helper_cpu_s() for rival in rivals}
    for rep in range(reps):
        order = list(rivals[rep % len(rivals) :]) + list(rivals[: rep % len(rivals)])
        for rival in order:
            gc.collect()
            elapsed, values = await rival.run(built[rival.label])
            check(dag, rival.label, values)
            timings[rival.label].runs_s.append(elapsed)
    for rival in rivals:
        before, after = helper_before[rival.label], rival.helper_cpu_s()
        if before is not None and after is not None:
            timings[rival.label].helper_cpu_s = after - before
    return timings


def _status() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process, in kB."""
    fields: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                fields[key] = int(value.split()[0])
    return fields


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


async def big_run(
    label: str, layers: int, width: int, reps: int, budget_s: float
) -> dict[str, Any]:
    """In a fresh process: build, a first run (peak RSS), timed runs, a tracemalloc run."""
    rival = {c.label: c for c in contenders()}[label]
    dag = layered_dag(layers, width)
    gc.collect()
    exact_peak = _reset_peak_rss()
    rss0 = _status()["VmRSS"]
    started = time.perf_counter()
    built = rival.build(dag)
    build_s = time.perf_counter() - started
    first_s, values = await rival.run(built)
    check(dag, label, values)
    peak_rss_mb = (_status()["VmHWM"] - rss0) / 1024
    report: dict[str, Any] = {
        "label": label,
        "nodes": dag.n,
        "edges": len(dag.edges),
        "build_s": build_s,
        "first_s": first_s,
        "peak_rss_mb": peak_rss_mb,
        "exact_rss_peak": exact_peak,
    }
    if build_s + first_s > budget_s:
        report["over_budget"] = True
        return report
    runs = []
    for _ in range(reps):
        gc.collect()
        elapsed, values = await rival.run(built)
        check(dag, label, values)
        runs.append(elapsed)
    report["runs_s"] = runs
    del values
    gc.collect()
    tracemalloc.start()
    await rival.run(built)
    report["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return report


def big_in_subprocess(
    label: str, layers: int, width: int, reps: int, budget_s: float
) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-big",
        label,
        str(layers),
        str(width),
        str(reps),
        str(budget_s),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget_s * 4 + 60)
    except subprocess.TimeoutExpired:
        return {"label": label, "over_budget": True, "nodes": layers * width}
    if done.returncode != 0:
        raise RuntimeError(f"10k child for {label} failed:\n{done.stderr[-3000:]}")
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


# -- configuration and report ----------------------------------------------------------


@dataclass
class Config:
    chain: int = 1000
    fanout: int = 1000
    layers: int = 10
    width: int = 100
    random_nodes: int = 50
    latency_scale: float = 1.0
    big_layers: int = 100
    big_width: int = 100
    reps: int = 15
    warmup: int = 3
    makespan_reps: int = 5
    big_reps: int = 3
    lg_budget_s: float = 60.0
    sync_fanout: int = 50
    sync_sleep_ms: float = 10.0
    sync_reps: int = 7
    journal_chain: int = 300
    journal_fanout: int = 300
    journal_reps: int = 7

    @classmethod
    def quick(cls) -> Config:
        return cls(
            chain=200,
            fanout=200,
            layers=10,
            width=20,
            random_nodes=30,
            big_layers=20,
            big_width=100,
            reps=3,
            warmup=1,
            makespan_reps=3,
            big_reps=2,
            lg_budget_s=30.0,
            sync_reps=3,
            journal_chain=100,
            journal_fanout=100,
            journal_reps=3,
        )

    @classmethod
    def tiny(cls) -> Config:
        """For the smoke test: every code path, in seconds."""
        return cls(
            chain=20,
            fanout=20,
            layers=4,
            width=5,
            random_nodes=12,
            latency_scale=0.05,
            big_layers=5,
            big_width=4,
            reps=1,
            warmup=1,
            makespan_reps=1,
            big_reps=1,
            lg_budget_s=30.0,
            sync_fanout=8,
            sync_sleep_ms=1.0,
            sync_reps=1,
            journal_chain=10,
            journal_fanout=10,
            journal_reps=1,
        )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _us(seconds: float, n: int) -> float:
    return seconds * 1e6 / n


def _spread(t: Timing, n: int) -> str:
    return f"{_us(t.median, n):,.1f} ({_us(min(t.runs_s), n):,.0f}-{_us(max(t.runs_s), n):,.0f})"


async def measure(config: Config, log: Callable[[str], None]) -> dict[str, Any]:
    rivals = contenders()
    overhead = []
    for dag in (
        chain_dag(config.chain),
        fanout_dag(config.fanout),
        layered_dag(config.layers, config.width),
    ):
        log(f"overhead: {dag.name} ({dag.n} nodes, {len(dag.edges)} edges)")
        overhead.append((dag, await interleaved(dag, rivals, config.reps, config.warmup)))
    makespan = []
    for dag in (
        lagging_branch_dag(config.latency_scale),
        random_latency_dag(config.random_nodes, scale=config.latency_scale),
    ):
        log(f"makespan: {dag.name}")
        chosen = [rival for rival in rivals if rival.label in MAKESPAN_CONTENDERS]
        makespan.append((dag, await interleaved(dag, chosen, config.makespan_reps, 1)))
    sync = []
    for dag in (
        sleepy_fanout_dag(config.sync_fanout, config.sync_sleep_ms),
        lagging_branch_dag(config.latency_scale),
        random_latency_dag(config.random_nodes, scale=config.latency_scale),
    ):
        log(f"sync tools: {dag.name}")
        sync.append((dag, await interleaved(dag, sync_contenders(), config.sync_reps, 1)))
    journal_modes = await measure_journal_modes(config, log)
    return {"overhead": overhead, "makespan": makespan, "sync": sync, "journal": journal_modes}


def journal_mode_contenders() -> list[Contender]:
    return [Weft(), Weft(journal=True), Weft(durable=True)]


async def measure_journal_modes(
    config: Config, log: Callable[[str], None]
) -> list[tuple[Dag, dict[str, Timing]]]:
    """Batched against durable journaling, per node, on a chain and a fan-out."""
    measured = []
    for dag in (chain_dag(config.journal_chain), fanout_dag(config.journal_fanout)):
        log(f"journal modes: {dag.name}")
        rivals = journal_mode_contenders()
        measured.append((dag, await interleaved(dag, rivals, config.journal_reps, 1)))
    return measured


def measure_big(config: Config, log: Callable[[str], None]) -> list[dict[str, Any]]:
    reports = []
    for label in ("weft", "weft+journal", "LangGraph"):
        log(f"{config.big_layers * config.big_width} nodes: {label} (subprocess)")
        budget = config.lg_budget_s if label == "LangGraph" else 600.0
        reports.append(
            big_in_subprocess(label, config.big_layers, config.big_width, config.big_reps, budget)
        )
    return reports


def _tracing_targets(dag: Dag, traced: Timing, untraced: Timing) -> list[tuple[str, str, str, str]]:
    """Tracing's extra per-node cost (judged as ``weft run`` traces), and where it went."""
    extra = traced.median / untraced.median - 1
    if traced.label == "weft+trace-inline":
        name = f"tracing on / off, all in the run's process, {dag.name}"
        rows = [(name, f"{extra:+.0%}", "info (writer=inline)", "—")]
    else:
        name = f"tracing on / off extra per-node overhead, {dag.name}"
        rows = [(name, f"{extra:+.0%}", "≤ +20%", verdict(extra <= 0.2))]
    if traced.helper_cpu_s is not None:
        per_node = traced.helper_cpu_s / (len(traced.runs_s) * dag.n) * 1e6
        name = f"trace writer process CPU per node (another core), {dag.name}"
        rows.append((name, f"{per_node:.2f} µs", "info (not in the run's time)", "—"))
    return rows


Target = tuple[str, str, str, str]  # name, measured, goal, verdict: one row of the table


def render(config: Config, measured: dict[str, Any], big: list[dict[str, Any]]) -> str:
    """The report: one markdown section per measurement, then every target's verdict."""
    targets: list[Target] = []
    sections = [
        _overhead_section(config, measured["overhead"], targets),
        _durable_section(measured["overhead"], targets),
        _makespan_section(config, measured["makespan"], targets),
        _sync_section(config, measured.get("sync", []), targets),
        _journal_modes_section(config, measured.get("journal", []), targets),
        _big_section(config, big, targets),
        ["### Targets", "", "| target | measured | goal | verdict |", "|---|---:|---:|---|"]
        + ["| " + " | ".join(row) + " |" for row in targets],
    ]
    return "\n\n".join("\n".join(section) for section in sections if section)


def _overhead_section(
    config: Config, overhead: list[tuple[Dag, dict[str, Timing]]], targets: list[Target]
) -> list[str]:
    lines = [
        "### Per-node orchestration overhead (no-op actions)",
        "",
        f"µs/node = run wall time / nodes; median of {config.reps} interleaved repetitions "
        f"(min-max), after {config.warmup} warm-up runs. Build = graph construction + "
        "prepare/compile, not in the run time.",
        "",
        "| graph | contender | µs/node median (min-max) | build ms | ÷ LangGraph | ÷ asyncio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for dag, timings in overhead:
        lg, base = timings["LangGraph"].median, timings["asyncio"].median
        for label, t in timings.items():
            lines.append(
                f"| {dag.name} ({dag.n} nodes, {len(dag.edges)} edges) | {label} | "
                f"{_spread(t, dag.n)} | {t.build_s * 1e3:,.0f} | {t.median / lg:.3f} | "
                f"{t.median / base:.2f} |"
            )
            if label.startswith("weft+trace"):
                targets.extend(_tracing_targets(dag, t, timings["weft"]))
            elif label == "weft":
                r_lg = t.median / lg
                name = f"weft / LangGraph per-node, {dag.name}"
                targets.append((name, f"{r_lg:.3f}", "≤ 0.1", verdict(r_lg <= 0.1)))
            elif label == "weft+journal":
                # Durable against bare: reported; the durable pair is judged in its section.
                r_lg = t.median / lg
                name = f"weft+journal / LangGraph per-node, {dag.name}"
                goal = "info (LangGraph without a checkpointer)"
                targets.append((name, f"{r_lg:.3f}", goal, "—"))
            if label in ("weft", "weft+journal"):
                r_base = t.median / base
                name = f"{label} / asyncio per-node, {dag.name}"
                targets.append((name, f"{r_base:.2f}", "≤ 10", verdict(r_base <= 10)))
    return lines


def _durable_section(
    overhead: list[tuple[Dag, dict[str, Timing]]], targets: list[Target]
) -> list[str]:
    """weft with its journal beside LangGraph with its SQLite checkpointer, per node."""
    lines = [
        "### Durable runs: weft's journal beside LangGraph's SQLite checkpointer",
        "",
        "The same runs as above. Each contender records every step in SQLite so that a "
        "run that died can be resumed: weft appends node events to its journal, LangGraph "
        'writes a checkpoint per superstep (`AsyncSqliteSaver`, `durability="async"`). '
        "What durability costs = durable run minus bare run, per node.",
        "",
        "| graph | weft+journal µs/node | LangGraph+sqlite µs/node | ÷ (weft / LangGraph) "
        "| journal costs µs/node | checkpointer costs µs/node |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for dag, timings in overhead:
        if "LangGraph+sqlite" not in timings:  # a report made without it (the smoke tests')
            continue
        weft, lg = timings["weft+journal"], timings["LangGraph+sqlite"]
        ratio = weft.median / lg.median
        journal = _us(weft.median - timings["weft"].median, dag.n)
        checkpointer = _us(lg.median - timings["LangGraph"].median, dag.n)
        lines.append(
            f"| {dag.name} | {_spread(weft, dag.n)} | {_spread(lg, dag.n)} | {ratio:.3f} "
            f"| {journal:,.1f} | {checkpointer:,.1f} |"
        )
        name = f"weft+journal / LangGraph+sqlite per-node, {dag.name}"
        targets.append((name, f"{ratio:.3f}", "≤ 0.1", verdict(ratio <= 0.1)))
    return lines


def _makespan_section(
    config: Config, makespan: list[tuple[Dag, dict[str, Timing]]], targets: list[Target]
) -> list[str]:
    lines = [
        "### Makespan vs critical path (nodes sleep)",
        "",
        f"Median of {config.makespan_reps} interleaved repetitions; critical path = longest "
        "path by node latency (the ideal makespan).",
        "",
        "| graph | critical path ms | contender | makespan ms (min-max) | ÷ critical path |",
        "|---|---:|---|---:|---:|",
    ]
    for dag, timings in makespan:
        cp = dag.critical_path_ms()
        for label in MAKESPAN_CONTENDERS:
            t = timings[label]
            ratio = t.median * 1e3 / cp
            lines.append(
                f"| {dag.name} ({dag.n} nodes) | {cp:,.1f} | {label} | {t.median * 1e3:,.1f} "
                f"({min(t.runs_s) * 1e3:,.1f}-{max(t.runs_s) * 1e3:,.1f}) | {ratio:.3f} |"
            )
            if label.startswith("weft"):
                name = f"{label} makespan / critical path, {dag.name}"
                targets.append((name, f"{ratio:.3f}", "≤ 1.05", verdict(ratio <= 1.05)))
    return lines


def _sync_section(
    config: Config, sync: list[tuple[Dag, dict[str, Timing]]], targets: list[Target]
) -> list[str]:
    """Plain ``def`` nodes that block: weft's worker threads against LangGraph's pool."""
    if not sync:  # a report made without it (the smoke tests' made-up results)
        return []
    threads = worker_threads()
    lines = [
        "### Sync tools (plain `def` nodes that block)",
        "",
        f"Every node is a plain function that blocks its thread with `time.sleep`. weft runs "
        f"each in its shared pool of worker threads ({threads} threads); LangGraph runs the "
        f"graph with `invoke`, its sync nodes in its thread pool, with as many threads "
        f"(`max_concurrency={threads}`) and with its default pool (`min(32, cores + 4)` = "
        f"{min(32, (os.cpu_count() or 1) + 4)} here). A fan-out wider than a pool runs in "
        f"waves: {config.sync_fanout} sleeps of {config.sync_sleep_ms:g} ms on {threads} "
        f"threads take at least {-(-config.sync_fanout // threads) * config.sync_sleep_ms:g} "
        f"ms. Median of {config.sync_reps} interleaved repetitions.",
        "",
        "| graph | critical path ms | contender | makespan ms (min-max) | ÷ critical path "
        "| ÷ LangGraph, same threads |",
        "|---|---:|---|---:|---:|---:|",
    ]
    same = f"LangGraph (def, {threads} threads)"
    for dag, timings in sync:
        cp = dag.critical_path_ms()
        lg = timings[same].median
        for label, t in timings.items():
            ratio, vs_lg = t.median * 1e3 / cp, t.median / lg
            lines.append(
                f"| {dag.name} ({dag.n} nodes) | {cp:,.1f} | {label} | {t.median * 1e3:,.1f} "
                f"({min(t.runs_s) * 1e3:,.1f}-{max(t.runs_s) * 1e3:,.1f}) | {ratio:.3f} "
                f"| {vs_lg:.3f} |"
            )
            if label.startswith("weft"):
                name = f"weft (def) / LangGraph (def) makespan, same threads, {dag.name}"
                targets.append((name, f"{vs_lg:.3f}", "≤ 1.0", verdict(vs_lg <= 1.0)))
                name = f"weft (def) makespan / critical path, {dag.name}"
                targets.append((name, f"{ratio:.3f}", "info", "—"))
    return lines


def _journal_modes_section(
    config: Config, modes: list[tuple[Dag, dict[str, Timing]]], targets: list[Target]
) -> list[str]:
    """What ``journal: durable`` costs against the default batched journal, per node."""
    if not modes:  # a report made without it (the smoke tests' made-up results)
        return []
    lines = [
        "### Journal modes: batched (default) against durable",
        "",
        "No-op nodes; the journal is a SQLite file on disk, kept across runs. `batched` "
        "commits every 2 ms (a crash may re-run the calls that finished in the last "
        "window); `durable` commits each finished call with `synchronous=FULL` (an fsync) "
        "before its dependents start, calls finishing in the same loop turn sharing one "
        f"commit. Median of {config.journal_reps} interleaved repetitions (min-max).",
        "",
        "| graph | bare µs/node | batched µs/node | durable µs/node | durable ÷ batched "
        "| durable costs µs/node |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for dag, timings in modes:
        bare, batched = timings["weft"], timings["weft+journal"]
        durable = timings["weft+journal-durable"]
        ratio = durable.median / batched.median
        extra = _us(durable.median - batched.median, dag.n)
        lines.append(
            f"| {dag.name} | {_spread(bare, dag.n)} | {_spread(batched, dag.n)} "
            f"| {_spread(durable, dag.n)} | {ratio:.1f} | {extra:,.1f} |"
        )
        name = f"durable / batched journal per-node, {dag.name}"
        targets.append((name, f"{ratio:.1f}", "info (the price of no re-run window)", "—"))
    return lines


def _big_section(config: Config, big: list[dict[str, Any]], targets: list[Target]) -> list[str]:
    nodes = config.big_layers * config.big_width
    lines = [
        f"### {nodes:,}-node run (layered {config.big_layers} x {config.big_width}, fan-in 3)",
        "",
        "Each contender in a fresh process. Peak RSS = peak resident set over the baseline "
        "before building (build + first run); tracemalloc peak = a later run alone.",
        "",
        "| contender | build s | first run s | run s median (min-max) | tracemalloc peak MB "
        "| peak RSS Δ MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in big:
        if r.get("over_budget") and "runs_s" not in r:
            first = f"{r['first_s']:.2f}" if "first_s" in r else "—"
            build = f"{r['build_s']:.2f}" if "build_s" in r else "—"
            lines.append(
                f"| {r['label']} | {build} | {first} | not run: build + first run exceeded "
                f"{config.lg_budget_s:.0f} s | — | — |"
            )
            continue
        runs = r["runs_s"]
        lines.append(
            f"| {r['label']} | {r['build_s']:.2f} | {r['first_s']:.2f} | "
            f"{statistics.median(runs):.3f} ({min(runs):.3f}-{max(runs):.3f}) | "
            f"{r['tracemalloc_peak_mb']:,.1f} | {r['peak_rss_mb']:,.1f} |"
        )
        if r["label"].startswith("weft"):
            run_s = statistics.median(runs)
            peak = max(r["tracemalloc_peak_mb"], r["peak_rss_mb"])
            name = f"{r['label']} {nodes:,}-node run time"
            targets.append((name, f"{run_s:.3f} s", "< 2 s", verdict(run_s < 2)))
            name = f"{r['label']} {nodes:,}-node peak memory (max of both)"
            targets.append((name, f"{peak:,.1f} MB", "< 300 MB", verdict(peak < 300)))
    return lines


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    ram = "?"
    try:
        with open("/proc/meminfo") as info:
            kb = next(int(line.split()[1]) for line in info if line.startswith("MemTotal"))
        ram = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    import weft

    return (
        f"{cpu}, {os.cpu_count()} cores ({usable} usable), {ram} RAM, "
        f"Python {platform.python_version()} ({platform.system()} {platform.release()}), "
        f"weft {weft.__version__}, langgraph {importlib.metadata.version('langgraph')}, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )


HEADER = """# Benchmark results

Each section below is one run of a script in `bench/`, newest last; the
section title names the benchmark, and each section lists the exact command,
the machine and the versions. To reproduce, from the project root with the dev
extras installed (`pip install -e '.[dev]'`, which brings langgraph):

    python bench/executor.py            # executor vs LangGraph vs asyncio, a few minutes
    python bench/executor.py --quick    # smaller smoke version (prints; --save appends)
    python bench/executor.py --profile  # cProfile of weft's per-node path (prints only)

What each benchmark measures and how is written at the top of its script. The
machine has few, noisy cores: compare ratios measured in the same run, not
absolute numbers across runs.
"""


def append_results(path: Path, command: str, table: str, mode: str, host: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"\n## Executor benchmark, {stamp} ({mode})\n\n"
        f"- command: `{command}`\n- machine: {host}\n\n{table}\n"
    )
    # the file is shared with the other benchmarks in bench/: add the header, keep the rest
    if not path.exists() or not path.read_text().startswith("# Benchmark results"):
        previous = path.read_text() if path.exists() else ""
        path.write_text(HEADER + previous)
    with path.open("a") as f:
        f.write(section)


def run_all(
    config: Config, *, out: Path | None, command: str, mode: str, quiet: bool = False
) -> str:
    """Measure everything, print the report, and append it to ``out`` when given."""

    def log(message: str) -> None:
        if not quiet:
            print(f"... {message}", file=sys.stderr, flush=True)

    host = machine()
    log(f"machine: {host}")
    measured = asyncio.run(measure(config, log))
    big = measure_big(config, log)
    table = render(config, measured, big)
    if not quiet:
        print(f"machine: {host}\ncommand: {command}\n")
        print(table)
    if out is not None:
        append_results(out, command, table, mode, host)
        log(f"appended to {out}")
    return table


def run_journal_modes(config: Config, *, out: Path | None, command: str) -> str:
    """Only section 5 (batched vs durable journal): print it, append it to ``out`` if given."""

    def log(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    host = machine()
    log(f"machine: {host}")
    targets: list[Target] = []
    modes = asyncio.run(measure_journal_modes(config, log))
    section = _journal_modes_section(config, modes, targets)
    table = "\n".join(section) + f"\n\nLoad average at the end: {os.getloadavg()[0]:.2f}."
    print(f"machine: {host}\ncommand: {command}\n\n{table}")
    if out is not None:
        append_results(out, command, table, "journal modes", host)
        log(f"appended to {out}")
    return table


def profile_weft(config: Config, top: int = 25) -> None:
    """cProfile weft's per-node path on the layered DAG, journal off then on (printed only).

    cProfile inflates the cost of small Python calls about threefold; read the
    shares, not the absolute times.
    """
    import cProfile
    import pstats

    dag = layered_dag(config.layers, config.width)
    for rival in (Weft(), Weft(journal=True)):
        built = rival.build(dag)
        profiler = cProfile.Profile()

        async def runs(
            built: Any = built, rival: Weft = rival, profiler: cProfile.Profile = profiler
        ) -> None:
            for _ in range(config.warmup):
                await rival.run(built)
            for _ in range(5):  # only the executor's run is profiled, not opening the journal
                with tempfile.TemporaryDirectory(prefix="weft-bench-") as tmp:
                    journal = Journal(Path(tmp) / "journal.db") if rival.journal else None
                    executor = Executor(journal=journal)
                    profiler.enable()
                    await executor.run(built, {"task": TASK})
                    profiler.disable()
                    if journal is not None:
                        journal.close()

        asyncio.run(runs())
        print(f"\n=== {rival.label}: {dag.name}, 5 runs of {dag.n} nodes ===")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--child-big"]:
        label, layers, width, reps, budget = args_list[1:6]
        report = asyncio.run(big_run(label, int(layers), int(width), int(reps), float(budget)))
        print(json.dumps(report))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument("--save", action="store_true", help="append a --quick run to RESULTS.md")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (markdown)")
    parser.add_argument(
        "--profile", action="store_true", help="only cProfile weft on the layered DAG and print"
    )
    parser.add_argument(
        "--only-journal-modes",
        action="store_true",
        help="only batched vs durable journal (section 5); appended like a full run",
    )
    args = parser.parse_args(args_list)
    config = Config.quick() if args.quick else Config()
    if args.profile:
        profile_weft(config)
        return 0
    command = "python bench/executor.py" + (" " + " ".join(args_list) if args_list else "")
    if args.only_journal_modes:
        save = not args.no_save
        run_journal_modes(config, out=args.out if save else None, command=command)
        return 0
    save = (args.save or not args.quick) and not args.no_save
    run_all(
        config,
        out=args.out if save else None,
        command=command,
        mode="quick" if args.quick else "full",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
