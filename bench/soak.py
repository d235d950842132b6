"""Soak benchmark: weft used the way a long-lived service uses it, watched for growth.

    python bench/soak.py            # full sizes (~5 minutes), appended to bench/RESULTS.md
    python bench/soak.py --quick    # smaller, printed only (add --save to keep it)
    python bench/soak.py --only local,remote   # some scenarios (local, traced, remote, cycles)

Every scenario samples the process's resources as it goes: RSS, open file
descriptors and threads (from ``/proc``), asyncio tasks and, after a
``gc.collect()``, the number of objects the collector tracks. Growth that
continues to the end of a scenario, rather than levelling off after warm-up,
is what a soak looks for. Latency is compared between the first and the last
window of the same scenario, and against a raw baseline in the same run.

1. local: one process, ``run_workflow`` of a small workflow (a plain ``def``
   tool, an ``async def`` tool over a ``foreach``, a conditional edge) N
   times, with the default journal and with none (tracing off in both). The
   raw baseline does the same work with ``asyncio.to_thread`` and
   ``asyncio.gather``, no weft.
2. traced: the same through ``run_workflow`` with its defaults (journal and
   trace store under ``$WEFT_HOME``): bytes of each store per run, and how
   long ``weft runs`` and ``weft trace ls`` take after the first window and
   at the end.
3. remote: ``--replicas`` ``weft agent serve`` processes of a tools module
   and this process calling ``RemoteAction.invoke`` N times, ``--concurrency``
   at once, on the broker given by ``--broker`` (the machine's Mosquitto on
   127.0.0.1:1883 by default). Half way, one replica gets SIGKILL and a fresh
   one is started. Every call's result is checked, and the served tool
   appends each call's key to a file, so a lost call or one run twice shows
   up. p50/p99 per window; resources of the caller and every agent at the
   start and the end. The raw baseline: the same number of request/replies
   with raw aiomqtt against ``bench/bus.py``'s raw workers, same concurrency.
4. cycles: connect to the broker, learn the agents (``remote_actions``), run
   a one-node workflow on an agent, disconnect; ``--cycles`` times in one
   process. The raw baseline: an aiomqtt client that connects, subscribes
   and disconnects as often.

Nothing here is a pass/fail test; ``tests/runtime/test_soak_release.py`` and
``tests/distributed/test_remote_caller_release.py`` check that resources come back.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import weft  # noqa: E402
from weft.protocols import ActionCall  # noqa: E402

RESULTS = HERE / "RESULTS.md"
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
SCENARIOS = ("local", "traced", "remote", "cycles")


@dataclass(frozen=True)
class Config:
    runs: int = 10_000  # scenarios 1 and 2, per mode
    window: int = 1_000  # runs or calls per sample
    calls: int = 10_000  # scenario 3
    concurrency: int = 32
    replicas: int = 4
    cycles: int = 500  # scenario 4
    cycle_window: int = 50

    @classmethod
    def quick(cls) -> Config:
        return cls(runs=2_000, window=200, calls=2_000, cycles=100, cycle_window=10)


# -- resources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """What a process holds at one moment; ``tasks``/``objects`` only for this process."""

    rss_kb: int
    fds: int
    threads: int
    tasks: int = -1
    objects: int = -1

    def row(self) -> str:
        extra = f" | {self.tasks} | {self.objects:,}" if self.tasks >= 0 else " | — | —"
        return f"{self.rss_kb / 1024:.1f} MB | {self.fds} | {self.threads}{extra}"


def resources(pid: int | None = None) -> Resources:
    """RSS, fds and threads of ``pid`` (this process when None) read from ``/proc``."""
    where = f"/proc/{pid if pid is not None else 'self'}"
    with open(f"{where}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    fds = len(os.listdir(f"{where}/fd"))
    threads = len(os.listdir(f"{where}/task"))
    if pid is not None:
        return Resources(rss, fds, threads)
    gc.collect()
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:  # no running loop
        tasks = 0
    return Resources(rss, fds, threads, tasks, len(gc.get_objects()))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# -- 1 and 2: in one process ---------------------------------------------------------------


def split_words(text: str) -> list[str]:
    """The plain ``def`` tool: runs in a worker thread."""
    return text.split()


async def shout(word: str) -> str:
    """The ``async def`` tool of the foreach: runs on the loop."""
    return word.upper()


def count_words(words: list[str]) -> int:
    return len(words)


async def long_text(count: int) -> str:
    """Taken only when the conditional edge holds (``output > 2``)."""
    return "long" if count > 2 else "short"


def soak_workflow() -> weft.Workflow:
    """Four nodes: thread tool, a foreach of an async tool, thread tool, a conditional edge."""
    wf = weft.Workflow("soak")
    split = wf.node("split", weft.tool(split_words), with_={"text": "${inputs.text}"})
    each = wf.node(
        "shout", weft.tool(shout), after=split, foreach="${split}", with_={"word": "${item}"}
    )
    wf.node("count", weft.tool(count_words), after=each, with_={"words": "${shout}"})
    wf.node("long", weft.tool(long_text), with_={"count": "${count}"})
    wf.edge("count", "long", when="output > 2")
    return wf


TEXT = "to be or not to be"


async def raw_run(text: str) -> str:
    """Scenario 1's work without weft: the floor a run's latency is compared with."""
    words = await asyncio.to_thread(split_words, text)
    shouted = await asyncio.gather(*(shout(w) for w in words))
    count = await asyncio.to_thread(count_words, list(shouted))
    return await long_text(count) if count > 2 else ""


@dataclass
class Soak:
    """Samples of one soak: resources every window, and each run's latency."""

    name: str
    samples: list[tuple[int, Resources]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def window_p(self, window: int, q: float, last: bool = False) -> float:
        part = self.latencies[-window:] if last else self.latencies[:window]
        return percentile(part, q)


async def soak_local(name: str, config: Config, log: Callable[[str], None], **options: Any) -> Soak:
    """``config.runs`` runs of ``soak_workflow`` through ``run_workflow(**options)``."""
    wf = soak_workflow()
    soak = Soak(name)
    soak.samples.append((0, resources()))
    for i in range(1, config.runs + 1):
        start = time.perf_counter()
        result = await weft.run_workflow(wf, {"text": TEXT}, **options)
        soak.latencies.append(time.perf_counter() - start)
        if not result.ok or result.outputs.get("long") != "long":
            raise RuntimeError(f"run {i} of {name}: {result.state} {result.error}")
        if i % config.window == 0:
            soak.samples.append((i, resources()))
            if options.get("tracer", True) is None:
                soak.extra.setdefault("sizes", []).append((i, store_sizes()))
            if i == config.window and "sizes" in soak.extra:
                soak.extra["cli_first"] = time_cli()
    last_p50 = ms(soak.window_p(config.window, 0.5, last=True))
    log(f"{name}: {config.runs} runs, last window p50 {last_p50} ms")
    return soak


async def soak_raw(config: Config) -> Soak:
    soak = Soak("raw (asyncio, no weft)")
    for _ in range(config.window):
        start = time.perf_counter()
        await raw_run(TEXT)
        soak.latencies.append(time.perf_counter() - start)
    return soak


def store_sizes() -> tuple[int, int]:
    """Bytes on disk of ``$WEFT_HOME``'s journal and trace store (with their -wal files)."""
    home = Path(os.environ["WEFT_HOME"])

    def size(name: str) -> int:
        return sum(p.stat().st_size for p in home.glob(name + "*") if p.is_file())

    return size("journal.db"), size("traces.db")


def time_cli() -> dict[str, float]:
    """Seconds ``weft runs`` and ``weft trace ls`` take (one process each), and ``weft --help``."""
    timings = {}
    for label, args in (("--help", ["--help"]), ("runs", ["runs"]), ("trace ls", ["trace", "ls"])):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "weft", *args], check=True, capture_output=True)
        timings[label] = time.perf_counter() - start
    return timings


# -- 3 and 4: agents on a broker ---------------------------------------------------------

TOOLS = '''"""The tools served by bench/soak.py's agents."""

import os

import weft


@weft.tool
async def soak_echo(key: str, log: str) -> str:
    """Append ``key pid`` to ``log`` (one O_APPEND write), return ``key``."""
    with open(log, "a") as f:
        f.write(f"{key} {os.getpid()}\\n")
    return key
'''


@dataclass
class Agents:
    """``weft agent serve`` processes of ``soak_echo`` in one namespace."""

    url: str
    folder: Path
    ns: str = field(default_factory=lambda: f"soak{uuid.uuid4().hex[:8]}")
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    module: str = field(default_factory=lambda: f"soak_tools_{uuid.uuid4().hex[:8]}")

    def start(self, count: int) -> None:
        (self.folder / f"{self.module}.py").write_text(TOOLS)
        for _ in range(count):
            self.spawn()

    def spawn(self) -> subprocess.Popen[bytes]:
        err = (self.folder / f"{self.ns}-{len(self.processes)}.err").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "weft", "agent", "serve", f"{self.module}:soak_echo",
             "--path", str(self.folder), "--broker", self.url, "--namespace", self.ns],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
        )  # fmt: skip
        err.close()
        self.processes.append(process)
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def stop(self) -> None:
        for process in self.alive():
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def echo_workflow(log: Path) -> weft.Workflow:
    wf = weft.Workflow("soak-remote")
    wf.node("echo", "soak_echo", with_={"key": "${inputs.key}", "log": str(log)})
    return wf


async def wait_for_agents(url: str, ns: str, count: int, timeout: float = 60) -> None:
    """Until ``count`` agents of ``ns`` have published their cards."""
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    async with MqttBus(url, namespace=ns) as bus, LiveRegistry(bus) as registry:
        async with asyncio.timeout(timeout):
            while len(list(registry.agents())) < count:
                await asyncio.sleep(0.05)


@dataclass
class Remote:
    calls: int = 0
    windows: list[tuple[int, float, float]] = field(default_factory=list)  # end, p50, p99
    raw: tuple[float, float] = (0.0, 0.0)
    caller: list[tuple[str, Resources]] = field(default_factory=list)
    agents_start: list[Resources] = field(default_factory=list)
    agents_mid: list[Resources] = field(default_factory=list)
    agents_end: list[Resources] = field(default_factory=list)
    bus_filters: tuple[int, int] = (0, 0)
    lost: int = 0
    run_twice: int = 0
    twice_on_killed: int = 0
    wrong: int = 0
    restart_at: int = 0
    restart_s: float = 0.0
    elapsed_s: float = 0.0
    raw_elapsed_s: float = 0.0


def bus_filters(bus: Any) -> int:
    """Topic filters plus subscription identifiers an ``MqttBus`` holds (both should stay flat)."""
    return len(bus._filters) + len(bus._by_id)


async def soak_remote(url: str, config: Config, folder: Path, log: Callable[[str], None]) -> Remote:
    from weft.runtime.remote.distributed import remote_actions
    from weft.runtime.remote.remote_action import RemoteAction

    report = Remote(calls=config.calls)
    agents = Agents(url, folder)
    agents.start(config.replicas)
    effects = folder / f"{agents.ns}.log"
    wf = echo_workflow(effects)
    try:
        await wait_for_agents(url, agents.ns, config.replicas)
        async with remote_actions(url, wf, namespace=agents.ns, wait=60) as actions:
            echo = actions.get("soak_echo")
            assert isinstance(echo, RemoteAction)
            bus = echo.bus
            for i in range(100):  # warm-up, not counted
                warm = {"key": f"w{i}", "log": "/dev/null"}
                await echo.invoke(ActionCall(action="soak_echo", arguments=warm))
            report.caller.append(("start", resources()))
            report.agents_start = [resources(p.pid) for p in agents.alive()]
            start_filters = bus_filters(bus)
            keys = iter(range(config.calls))
            latencies: list[float] = [0.0] * config.calls
            done = 0
            killed: list[int] = []
            restart = asyncio.Event()

            async def worker() -> None:
                nonlocal done
                for i in keys:
                    key = f"k{i}"
                    begin = time.perf_counter()
                    result = await echo.invoke(
                        ActionCall(action="soak_echo", arguments={"key": key, "log": str(effects)})
                    )
                    latencies[i] = time.perf_counter() - begin
                    if not result.ok or result.output != key:
                        report.wrong += 1
                    done += 1
                    if done == config.calls // 2:
                        restart.set()

            async def chaos() -> None:
                await restart.wait()
                victim = agents.alive()[0]
                killed.append(victim.pid)
                report.restart_at = done
                begin = time.perf_counter()
                victim.send_signal(signal.SIGKILL)
                agents.spawn()
                await wait_for_agents(url, agents.ns, config.replicas)
                report.restart_s = time.perf_counter() - begin
                report.caller.append((f"replica replaced ({done:,} calls)", resources()))
                report.agents_mid = [resources(p.pid) for p in agents.alive()]

            begin = time.perf_counter()
            chaos_task = asyncio.create_task(chaos())
            await asyncio.gather(*(worker() for _ in range(config.concurrency)))
            report.elapsed_s = time.perf_counter() - begin
            await chaos_task
            for end in range(config.window, config.calls + 1, config.window):
                part = latencies[end - config.window : end]
                report.windows.append((end, percentile(part, 0.5), percentile(part, 0.99)))
            report.caller.append(("end", resources()))
            report.agents_end = [resources(p.pid) for p in agents.alive()]
            report.bus_filters = (start_filters, bus_filters(bus))
        report.caller.append(("disconnected", resources()))
    finally:
        agents.stop()
    lines = [line.split() for line in effects.read_text().splitlines()] if effects.exists() else []
    counts = Counter(fields[0] for fields in lines)
    first_pid: dict[str, int] = {}
    for key, pid in lines:
        first_pid.setdefault(key, int(pid))
    report.lost = sum(1 for i in range(config.calls) if f"k{i}" not in counts)
    report.run_twice = sum(n - 1 for n in counts.values() if n > 1)
    report.twice_on_killed = sum(
        n - 1 for key, n in counts.items() if n > 1 and first_pid[key] in killed
    )
    report.raw, report.raw_elapsed_s = await raw_remote(url, config)
    log(f"remote: {config.calls} calls in {report.elapsed_s:.1f}s, lost {report.lost}")
    return report


async def raw_remote(url: str, config: Config) -> tuple[tuple[float, float], float]:
    """p50/p99 and elapsed time of ``config.calls`` raw aiomqtt request/replies (bench/bus.py)."""
    import bus as busbench  # bench/bus.py: its raw workers and raw caller

    latencies: list[float] = []
    async with (
        busbench.Workers("raw", url, config.replicas) as workers,
        busbench.caller("raw", url, workers.topic) as request,
    ):
        remaining = iter(range(config.calls))

        async def worker() -> None:
            for _ in remaining:
                begin = time.perf_counter()
                await request()
                latencies.append(time.perf_counter() - begin)

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(config.concurrency)))
        elapsed = time.perf_counter() - begin
    return (percentile(latencies, 0.5), percentile(latencies, 0.99)), elapsed


@dataclass
class Cycles:
    cycles: int = 0
    samples: list[tuple[int, Resources]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    raw_latencies: list[float] = field(default_factory=list)
    raw_samples: list[tuple[int, Resources]] = field(default_factory=list)
    agent: tuple[Resources, Resources] | None = None


async def soak_cycles(url: str, config: Config, folder: Path, log: Callable[[str], None]) -> Cycles:
    """Connect, run one node on an agent, disconnect: ``config.cycles`` times."""
    from weft.runtime.remote.distributed import remote_actions

    report = Cycles(cycles=config.cycles)
    agents = Agents(url, folder)
    agents.start(1)
    effects = folder / f"{agents.ns}.log"
    wf = echo_workflow(effects)
    try:
        await wait_for_agents(url, agents.ns, 1)
        agent_pid = agents.processes[0].pid
        agent_start: Resources | None = None
        for i in range(1, config.cycles + 1):
            begin = time.perf_counter()
            async with remote_actions(url, wf, namespace=agents.ns, wait=60) as actions:
                result = await weft.run_workflow(
                    wf, {"key": f"c{i}"}, actions=actions, journal=False, tracer=False
                )
            report.latencies.append(time.perf_counter() - begin)
            if not result.ok:
                raise RuntimeError(f"cycle {i}: {result.state} {result.error}")
            if i == 1:
                report.samples.append((0, resources()))
                agent_start = resources(agent_pid)
            if i % config.cycle_window == 0:
                report.samples.append((i, resources()))
        assert agent_start is not None
        report.agent = (agent_start, resources(agent_pid))
    finally:
        agents.stop()
    await raw_cycles(url, config, report)
    log(f"cycles: {config.cycles} in {sum(report.latencies):.1f}s")
    return report


async def raw_cycles(url: str, config: Config, report: Cycles) -> None:
    """The floor of a cycle: an aiomqtt client connects, subscribes to its reply topic,
    makes one request/reply to a raw worker (``bench/bus.py``), disconnects."""
    import bus as busbench

    async with busbench.Workers("raw", url, 1) as worker:
        for i in range(1, config.cycles + 1):
            begin = time.perf_counter()
            async with busbench.caller("raw", url, worker.topic) as request:
                await request()
            report.raw_latencies.append(time.perf_counter() - begin)
            if i == 1:
                report.raw_samples.append((0, resources()))
            if i % config.cycle_window == 0:
                report.raw_samples.append((i, resources()))


# -- report --------------------------------------------------------------------------------


def growth(samples: list[tuple[int, Resources]]) -> str:
    """RSS growth over the second half of the samples, per 1,000 runs: the steady-state slope."""
    if len(samples) < 3:
        return "—"
    (n0, r0), (n1, r1) = samples[len(samples) // 2], samples[-1]
    per_k = (r1.rss_kb - r0.rss_kb) / max(n1 - n0, 1) * 1000
    return f"{per_k:+.0f} KB / 1,000 (runs {n0:,}→{n1:,})"


def render_samples(title: str, samples: list[tuple[int, Resources]], unit: str = "runs") -> str:
    lines = [f"| {title}: {unit} | RSS | fds | threads | asyncio tasks | gc objects |",
             "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {n:,} | {r.row()} |" for n, r in samples]
    return "\n".join(lines)


def render_local(config: Config, soaks: list[Soak], raw: Soak) -> str:
    w = config.window
    out = [
        f"### 1. One process, `run_workflow` x {config.runs:,} (def tool, foreach of an async "
        "tool, conditional edge; tracing off)\n",
        f"| mode | p50 first {w:,} | p50 last {w:,} | last/first | p99 last {w:,} | "
        "vs raw p50 | RSS slope, 2nd half |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    raw_p50 = raw.window_p(w, 0.5)
    for soak in soaks:
        first, last = soak.window_p(w, 0.5), soak.window_p(w, 0.5, True)
        out.append(
            f"| {soak.name} | {ms(first)} ms | {ms(last)} ms | {last / first:.2f} | "
            f"{ms(soak.window_p(w, 0.99, True))} ms | {last / raw_p50:.1f}x | "
            f"{growth(soak.samples)} |"
        )
    out.append(f"| {raw.name} | {ms(raw_p50)} ms | | | {ms(raw.window_p(w, 0.99))} ms | 1x | |")
    for soak in soaks:
        out += ["", render_samples(soak.name, soak.samples)]
    return "\n".join(out)


def render_traced(config: Config, soak: Soak) -> str:
    sizes: list[tuple[int, tuple[int, int]]] = soak.extra.get("sizes", [])
    out = [
        f"### 2. `run_workflow` with its defaults (journal + trace store in $WEFT_HOME) "
        f"x {config.runs:,}\n",
        "| runs | journal.db (+ -wal) | per run since last row | traces.db (+ -wal) "
        "| per run since last row |",
        "|---:|---:|---:|---:|---:|",
    ]
    previous = (0, (0, 0))
    for n, (journal, traces) in sizes:
        runs = n - previous[0]
        out.append(
            f"| {n:,} | {journal / 2**20:.1f} MB | {(journal - previous[1][0]) / runs:+,.0f} B | "
            f"{traces / 2**20:.1f} MB | {(traces - previous[1][1]) / runs:+,.0f} B |"
        )
        previous = (n, (journal, traces))
    first, last = soak.extra.get("cli_first", {}), soak.extra.get("cli_last", {})
    out += ["", f"| command | after {config.window:,} runs | after {config.runs:,} runs |",
            "|---|---:|---:|"]  # fmt: skip
    for label in ("--help", "runs", "trace ls"):
        out.append(f"| `weft {label}` | {first.get(label, 0):.2f} s | {last.get(label, 0):.2f} s |")
    w = config.window
    first_p, last_p = soak.window_p(w, 0.5), soak.window_p(w, 0.5, True)
    out += [
        "",
        f"Run p50: first {w:,} {ms(first_p)} ms, last {w:,} {ms(last_p)} ms "
        f"({last_p / first_p:.2f}x); RSS slope in the 2nd half: {growth(soak.samples)}.",
        "",
        render_samples("traced", soak.samples),
    ]
    return "\n".join(out)


def render_remote(config: Config, r: Remote) -> str:
    out = [
        f"### 3. Remote: {r.calls:,} `RemoteAction.invoke` calls, concurrency "
        f"{config.concurrency}, {config.replicas} `weft agent serve` replicas; one replica "
        f"SIGKILLed and replaced after {r.restart_at:,} calls\n",
        f"Elapsed {r.elapsed_s:.1f} s ({r.calls / r.elapsed_s:,.0f} calls/s); raw aiomqtt "
        f"request/reply, same broker and concurrency: {r.raw_elapsed_s:.1f} s. Lost: "
        f"{r.lost}; wrong result: {r.wrong}; run twice: {r.run_twice} (of which first run "
        f"on the killed replica: {r.twice_on_killed}). Replacement up in {r.restart_s:.1f} s. "
        f"Caller's bus filters + subscription ids: {r.bus_filters[0]} at start, "
        f"{r.bus_filters[1]} at end.",
        "",
        "| calls | p50 | p99 | p50 vs raw |",
        "|---:|---:|---:|---:|",
    ]
    raw_p50, raw_p99 = r.raw
    for end, p50, p99 in r.windows:
        out.append(f"| {end:,} | {ms(p50)} ms | {ms(p99)} ms | {p50 / raw_p50:.2f}x |")
    out.append(f"| raw aiomqtt | {ms(raw_p50)} ms | {ms(raw_p99)} ms | 1x |")
    out += ["", "| process | when | RSS | fds | threads | asyncio tasks | gc objects |",
            "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    out += [f"| caller | {when} | {res.row()} |" for when, res in r.caller]
    for i, res in enumerate(r.agents_start):
        out.append(f"| agent {i} | start | {res.row()} |")
    for i, res in enumerate(r.agents_mid):
        out.append(f"| agent {i} | replica replaced | {res.row()} |")
    for i, res in enumerate(r.agents_end):
        out.append(f"| agent {i} | end | {res.row()} |")
    out.append("\n(From the replacement on, agent 0 is the first survivor, the new one last.)")
    return "\n".join(out)


def render_cycles(config: Config, c: Cycles) -> str:
    n, w = c.cycles, config.cycle_window
    first, last = percentile(c.latencies[:w], 0.5), percentile(c.latencies[-w:], 0.5)
    raw_p50 = percentile(c.raw_latencies, 0.5)
    out = [
        f"### 4. Connect, run one remote node, disconnect, x {n:,} in one process\n",
        f"Cycle p50: first {w} {ms(first)} ms, last {w} {ms(last)} ms; raw aiomqtt "
        f"connect + subscribe + one request/reply + disconnect p50 {ms(raw_p50)} ms "
        f"({last / raw_p50:.1f}x).",
        "",
        render_samples("weft", c.samples, "cycles"),
        "",
        render_samples("raw aiomqtt", c.raw_samples, "cycles"),
    ]
    if c.agent is not None:
        out += ["", f"The agent served every cycle: {c.agent[0].row().split(' | — ')[0]} after "
                f"the first, {c.agent[1].row().split(' | — ')[0]} after the last "
                "(RSS | fds | threads)."]  # fmt: skip
    return "\n".join(out)


# -- main ----------------------------------------------------------------------------------


async def run(
    config: Config, scenarios: set[str], url: str, folder: Path, log: Callable[[str], None]
) -> list[str]:
    sections = []
    home = folder / "home"
    os.environ["WEFT_HOME"] = str(home)  # the agents share it: one key, so trusted
    if "local" in scenarios:
        os.environ["WEFT_HOME"] = str(folder / "home-local")
        soaks = [
            await soak_local("journal on (default)", config, log, tracer=False),
            await soak_local("journal off", config, log, journal=False, tracer=False),
        ]
        sections.append(render_local(config, soaks, await soak_raw(config)))
    if "traced" in scenarios:
        os.environ["WEFT_HOME"] = str(folder / "home-traced")
        soak = await soak_local("traced", config, log, journal=None, tracer=None)
        soak.extra["cli_last"] = time_cli()
        sections.append(render_traced(config, soak))
    os.environ["WEFT_HOME"] = str(home)
    if "remote" in scenarios:
        sections.append(render_remote(config, await soak_remote(url, config, folder, log)))
    if "cycles" in scenarios:
        sections.append(render_cycles(config, await soak_cycles(url, config, folder, log)))
    return sections


def append_results(path: Path, command: str, body: str, mode: str, machine: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with path.open("a") as f:
        f.write(f"\n## Soak benchmark, {stamp} ({mode})\n\n- command: `{command}`\n"
                f"- machine: {machine}\n\n{body}\n")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--save", action="store_true", help="append a --quick run to RESULTS.md")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (markdown)")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help="broker URL for 3 and 4")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated")
    parser.add_argument("--runs", type=int, help="runs per mode in 1 and 2")
    parser.add_argument("--calls", type=int, help="calls in 3")
    parser.add_argument("--cycles", type=int, help="cycles in 4")
    args = parser.parse_args(args_list)
    config = Config.quick() if args.quick else Config()
    for name in ("runs", "calls", "cycles"):
        if getattr(args, name) is not None:
            config = dataclasses.replace(config, **{name: getattr(args, name)})
    scenarios = set(args.only.split(","))
    if scenarios - set(SCENARIOS):
        parser.error(f"--only: unknown {sorted(scenarios - set(SCENARIOS))}; known: {SCENARIOS}")
    save = (args.save or not args.quick) and not args.no_save
    command = "python bench/soak.py" + (" " + " ".join(args_list) if args_list else "")

    def log(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    import bus as busbench

    machine = busbench.machine()
    with tempfile.TemporaryDirectory(prefix="weft-soak-") as tmp:
        sections = asyncio.run(run(config, scenarios, args.broker, Path(tmp), log))
    body = f"Broker: {args.broker}; threads of this process at the end: " \
        f"{threading.active_count()}.\n\n" + "\n\n".join(sections)  # fmt: skip
    print(f"machine: {machine}\ncommand: {command}\n\n{body}")
    if save:
        append_results(args.out, command, body, "quick" if args.quick else "full", machine)
        log(f"appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
