"""The MQTT half of ``bench/topologies.py``: card sync at scale and MacNet over live agents.

Also the worker processes it measures in (a fresh process each, so peak RSS
is the measured client's own):

    python bench/topology_mqtt.py --worker raw URL NAMESPACE N       # bare aiomqtt
    python bench/topology_mqtt.py --worker registry URL NAMESPACE N  # LiveRegistry.start()

Each prints one JSON line: ``seconds`` (connect to last card), ``cards``, ``rss_mb``
(``VmHWM``: ``ru_maxrss`` of a child keeps its parent's peak across exec).
``weft agents --json`` runs as the CLI does (``AGENTS_COMMAND``), timed whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AGENTS = str(HERE / "topology_agents.py") + ":actions"


@dataclass
class Sizes:
    nodes: tuple[int, ...] = (100, 1_000, 10_000)
    mesh_max: int = 100
    repeats: int = 3
    token_nodes: tuple[int, ...] = (100, 1_000, 10_000)
    history_max: int = 1_000
    cards: tuple[int, ...] = (1_000, 10_000)
    sync_repeats: int = 3
    hosts: int = 4
    agents: int = 10_000
    macnet: tuple[int, ...] = (100, 1_000)
    heartbeat: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            nodes=(20, 100),
            mesh_max=20,
            repeats=1,
            token_nodes=(20, 50),
            history_max=50,
            cards=(50,),
            sync_repeats=1,
            hosts=2,
            agents=40,
            macnet=(20,),
        )


# -- workers ---------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's peak RSS (``VmHWM``: ``ru_maxrss`` keeps the parent's across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: ``weft agents --json`` as the CLI runs it, in a fresh interpreter that reports its
#: peak RSS on stderr when it exits (the cards go to stdout, counted untimed afterwards).
AGENTS_COMMAND = """
import atexit, json, sys
from weft.cli._app import main
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print(json.dumps({"rss_mb": int(line.split()[1]) / 1024}), file=sys.stderr)
atexit.register(report)
sys.argv = ["weft", "agents", "--json", "--broker", sys.argv[1], "--namespace", sys.argv[2]]
main()
"""


async def raw_worker(url: str, ns: str, n: int) -> dict[str, Any]:
    import aiomqtt

    from weft.runtime.bus.mqtt.mqtt_bus import parse_broker_url

    address = parse_broker_url(url)
    started = time.perf_counter()
    count = 0
    async with aiomqtt.Client(
        address.host, address.port, protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.subscribe(f"weft/{ns}/cards/+", qos=0)
        async for _message in client.messages:
            count += 1
            if count >= n:
                break
    return {"seconds": time.perf_counter() - started, "cards": count, "rss_mb": rss_mb()}


async def registry_worker(url: str, ns: str, n: int) -> dict[str, Any]:
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    started = time.perf_counter()
    async with MqttBus(url, namespace=ns) as bus:
        registry = LiveRegistry(bus)
        await registry.start(sync_timeout=120.0)
        seconds = time.perf_counter() - started
        cards = len(registry.agents())
        await registry.close()
    return {"seconds": seconds, "cards": cards, "rss_mb": rss_mb()}


def worker_main(kind: str, url: str, ns: str, n: str) -> int:
    work = raw_worker if kind == "raw" else registry_worker
    print(json.dumps(asyncio.run(work(url, ns, int(n)))))
    return 0


# -- measuring in fresh processes ---------------------------------------------------------


def measure(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv``: its wall time, and the JSON line it printed last (on stdout or stderr);
    ``cards`` counts the items of a JSON list it printed, read after the clock stopped."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _pid, status, _usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, problem = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:5])} failed: {problem.decode()[-2000:]}")
    reported: dict[str, Any] = {}
    for stream in (problem, text):
        lines = stream.decode().strip().splitlines()
        if lines and lines[-1].startswith("{"):
            reported.update(json.loads(lines[-1]))
    if text.startswith(b"["):
        reported["cards"] = len(orjson.loads(text))
    return {"wall": wall, **reported}


def sync_rows(url: str, ns: str, n: int, repeats: int, env: dict[str, str]) -> list[str]:
    """Raw aiomqtt, LiveRegistry and ``weft agents --json`` on the same ``n`` cards.

    ``weft agents`` twice: with its signature cache emptied before each run
    (the first listing on a machine: every signature checked) and with the
    cache the previous run left (a listing after one: only changed cards checked).
    """
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    agents = [sys.executable, "-c", AGENTS_COMMAND, url, ns]
    cache = Path(env["WEFT_HOME"]) / "cache" / "verified-cards"
    argvs = {
        "bare aiomqtt (receive only)": [*me, "raw", url, ns, str(n)],
        "LiveRegistry.start()": [*me, "registry", url, ns, str(n)],
        "weft agents --json, first listing (whole command)": agents,
        "weft agents --json, listed before (whole command)": agents,
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in argvs}
    for _ in range(repeats):  # interleaved: load changes hit all of them alike
        for name, argv in argvs.items():
            if "first listing" in name:
                cache.unlink(missing_ok=True)
            results[name].append(measure(argv, env))
    rows = []
    raw = statistics.median(r["seconds"] for r in results["bare aiomqtt (receive only)"])
    for name, runs in results.items():
        seconds = statistics.median(r.get("seconds", r["wall"]) for r in runs)
        rss = statistics.median(r["rss_mb"] for r in runs)
        cards = runs[-1]["cards"]
        rows.append(
            f"| {n:,} | {name} | {seconds:.2f} | {seconds / raw:.2f}x | {rss:.0f} | {cards:,} |"
        )
    return rows


SYNC_HEADER = (
    "| cards | client | seconds (median) | vs bare aiomqtt | peak RSS (MiB) | received |\n"
    "|---:|---|---:|---:|---:|---:|"
)


def bench_env(home: str) -> dict[str, str]:
    return {**os.environ, "WEFT_HOME": home, "PYTHONPATH": str(ROOT)}


@contextlib.contextmanager
def weft_home() -> Iterator[str]:
    """A fresh ``$WEFT_HOME`` for this process and the ones it starts: its key is a local key,
    so every card it signs is trusted; the previous value comes back afterwards."""
    before = os.environ.get("WEFT_HOME")
    with tempfile.TemporaryDirectory(prefix="weft-bench-home-") as home:
        os.environ["WEFT_HOME"] = home
        try:
            yield home
        finally:
            if before is None:
                os.environ.pop("WEFT_HOME", None)
            else:
                os.environ["WEFT_HOME"] = before


# -- section 3: retained copies of one card --------------------------------------------------


async def publish_copies(url: str, ns: str, n: int) -> None:
    """``n`` copies of the README counter agent's card, other ids, signed by this home's key."""
    from weft import tool
    from weft.protocols import MessageProperties
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.agent_host import AgentHost
    from weft.runtime.remote.card_signing import AgentKey, signed_card_json

    @tool
    def sentences(text: str) -> list[str]:
        """Split a text into sentences."""
        return [s.strip() for s in text.split(".") if s.strip()]

    @tool
    def count_words(sentence: str) -> int:
        """Count the words of one sentence."""
        return len(sentence.split())

    @tool
    def total(counts: list[int]) -> int:
        """Add the counts up."""
        return sum(counts)

    key = AgentKey.load_or_create()
    async with MqttBus(url, namespace=ns) as bus:
        host = AgentHost(bus, [sentences, count_words, total], agent_id="counter", key=key)
        pending = []
        for i in range(n):
            host.agent_id = f"counter-{i:05d}"
            card = host.card()
            card.seq = 1
            pending.append(
                bus.publish(
                    bus.topics.card(host.agent_id),
                    signed_card_json(card, key),
                    qos=1,
                    retain=True,
                    properties=MessageProperties(message_expiry=3600),
                )
            )
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)


async def registry_section(sizes: Sizes, log: Callable[[str], None]) -> str:
    from weft.runtime.bus.mqtt.broker import MosquittoBroker

    rows = []
    with weft_home() as home:
        async with MosquittoBroker() as broker:
            for n in sizes.cards:
                ns = f"copies-{n}"
                await publish_copies(broker.url, ns, n)
                log(f"registry: {n} cards retained")
                rows += await asyncio.to_thread(
                    sync_rows, broker.url, ns, n, sizes.sync_repeats, bench_env(home)
                )
    return (
        "### Registry sync: retained copies of the counter agent's card (~2.2 kB)\n\n"
        + SYNC_HEADER
        + "\n"
        + "\n".join(rows)
        + "\n\nweft agents: wall time of the whole command (Python start-up, imports, sync, "
        "trust, JSON out); first listing: every card's Ed25519 signature checked (on both "
        "cores); listed before: the signature cache ($WEFT_HOME/cache) knows the cards. The "
        "others from connect to the last card. Peak RSS: each process's own ``VmHWM``; "
        "the load average at the start is in the machine line."
    )


# -- section 4: live agents ------------------------------------------------------------------


async def start_hosts(
    url: str, ns: str, sizes: Sizes, env: dict[str, str], logs: Path
) -> list[Any]:
    share = sizes.agents // sizes.hosts
    procs = []
    for h in range(sizes.hosts):
        with (logs / f"host-{h}.log").open("wb") as log:
            procs.append(
                await asyncio.create_subprocess_exec(
                sys.executable, "-m", "weft", "agent", "serve", AGENTS, "--agent-per-action",
                "--broker", url, "--namespace", ns, "--heartbeat", str(sizes.heartbeat),
                "--log-level", "WARNING",
                env={**env, "WEFT_NODES_FIRST": str(h * share), "WEFT_NODES_COUNT": str(share)},
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT,
            )
        )  # fmt: skip
    return procs


def all_up(registry: Any, procs: list[Any], n: int, logs: Path) -> bool:
    """Whether ``n`` agents are registered; raises with its log when a host process died."""
    for h, proc in enumerate(procs):
        if proc.returncode is not None:
            tail = (logs / f"host-{h}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"host process {h} exited {proc.returncode}:\n{tail}")
    return len(registry.agents()) >= n


async def stop_hosts(procs: list[Any]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
    for proc in procs:
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def macnet_row(registry: Any, n: int) -> str:
    from weft.runtime import Executor, compile_workflow
    from weft.workflows.casting import per_node
    from weft.workflows.topologies import generate

    actors = per_node(lambda _node, i: registry.remote(f"node-{i}"))
    workflow = generate("layered", n, actors)
    built = compile_workflow(workflow)
    started = time.perf_counter()
    result = await Executor().run(built, {"task": "t" * 100})
    seconds = time.perf_counter() - started
    agents = {o.agent for o in result.nodes.values()}
    if not result.ok or len(agents) != n:
        raise RuntimeError(f"macnet {n}: {result.state}, {len(agents)} agents: {result.error}")
    edges = sum(len(node.after) for node in workflow.build().nodes.values())
    return (
        f"| layered, {n:,} nodes, {edges:,} edges | {n:,} | {seconds:.2f} | "
        f"{seconds / n * 1e3:.2f} |"
    )


async def agents_section(sizes: Sizes, log: Callable[[str], None]) -> str:
    from weft.runtime.bus.mqtt.broker import MosquittoBroker
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    ns = "live"
    with weft_home() as home:
        env = bench_env(home)
        logs = Path(home)
        async with MosquittoBroker() as broker:
            started = time.perf_counter()
            procs = await start_hosts(broker.url, ns, sizes, env, logs)
            try:
                async with MqttBus(broker.url, namespace=ns) as bus, LiveRegistry(bus) as reg:
                    up_now = lambda: all_up(reg, procs, sizes.agents, logs)  # noqa: E731
                    if not await reg.wait_until(up_now, 900):
                        raise RuntimeError(f"only {len(reg.agents())} agents came up")
                    up = time.perf_counter() - started
                    log(f"agents: {sizes.agents} up in {up:.1f}s")
                    rows = await asyncio.to_thread(
                        sync_rows, broker.url, ns, sizes.agents, sizes.sync_repeats, env
                    )
                    runs = []
                    for n in sizes.macnet:
                        runs.append(await macnet_row(reg, n))
                        log(f"agents: macnet {n} done")
            finally:
                await stop_hosts(procs)
    return (
        f"### {sizes.agents:,} live agents, {sizes.hosts} host processes "
        f"(`weft agent serve --agent-per-action`, one connection and card each)\n\n"
        f"- all registered {up:.1f} s after the host processes were started\n\n"
        + SYNC_HEADER
        + "\n"
        + "\n".join(rows)
        + "\n\nMacNet over MQTT, every node a distinct remote agent (no-op actions):\n\n"
        "| workflow | agents | run (s) | per node (ms) |\n|---|---:|---:|---:|\n" + "\n".join(runs)
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(worker_main(*sys.argv[2:6]))
    sys.exit("run bench/topologies.py; this module holds its MQTT half")
