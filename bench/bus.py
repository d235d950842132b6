"""Bus benchmark: weft's MQTT bus against a raw aiomqtt request/reply, one broker, one run.

    python bench/bus.py            # full run (about a minute), appended to bench/RESULTS.md
    python bench/bus.py --quick    # smaller, printed only (add --save to keep it)

The script starts its own Mosquitto with weft's config (``set_tcp_nodelay``) on
a free loopback port; nothing else touches that broker. Both contenders use
MQTT v5, QoS 1, TCP_NODELAY, Response Topic + Correlation Data, and the same
181-byte ``ActionCall`` JSON payload:

- raw: an ``aiomqtt.Client`` per side; the caller keeps a dict of futures by
  correlation data, the responder publishes the payload back. The floor for
  request/reply over aiomqtt.
- weft: the same caller over ``MqttBus.publish``/``MqttBus.subscribe``
  (``WeftCaller``), against a responder that answers with ``MqttBus.reply``.
  weft's own calling half, ``CallClient`` under ``RemoteAction``, is
  measured whole in 4.

Responders are worker processes (``--worker``) that serve a pool through a
shared subscription (``$share/...``) and answer each call in a task of its own,
so a slow acknowledgement never holds up the next call. The calling side is
this process.

Measured:

1. Round trip p50/p99: sequential calls to one worker, raw and weft blocks
   interleaved (so drift of a noisy machine hits both).
2. Calls per second with 1 and 4 workers: ``--concurrency`` callers issue
   calls back to back; median of the repetitions, raw and weft interleaved.
3. A loss check: 10,000 weft calls across 4 workers. Workers decode the
   ``ActionCall`` and answer an ``ActionResult`` for its ``call_id``; the
   caller counts every reply delivered on its reply topic and the workers
   report every call id they served, so a lost call, a doubled reply and a
   call served twice all show up.
4. The full remote action path (``RemoteAction`` -> ``AgentHost``).
5. Effects: N calls (10,000 by default) of a ``foreach`` over 4 ``weft agent
   serve`` replicas (concurrency 8 each), run by ``weft run --broker`` itself,
   in several trials. The served tool appends each call's key, with its pid
   and attempt, to a file; the benchmark counts keys without an effect (lost)
   and keys whose effect happened more than once (run twice). The loss check
   above calls the bus directly and never takes the caller's re-send path;
   this one does.

    python bench/bus.py --only-effects --effects-calls 2000 --effects-trials 2

   With ``--effects-chaos`` the replicas are disturbed mid-run, as a pool in
   production is: at 30% of the calls done (read from the effects file) one
   replica gets SIGKILL and a fresh one is started; at 60% another gets
   SIGTERM with a drain timeout (20 ms) shorter than its held calls need (the
   tool takes 50 ms in this mode), so it hands calls back. The run must
   still succeed and lose nothing; a call may run twice only in the
   documented way (first on the killed replica, then as a later attempt
   elsewhere). Each trial reports the run's state and exit code, doubles by
   kind, the calls moved off each replica and why (from the run's trace),
   and the effects per replica by role.

    python bench/bus.py --only-effects --effects-calls 1000 --effects-trials 1 --effects-chaos
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import itertools
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from weft import tool
from weft.protocols import ActionCall, ActionResult, ActionState, MessageProperties
from weft.runtime.bus.mqtt.broker import MosquittoBroker, find_mosquitto
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus, parse_broker_url
from weft.runtime.tracing.store import TraceStore

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PAYLOAD = (
    ActionCall(
        call_id="0123456789abcdef", action="echo", arguments={"text": "to be or not to be", "n": 1}
    )
    .model_dump_json(exclude={"idempotency_key"})  # as RemoteAction sends it when unset
    .encode()
)
TIMEOUT = 30.0
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(frozen=True)
class Config:
    latency_calls: int = 2000  # per contender, in `latency_blocks` interleaved blocks
    latency_blocks: int = 4
    throughput_calls: int = 5000  # per measurement
    throughput_reps: int = 3
    concurrency: int = 128
    worker_counts: tuple[int, ...] = (1, 4)
    loss_calls: int = 10_000
    loss_workers: int = 4
    effects_calls: int = 10_000  # per trial, through `weft run --broker`
    effects_trials: int = 3
    effects_replicas: int = 4
    effects_concurrency: int = 8  # per replica (`weft agent serve --concurrency`)
    effects_delay: float = 0.005  # seconds each call of the served tool takes
    effects_chaos: bool = False  # SIGKILL one replica and SIGTERM another mid-run
    effects_drain_timeout: float = 0.02  # with chaos (all replicas'): < CHAOS_DELAY

    @classmethod
    def quick(cls) -> Config:
        return cls(
            latency_calls=400,
            throughput_calls=1500,
            throughput_reps=1,
            loss_calls=2000,
            effects_calls=2000,
            effects_trials=2,
        )

    @classmethod
    def tiny(cls) -> Config:
        """For the smoke test: every code path, no meaningful numbers."""
        return cls(
            latency_calls=20,
            latency_blocks=2,
            throughput_calls=50,
            throughput_reps=1,
            concurrency=8,
            worker_counts=(1, 2),
            loss_calls=100,
            loss_workers=2,
            effects_calls=40,
            effects_trials=1,
            effects_replicas=2,
        )


# -- raw aiomqtt contender ---------------------------------------------------------------


def raw_client(url: str, client_id: str) -> aiomqtt.Client:
    """An aiomqtt client set up the way weft sets up its own: MQTT v5, TCP_NODELAY."""
    address = parse_broker_url(url)
    client = aiomqtt.Client(
        address.host,
        address.port,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        socket_options=[NODELAY],
    )
    client.pending_calls_threshold = 1_000_000
    return client


class RawCaller:
    """Request/reply by hand: subscribe to a reply topic, match replies by correlation data."""

    def __init__(self, url: str) -> None:
        self.client_id = f"raw-{uuid.uuid4().hex[:8]}"
        self.client = raw_client(url, self.client_id)
        self.reply_topic = f"bench/raw/replies/{self.client_id}"
        self.pending: dict[bytes, asyncio.Future[bytes]] = {}
        self.counter = itertools.count()
        self.reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RawCaller:
        await self.client.__aenter__()
        await self.client.subscribe(self.reply_topic, qos=1)
        self.reader = asyncio.create_task(self._read(), name="raw-replies")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        await self.client.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for message in self.client.messages:
            key = getattr(message.properties, "CorrelationData", None)
            future = self.pending.pop(bytes(key), None) if key is not None else None
            if future is not None and not future.done():
                future.set_result(bytes(message.payload))

    async def request(self, topic: str, payload: bytes) -> bytes:
        correlation = str(next(self.counter)).encode()
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = correlation
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation] = future
        await self.client.publish(topic, payload, qos=1, properties=props)
        async with asyncio.timeout(TIMEOUT):
            return await future


class WeftCaller:
    """``RawCaller``'s request/reply by hand, over weft's bus instead of aiomqtt."""

    def __init__(self, bus: MqttBus) -> None:
        self.bus = bus
        self.reply_topic = bus.topics.replies(bus.client_id)
        self.pending: dict[bytes, asyncio.Future[bytes]] = {}
        self.counter = itertools.count()
        self.reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WeftCaller:
        sub = await self.bus.subscribe(self.reply_topic)
        self.reader = asyncio.create_task(self._read(sub), name="weft-replies")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader

    async def _read(self, sub: Any) -> None:
        async for message in sub:
            key = message.properties.correlation_data
            future = self.pending.pop(key, None) if key is not None else None
            if future is not None and not future.done():
                future.set_result(message.payload)

    async def request(self, topic: str, payload: bytes) -> bytes:
        correlation = str(next(self.counter)).encode()
        props = MessageProperties(
            response_topic=self.reply_topic,
            correlation_data=correlation,
            message_expiry=int(TIMEOUT),
        )
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending[correlation] = future
        await self.bus.publish(topic, payload, qos=1, properties=props)
        async with asyncio.timeout(TIMEOUT):
            return await future


# -- worker processes --------------------------------------------------------------------


async def _serve_raw(url: str, pool: str, stop: asyncio.Event) -> dict[str, Any]:
    served = 0
    tasks: set[asyncio.Task[None]] = set()
    async with raw_client(url, f"raw-worker-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"$share/{pool}/bench/raw/{pool}/call", qos=1)
        print("ready", flush=True)

        async def answer(message: aiomqtt.Message) -> None:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.CorrelationData = message.properties.CorrelationData  # type: ignore[union-attr]
            topic = message.properties.ResponseTopic  # type: ignore[union-attr]
            await client.publish(topic, message.payload, qos=1, properties=props)

        async def loop() -> None:
            nonlocal served
            async for message in client.messages:
                served += 1
                task = asyncio.create_task(answer(message))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        reading = asyncio.create_task(loop())
        await stop.wait()
        reading.cancel()
    return {"served": served}


@tool
async def echo(text: str, n: int = 1) -> dict[str, Any]:
    """The action behind the full remote path: returns its arguments."""
    return {"text": text, "n": n}


async def _serve_agent(url: str, pool: str, stop: asyncio.Event) -> dict[str, Any]:
    from weft.runtime.remote.agent_host import AgentHost

    async with MqttBus(url, namespace="bench") as bus:
        host = AgentHost(bus, [echo], agent_id=f"bench-{uuid.uuid4().hex[:8]}", pool=pool)
        async with host:
            print("ready", flush=True)
            await stop.wait()
    return {}


async def _serve_weft(url: str, pool: str, mode: str, stop: asyncio.Event) -> dict[str, Any]:
    served: list[str] = []
    count = 0
    tasks: set[asyncio.Task[None]] = set()
    name = f"weft-worker-{uuid.uuid4().hex[:8]}"
    async with MqttBus(url, namespace="bench", client_id=name) as bus:
        sub = await bus.subscribe(bus.topics.shared_pool_subscription(pool))
        print("ready", flush=True)

        async def answer(request: Any) -> None:
            if mode == "action":
                call = ActionCall.model_validate_json(request.payload)
                served.append(call.call_id)
                result = ActionResult(
                    call_id=call.call_id, state=ActionState.OK, output=call.arguments
                )
                result.agent = name
                await bus.reply(request, result.model_dump_json())
            else:
                await bus.reply(request, request.payload)

        async def loop() -> None:
            nonlocal count
            async for request in sub:
                count += 1
                task = asyncio.create_task(answer(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        reading = asyncio.create_task(loop())
        await stop.wait()
        reading.cancel()
    return {"served": count, "call_ids": served}


def worker_main(kind: str, url: str, pool: str, mode: str) -> int:
    """Serve until stdin closes, then print what was served as one JSON line."""

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        stdin = sys.stdin.fileno()

        def on_stdin() -> None:
            if not os.read(stdin, 1 << 16):  # EOF: the benchmark closed our stdin
                loop.remove_reader(stdin)
                stop.set()

        loop.add_reader(stdin, on_stdin)
        if kind == "raw":
            return await _serve_raw(url, pool, stop)
        if kind == "agent":
            return await _serve_agent(url, pool, stop)
        return await _serve_weft(url, pool, mode, stop)

    print(json.dumps(asyncio.run(main())), flush=True)
    return 0


@dataclass
class Workers:
    """Worker processes serving one pool; ``stop()`` returns what each one served."""

    kind: str
    url: str
    count: int
    mode: str = "echo"
    pool: str = field(default_factory=lambda: f"p{uuid.uuid4().hex[:8]}")
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def topic(self) -> str:
        if self.kind == "raw":
            return f"bench/raw/{self.pool}/call"
        return f"weft/bench/pools/{self.pool}/call"

    async def __aenter__(self) -> Workers:
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", self.kind]
        command += [self.url, self.pool, self.mode]
        for _ in range(self.count):
            self.processes.append(
                await asyncio.create_subprocess_exec(
                    *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
                )
            )
        for process in self.processes:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
            if line.strip() != b"ready":
                await self.stop()
                raise RuntimeError(f"a {self.kind} worker failed to start: {line!r}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> list[dict[str, Any]]:
        reports: list[dict[str, Any]] = []
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
        for process in self.processes:
            out, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
            lines = out.decode().strip().splitlines()
            reports.append(json.loads(lines[-1]) if lines else {})
        self.processes.clear()
        return reports


# -- measurements ------------------------------------------------------------------------

Request = Callable[[], Awaitable[Any]]


@contextlib.asynccontextmanager
async def caller(kind: str, url: str, topic: str) -> Any:
    """A zero-argument coroutine function that makes one call on ``topic``."""
    if kind == "raw":
        async with RawCaller(url) as raw:
            yield lambda: raw.request(topic, PAYLOAD)
    else:
        async with MqttBus(url, namespace="bench") as bus, WeftCaller(bus) as weft:
            yield lambda: weft.request(topic, PAYLOAD)


async def round_trips(request: Request, calls: int) -> list[float]:
    durations = []
    for _ in range(calls):
        start = time.perf_counter()
        await request()
        durations.append(time.perf_counter() - start)
    return durations


async def measure_latency(url: str, calls: int, blocks: int) -> dict[str, list[float]]:
    """Sequential round trips (seconds), raw and weft in alternating blocks, one worker each."""
    out: dict[str, list[float]] = {"raw": [], "weft": []}
    async with (
        Workers("raw", url, 1) as raw_w,
        Workers("weft", url, 1) as weft_w,
        caller("raw", url, raw_w.topic) as raw,
        caller("weft", url, weft_w.topic) as weft,
    ):
        requests = {"raw": raw, "weft": weft}
        for kind in out:  # warm up: reply subscriptions, first packets, code paths
            await round_trips(requests[kind], 50)
        per_block = max(1, calls // blocks)
        for block in range(blocks):
            order = ("raw", "weft") if block % 2 == 0 else ("weft", "raw")
            for kind in order:
                out[kind] += await round_trips(requests[kind], per_block)
    return out


async def flood(request: Request, calls: int, concurrency: int) -> float:
    """``calls`` calls from ``concurrency`` callers; returns the elapsed seconds."""
    remaining = itertools.count(calls, -1)

    async def one_caller() -> None:
        while next(remaining) > 0:
            await request()

    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(one_caller())
    return time.perf_counter() - start


async def measure_throughput(
    kind: str, url: str, workers: int, calls: int, concurrency: int
) -> float:
    """Calls per second against ``workers`` fresh worker processes of ``kind``."""
    async with Workers(kind, url, workers) as pool, caller(kind, url, pool.topic) as request:
        await flood(request, min(calls, 500), concurrency)  # warm up
        elapsed = await flood(request, calls, concurrency)
    return calls / elapsed


@dataclass
class LossReport:
    calls: int
    ok: int
    lost: int  # calls without a result
    duplicated: int  # replies delivered more than once for a call id
    served_twice: int  # call ids a worker served more than once
    per_worker: list[int]
    elapsed_s: float


async def measure_loss(url: str, calls: int, workers: int, concurrency: int) -> LossReport:
    """``calls`` weft calls with distinct call ids across ``workers``; count every reply."""
    async with Workers("weft", url, workers, mode="action") as pool:
        async with MqttBus(url, namespace="bench") as bus, WeftCaller(bus) as caller:
            delivered: Counter[str] = Counter()
            taps = await bus.subscribe(bus.topics.replies(bus.client_id))

            async def tap() -> None:
                async for message in taps:
                    delivered[ActionResult.model_validate_json(message.payload).call_id] += 1

            tapping = asyncio.create_task(tap())
            call_ids = [f"c{i:06d}-{uuid.uuid4().hex[:8]}" for i in range(calls)]
            ids = iter(call_ids)
            results: dict[str, ActionResult] = {}

            async def one_caller() -> None:
                for call_id in ids:
                    call = ActionCall(call_id=call_id, action="echo", arguments={"i": call_id})
                    with contextlib.suppress(TimeoutError):
                        reply = await caller.request(pool.topic, call.model_dump_json().encode())
                        result = ActionResult.model_validate_json(reply)
                        if result.call_id == call_id and result.ok:
                            results[call_id] = result

            start = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for _ in range(concurrency):
                    group.create_task(one_caller())
            elapsed = time.perf_counter() - start
            # Every reply was delivered before its request returned; a doubled
            # one would arrive right behind it: one more round trip catches it.
            await caller.request(pool.topic, ActionCall(action="echo").model_dump_json().encode())
            tapping.cancel()
        reports = await pool.stop()
    served = Counter(call_id for report in reports for call_id in report.get("call_ids", []))
    return LossReport(
        calls=calls,
        ok=len(results),
        lost=sum(1 for call_id in call_ids if call_id not in results),
        duplicated=sum(n - 1 for call_id, n in delivered.items() if n > 1 and call_id in results),
        served_twice=sum(n - 1 for call_id, n in served.items() if n > 1),
        per_worker=[r.get("served", 0) for r in reports],
        elapsed_s=elapsed,
    )


async def measure_remote_latency(url: str, calls: int) -> list[float]:
    """Sequential ``RemoteAction.invoke`` calls to an ``AgentHost`` in a worker process.

    The whole remote path: ``ActionCall`` JSON, the agent's acceptance
    message and result, ``ActionResult`` decoding, deadlines and tracing
    context. Compare with the bus round trip to see what that layer costs.
    """
    from weft.runtime.remote.remote_action import RemoteAction

    call = ActionCall.model_validate_json(PAYLOAD)
    async with Workers("agent", url, 1) as agent, MqttBus(url, namespace="bench") as bus:
        remote = RemoteAction(bus, echo.spec, pool=agent.pool, default_timeout=TIMEOUT)

        async def request() -> None:
            result = await remote.invoke(ActionCall(action="echo", arguments=call.arguments))
            if not result.ok:
                raise RuntimeError(f"remote echo failed: {result.error}")

        await round_trips(request, 50)
        return await round_trips(request, calls)


# -- effects through `weft run --broker` -------------------------------------------------

EFFECT_TOOL = '''"""The served tool of the effects check: one line per run of a call."""

import asyncio
import os
import time

import weft


@weft.tool
async def effect(key: str, log: str, ctx: weft.ActionContext, delay: float = 0.0) -> str:
    """Append ``key pid attempt idempotency-key time`` to ``log`` (one write, O_APPEND)."""
    if delay:
        await asyncio.sleep(delay)
    line = f"{key} {os.getpid()} {ctx.call.attempt} {ctx.idempotency_key} {time.time():.6f}\\n"
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return key
'''

EFFECT_WORKFLOW = """name: effects
inputs:
  keys: {{type: array}}
  log: {{type: string}}
nodes:
  fx:
    action: effect
    foreach: ${{inputs.keys}}
    with: {{key: '${{item}}', log: '${{inputs.log}}', delay: {delay}}}
    timeout: 3600
"""

#: Seconds without a new effect after which a trial's run counts as hung and is killed
#: (the node's own deadline is an hour: a lost call would otherwise hold the benchmark).
STALL_S = 90.0
#: With ``--effects-chaos``: the share of calls done at the SIGKILL, and at the SIGTERM.
KILL_AT, TERM_AT = 0.3, 0.6
#: With ``--effects-chaos``, seconds each call of the served tool takes. At 5 ms the
#: stopped replica's running calls end while it closes its subscriptions, before its
#: drain timeout even starts, and it seldom has a call left to hand back; at 50 ms
#: (against a 20 ms drain timeout) it holds running and queued calls it must give up.
CHAOS_DELAY = 0.05


@dataclass
class Chaos:
    """What ``--effects-chaos`` did in one trial, and what came of it.

    Replica 0 is killed (SIGKILL) at ``KILL_AT`` of the calls and a fresh one
    started in its place; replica 1 is stopped (SIGTERM) at ``TERM_AT`` with a
    drain timeout shorter than its held calls need, so it must hand calls back.
    A field is None when the run ended before that step.
    """

    killed_at: int | None = None  # effects in the file when the SIGKILL was sent
    drained_at: int | None = None  # ... when the SIGTERM was sent
    drain_timeout: float = 0.0
    drained_exit: int | None = None  # exit code of the stopped replica (0 expected)
    twice_after_kill: int = 0  # doubles first run on the killed replica, later attempt elsewhere
    twice_after_stop: int = 0  # doubles first run on the stopped replica: it gave up a done call
    twice_other: int = 0  # any other double (same attempt twice, or first on a steady replica)
    #: Call attempts that moved to another agent, from the run's trace: (the role of the
    #: agent that held it, why: "card cleared" or "handed back") -> count.
    moved: dict[tuple[str, str], int] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)  # effects per replica, by role


@dataclass
class EffectTrial:
    calls: int
    state: str  # the run's state, from `weft run --json` ("no result" if it printed none)
    elapsed_s: float  # wall time of the `weft run` process, start-up included
    lost: int  # keys whose effect never happened
    run_twice: int  # extra effects: a key done n times counts n - 1
    moved: int  # runs of a call past its first attempt (a replica died or gave calls back)
    per_replica: list[int]
    exit_code: int = 0  # of `weft run`
    error: str = ""  # the end of its stderr when it failed
    chaos: Chaos | None = None


class EffectsFile:
    """Counts the lines of the effects file as it grows (read incrementally)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.lines = path, 0, 0

    def count(self) -> int:
        with contextlib.suppress(FileNotFoundError), self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
            self.offset += len(chunk)
            self.lines += chunk.count(b"\n")
        return self.lines


def _moved(home: Path, run_id: str, roles: dict[str, str]) -> dict[tuple[str, str], int]:
    """Who gave up which calls, and why, by the caller's failed attempt spans in the trace.

    The effects file shows where calls ran, not why a call moved; the caller's
    span of an attempt that moved (error type ``AgentLost``) names the agent and
    says whether its card was cleared (it died, or stopped before it had the
    call) or it was stopped and handed the call back (``AgentDraining``).
    """
    store = TraceStore(home / "traces.db")
    try:
        spans = store.spans(run_id)
    finally:
        store.close()
    moved: Counter[tuple[str, str]] = Counter()
    for span in spans:
        error = span.attributes.get("error")
        if span.kind == "call" and span.status == "error" and isinstance(error, dict):
            text = str(error.get("message", ""))
            why = (
                "handed back"
                if "gave the call up" in text
                else "card cleared"
                if "card was cleared" in text
                else f"{error.get('type')}: {text[:80]}"
            )
            moved[roles.get(span.agent or "", span.agent or "?"), why] += 1
    return dict(moved)


def _agent_id(log: Path) -> str:
    found = re.search(r"agent (\S+) serving ", log.read_text(errors="replace"))
    return found.group(1) if found else "?"


async def _agents_ready(logs: list[Path], timeout: float) -> None:
    """Wait until every agent process logged that it serves (its card is out)."""
    end = time.monotonic() + timeout
    while not all(" serving " in log.read_text(errors="replace") for log in logs):
        if time.monotonic() > end:
            raise RuntimeError(f"agents did not start; see {', '.join(map(str, logs))}")
        await asyncio.sleep(0.05)


def _doubles(lines: list[list[str]], killed: str, stopped: str, chaos: Chaos) -> None:
    """Sort the calls run twice into the documented kind and the rest (``chaos``, in place).

    Documented (docs/distributed.md, How often a call runs): a call the killed
    replica had run but not yet answered runs again elsewhere as a later
    attempt. The tool writes after its only await, so a call a draining
    replica stops part way has written nothing, so a double first run there
    means it gave up a call it had done. Any other double is a defect.
    """
    by_key: dict[str, list[list[str]]] = {}
    for fields in lines:
        by_key.setdefault(fields[0], []).append(fields)
    for runs in by_key.values():
        if len(runs) < 2:
            continue
        attempts = [int(r[2]) for r in runs]
        if len(set(attempts)) < len(attempts):  # an agent runs an attempt once
            chaos.twice_other += len(runs) - 1
        elif runs[0][1] == killed:
            chaos.twice_after_kill += len(runs) - 1
        elif runs[0][1] == stopped:
            chaos.twice_after_stop += len(runs) - 1
        else:
            chaos.twice_other += len(runs) - 1


async def _watch(
    run: asyncio.subprocess.Process,
    talk: asyncio.Future[tuple[bytes, bytes]],
    progress: EffectsFile,
    calls: int,
    agents: list[asyncio.subprocess.Process],
    spawn: Callable[[str], Awaitable[asyncio.subprocess.Process]],
    chaos: Chaos | None,
) -> bool:
    """Follow the run by its effects until it ends; with ``chaos``, disturb the replicas.

    Returns True if the run stalled (no new effect for ``STALL_S``) and was killed.
    """
    seen, seen_at = 0, time.monotonic()
    while not talk.done():
        done = progress.count()
        if done != seen:
            seen, seen_at = done, time.monotonic()
        elif time.monotonic() - seen_at > STALL_S:
            run.kill()  # a hung run is reported, not waited out
            return True
        if chaos is not None and chaos.killed_at is None and done >= KILL_AT * calls:
            agents[0].kill()
            chaos.killed_at = done
            await spawn("fresh")  # the pool stays at its size until the SIGTERM
        if chaos is not None and chaos.drained_at is None and done >= TERM_AT * calls:
            agents[1].terminate()
            chaos.drained_at = done
        await asyncio.wait({talk}, timeout=0.02)
    return False


def _account(
    chaos: Chaos,
    lines: list[list[str]],
    agents: list[asyncio.subprocess.Process],
    logs: list[Path],
    replicas: int,
    home: Path,
    run_id: str,
) -> None:
    """Fill in ``chaos`` after the run: effects by replica role, doubles, moved calls."""
    roles = {str(a.pid): role for a, role in zip(agents[:2], ("killed", "stopped"), strict=True)}
    roles |= {str(a.pid): f"steady {i}" for i, a in enumerate(agents[2:replicas], 2)}
    roles |= {str(a.pid): "fresh" for a in agents[replicas:]}
    served = Counter(roles.get(fields[1], fields[1]) for fields in lines)
    chaos.served = {role: served[role] for role in roles.values()}
    chaos.drained_exit = agents[1].returncode if chaos.drained_at is not None else None
    _doubles(lines, str(agents[0].pid), str(agents[1].pid), chaos)
    if run_id:
        ids = {_agent_id(path): roles[str(a.pid)] for path, a in zip(logs, agents, strict=True)}
        chaos.moved = _moved(home, run_id, ids)


async def effects_trial(
    url: str,
    calls: int,
    replicas: int,
    concurrency: int,
    delay: float,
    folder: Path,
    chaos: bool = False,
    drain_timeout: float = 30.0,
) -> EffectTrial:
    """One ``weft run --broker`` of a ``calls``-item foreach over ``replicas`` agent processes.

    With ``chaos``, replicas are killed and stopped mid-run (``Chaos``); the
    effects file is the progress gauge, so the faults land on calls in flight.
    """
    if chaos and replicas < 3:
        raise ValueError("--effects-chaos needs 3 or more replicas (one killed, one stopped)")
    ns = f"fx{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "WEFT_HOME": str(folder / "home")}  # one key: the agents are trusted
    (folder / "effects_tool.py").write_text(EFFECT_TOOL)
    workflow = folder / "effects.yaml"
    workflow.write_text(EFFECT_WORKFLOW.format(delay=delay))
    log = folder / f"{ns}.log"
    inputs = folder / f"{ns}-inputs.json"
    keys = [f"k{i}" for i in range(calls)]
    inputs.write_text(json.dumps({"keys": keys, "log": str(log)}))
    logs: list[Path] = []
    agents: list[asyncio.subprocess.Process] = []

    async def spawn(name: str) -> asyncio.subprocess.Process:
        logs.append(folder / f"{ns}-agent-{name}.log")
        with logs[-1].open("wb") as err:
            agents.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "weft", "agent", "serve", "effects_tool:effect",
                    "--path", str(folder), "--broker", url, "--namespace", ns,
                    "--concurrency", str(concurrency), "--drain-timeout", str(drain_timeout),
                    env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                )
            )  # fmt: skip
        return agents[-1]

    report = Chaos(drain_timeout=drain_timeout) if chaos else None
    for i in range(replicas):
        await spawn(str(i))
    try:
        await _agents_ready(logs, 60)
        start = time.perf_counter()
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "weft", "run", str(workflow), "--broker", url,
            "--namespace", ns, "--input-file", str(inputs), "--json",
            "--journal", str(folder / f"{ns}-journal.db"),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        talk = asyncio.ensure_future(run.communicate())
        stalled = await _watch(run, talk, EffectsFile(log), calls, agents, spawn, report)
        out, err = await talk
        elapsed = time.perf_counter() - start
    finally:
        for agent in agents:
            with contextlib.suppress(ProcessLookupError):
                agent.terminate()  # SIGTERM: each drains and clears its card
        for agent in agents:
            try:
                await asyncio.wait_for(agent.wait(), TIMEOUT)
            except TimeoutError:
                agent.kill()
                await agent.wait()
    try:
        result = json.loads(out)
        state, run_id = str(result["state"]), str(result["run_id"])
    except (ValueError, KeyError, TypeError):
        state, run_id = ("hung (killed)" if stalled else "no result"), ""
    lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    done_keys = Counter(fields[0] for fields in lines)
    if report is not None:
        _account(report, lines, agents, logs, replicas, folder / "home", run_id)
    return EffectTrial(
        calls=calls,
        state=state,
        elapsed_s=elapsed,
        lost=sum(1 for key in keys if key not in done_keys),
        run_twice=sum(n - 1 for n in done_keys.values() if n > 1),
        moved=sum(1 for fields in lines if int(fields[2]) > 1),
        per_replica=sorted(Counter(fields[1] for fields in lines).values(), reverse=True),
        exit_code=run.returncode if run.returncode is not None else -1,
        error="" if state == "succeeded" else err.decode(errors="replace")[-2000:],
        chaos=report,
    )


async def measure_effects(
    url: str, config: Config, log: Callable[[str], None], folder: Path | None = None
) -> list[EffectTrial]:
    """``config.effects_trials`` trials of ``effects_trial``, each with fresh agents."""
    trials = []
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="weft-fx-")))
        for trial in range(config.effects_trials):
            log(
                f"effects: trial {trial + 1}, {config.effects_calls} calls over "
                f"{config.effects_replicas} replicas through weft run --broker"
                + (" (chaos: SIGKILL one, SIGTERM another)" if config.effects_chaos else "")
            )
            trials.append(
                await effects_trial(
                    url,
                    config.effects_calls,
                    config.effects_replicas,
                    config.effects_concurrency,
                    config.effects_delay,
                    folder,
                    chaos=config.effects_chaos,
                    drain_timeout=config.effects_drain_timeout if config.effects_chaos else 30.0,
                )
            )
            if trials[-1].error:
                log(f"effects: trial {trial + 1}: weft run said:\n{trials[-1].error}")
    return trials


def render_effects(config: Config, trials: Sequence[EffectTrial]) -> str:
    lines = [
        f"Effects: {config.effects_calls:,} calls per trial, a `foreach` over "
        f"{config.effects_replicas} `weft agent serve` replicas of one pool (concurrency "
        f"{config.effects_concurrency} each; the tool takes {config.effects_delay * 1000:g} ms "
        "and appends its call's key to a file), run by `weft run --broker` (`RemoteAction` "
        "with acks, held-call reports and fail-over). Wall time includes the `weft run` "
        "process's start-up.",
        "",
        "| trial | run | wall time | calls/s | lost | run twice | moved | effects per replica |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for i, t in enumerate(trials, 1):
        run = t.state if t.exit_code == 0 else f"{t.state}, exit {t.exit_code}"
        lines.append(
            f"| {i} | {run} | {t.elapsed_s:.2f} s | {t.calls / t.elapsed_s:,.0f} | {t.lost} | "
            f"{t.run_twice} | {t.moved} | {', '.join(f'{n:,}' for n in t.per_replica)} |"
        )
    lost = sum(t.lost for t in trials)
    twice = sum(t.run_twice for t in trials)
    total = sum(t.calls for t in trials)
    what = f"{total:,} calls in {len(trials)} trials"
    failed = sum(1 for t in trials if t.state != "succeeded" or t.exit_code != 0)
    chaos = [t.chaos for t in trials if t.chaos is not None]
    if chaos:
        lines += ["", render_chaos(config, trials)]
    lines += [
        "",
        "| target | measured | goal | verdict |",
        "|---|---:|---:|---|",
        f"| {what}: lost | {lost} | 0 | {verdict(lost == 0)} |",
        f"| {what}: runs not succeeded or exit ≠ 0 | {failed} | 0 | {verdict(failed == 0)} |",
    ]
    if chaos:
        other = sum(c.twice_other for c in chaos)
        after_kill = sum(c.twice_after_kill for c in chaos)
        after_stop = sum(c.twice_after_stop for c in chaos)
        unstopped = sum(1 for c in chaos if c.drained_at is not None and c.drained_exit != 0)
        handed = [sum(n for (_, why), n in c.moved.items() if why == "handed back") for c in chaos]
        lines += [
            f"| {what}: run twice, after the kill (documented at-least-once) | {after_kill} | "
            "— | — |",
            f"| {what}: run twice, first on the stopped replica | {after_stop} | 0 | "
            f"{verdict(after_stop == 0)} |",
            f"| {what}: run twice, any other kind | {other} | 0 | {verdict(other == 0)} |",
            f"| stopped replicas not exiting 0 | {unstopped} | 0 | {verdict(unstopped == 0)} |",
            f"| calls the stopped replica handed back, per trial | "
            f"{', '.join(map(str, handed))} | > 0 (else the drain path went untested) | "
            f"{verdict(min(handed) > 0)} |",
        ]
    else:
        lines.append(f"| {what}: run twice | {twice} | 0 | {verdict(twice == 0)} |")
    return "\n".join(lines)


def render_chaos(config: Config, trials: Sequence[EffectTrial]) -> str:
    """The faults of ``--effects-chaos`` per trial, and where the calls ran."""
    lines = [
        f"Chaos: at {KILL_AT:.0%} of the calls done (by the effects file) replica 0 gets "
        "SIGKILL and a fresh replica is started; at "
        f"{TERM_AT:.0%} replica 1 gets SIGTERM with `--drain-timeout "
        f"{config.effects_drain_timeout:g}` (shorter than the tool's "
        f"{config.effects_delay * 1000:g} ms, so it must hand calls back). "
        "Doubles 'after kill' are a key first run on the killed replica and "
        "then as a later attempt elsewhere (docs/distributed.md, How often a call runs); "
        "'after stop', first run on the stopped replica (the tool writes after its only "
        "await, so a call stopped part way wrote nothing: such a double is a done call "
        "given back); 'other', anything else, e.g. one attempt run twice. 'Moved' counts "
        "the caller's attempts that went to another agent, from the run's trace, by the "
        "agent that held them and why: its card was cleared (killed, or stopped before the "
        "call reached it) or it handed the call back at its drain timeout.",
        "",
        "| trial | kill at | SIGTERM at | stopped replica's exit | "
        "run twice: after kill / after stop / other | moved | effects by replica |",
        "|---:|---:|---:|---:|---:|---|---|",
    ]
    for i, t in enumerate(trials, 1):
        c = t.chaos
        if c is None:
            continue
        served = ", ".join(f"{role} {n:,}" for role, n in c.served.items())
        moved = ", ".join(f"{n:,} off {role} ({why})" for (role, why), n in c.moved.items())
        lines.append(
            f"| {i} | {c.killed_at if c.killed_at is not None else 'not reached'} | "
            f"{c.drained_at if c.drained_at is not None else 'not reached'} | "
            f"{c.drained_exit} | {c.twice_after_kill} / {c.twice_after_stop} / {c.twice_other} | "
            f"{moved or 'none'} | {served} |"
        )
    return "\n".join(lines)


# -- report ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


@dataclass
class Measured:
    latency: dict[str, list[float]]
    throughput: dict[tuple[str, int], list[float]]
    loss: LossReport
    remote: list[float]
    effects: list[EffectTrial] = field(default_factory=list)


async def measure(config: Config, url: str, log: Callable[[str], None]) -> Measured:
    log(f"round trips: {config.latency_calls} per contender")
    latency = await measure_latency(url, config.latency_calls, config.latency_blocks)
    throughput: dict[tuple[str, int], list[float]] = {}
    for rep in range(config.throughput_reps):
        for workers in config.worker_counts:
            order = ("raw", "weft") if rep % 2 == 0 else ("weft", "raw")
            for kind in order:
                log(f"throughput: {kind}, {workers} worker(s), repetition {rep + 1}")
                rate = await measure_throughput(
                    kind, url, workers, config.throughput_calls, config.concurrency
                )
                throughput.setdefault((kind, workers), []).append(rate)
    log(f"loss check: {config.loss_calls} calls across {config.loss_workers} workers")
    loss = await measure_loss(url, config.loss_calls, config.loss_workers, config.concurrency)
    log(f"RemoteAction -> AgentHost: {config.latency_calls} calls")
    remote = await measure_remote_latency(url, config.latency_calls)
    effects = await measure_effects(url, config, log) if config.effects_trials else []
    return Measured(latency, throughput, loss, remote, effects)


def render(config: Config, m: Measured) -> str:
    raw_p50, weft_p50 = (statistics.median(m.latency[k]) * 1000 for k in ("raw", "weft"))
    raw_p99, weft_p99 = (percentile(m.latency[k], 0.99) * 1000 for k in ("raw", "weft"))
    rates = {key: statistics.median(values) for key, values in m.throughput.items()}
    many = max(config.worker_counts)
    ratio_p50 = weft_p50 / raw_p50
    ratio_rate = rates[("weft", many)] / rates[("raw", many)]
    loss = m.loss
    n_lat = len(m.latency["weft"])
    lines = [
        f"Round trips: {n_lat:,} sequential calls per contender to one worker process. "
        f"Throughput: {config.throughput_calls:,} calls from {config.concurrency} concurrent "
        f"callers in one process, median of {config.throughput_reps}. Payload "
        f"{len(PAYLOAD)} bytes, QoS 1, MQTT v5, TCP_NODELAY on both ends. weft can beat the "
        "raw client: MqttBus drives paho-mqtt on the event loop itself and routes incoming "
        "messages in paho's read callback, where aiomqtt spends a task and an asyncio.wait "
        "per message, and encodes its MQTT properties itself.",
        "",
        "| measurement | raw aiomqtt | weft MqttBus | weft / raw |",
        "|---|---:|---:|---:|",
        f"| round trip p50 | {raw_p50:.3f} ms | {weft_p50:.3f} ms | {ratio_p50:.2f} |",
        f"| round trip p99 | {raw_p99:.3f} ms | {weft_p99:.3f} ms | {weft_p99 / raw_p99:.2f} |",
    ]
    for workers in config.worker_counts:
        raw, weft = rates[("raw", workers)], rates[("weft", workers)]
        lines.append(
            f"| calls/s, {workers} worker process{'es' if workers > 1 else ''} | "
            f"{raw:,.0f} | {weft:,.0f} | {weft / raw:.2f} |"
        )
    remote_p50 = statistics.median(m.remote) * 1000
    remote_p99 = percentile(m.remote, 0.99) * 1000
    lines.append(
        f"| RemoteAction -> AgentHost round trip p50 / p99 | — | {remote_p50:.3f} ms / "
        f"{remote_p99:.3f} ms | {remote_p50 / raw_p50:.2f} (p50) |"
    )
    lines += [
        "",
        f"Loss check: {loss.calls:,} weft calls with distinct call ids across "
        f"{len(loss.per_worker)} workers (served {', '.join(map(str, loss.per_worker))}) "
        f"in {loss.elapsed_s:.2f} s: ok {loss.ok:,}, lost {loss.lost}, duplicated replies "
        f"{loss.duplicated}, served twice {loss.served_twice}.",
        "",
        "| target | measured | goal | verdict |",
        "|---|---:|---:|---|",
        f"| weft p50 / raw p50 | {ratio_p50:.2f} | ≤ 1.3 | {verdict(ratio_p50 <= 1.3)} |",
        f"| weft p50 | {weft_p50:.3f} ms | < 1 ms | {verdict(weft_p50 < 1)} |",
        f"| weft calls/s with {many} workers / raw | {ratio_rate:.2f} | ≥ 0.6 | "
        f"{verdict(ratio_rate >= 0.6)} |",
        f"| {loss.calls:,}-call run: lost | {loss.lost} | 0 | {verdict(loss.lost == 0)} |",
        f"| {loss.calls:,}-call run: duplicated | {loss.duplicated + loss.served_twice} | 0 | "
        f"{verdict(loss.duplicated + loss.served_twice == 0)} |",
    ]
    if m.effects:
        lines += ["", render_effects(config, m.effects)]
    return "\n".join(lines)


def mosquitto_version() -> str:
    try:
        out = subprocess.run(
            [find_mosquitto(), "-h"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except Exception:  # a version string is not worth failing the benchmark for
        return "unknown"
    found = re.search(r"mosquitto version (\S+)", out)
    return found.group(1) if found else "unknown"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    ram = "?"
    with contextlib.suppress(OSError, StopIteration), open("/proc/meminfo") as info:
        kb = next(int(line.split()[1]) for line in info if line.startswith("MemTotal"))
        ram = f"{kb / 2**20:.1f} GiB"
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = f", load average {os.getloadavg()[0]:.2f} at start"
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram} RAM{load}, Python {platform.python_version()} "
        f"({platform.system()} {platform.release()}), aiomqtt "
        f"{importlib.metadata.version('aiomqtt')}, paho-mqtt "
        f"{importlib.metadata.version('paho-mqtt')}, mosquitto {mosquitto_version()}"
    )


def append_results(
    path: Path, command: str, table: str, mode: str, machine_info: str | None = None
) -> None:
    """Append one section; never rewrites what other benchmarks put in the file."""
    machine_info = machine_info or machine()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"\n## Bus benchmark, {stamp} ({mode})\n\n- command: `{command}`\n"
        f"- machine: {machine_info}\n\n{table}\n"
    )
    with path.open("a") as f:
        f.write(section)


async def run(config: Config, log: Callable[[str], None]) -> Measured:
    async with MosquittoBroker() as broker:
        log(f"broker: {broker.url} (weft's config)")
        return await measure(config, broker.url, log)


async def run_effects(config: Config, log: Callable[[str], None]) -> list[EffectTrial]:
    async with MosquittoBroker() as broker:
        log(f"broker: {broker.url} (weft's config)")
        return await measure_effects(broker.url, config, log)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--worker"]:
        return worker_main(*args_list[1:5])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one repetition")
    parser.add_argument("--save", action="store_true", help="append a --quick run to RESULTS.md")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (markdown)")
    parser.add_argument("--effects-calls", type=int, help="calls per effects trial (10,000)")
    parser.add_argument("--effects-trials", type=int, help="effects trials (3; 0: skip them)")
    parser.add_argument(
        "--only-effects", action="store_true", help="run only the effects check (5.)"
    )
    parser.add_argument(
        "--effects-chaos",
        action="store_true",
        help="in each effects trial, SIGKILL one replica at 30%% of the calls (and start a "
        "fresh one), SIGTERM another at 60%% with a drain timeout too short for its calls",
    )
    args = parser.parse_args(args_list)
    config = Config.quick() if args.quick else Config()
    if args.effects_calls is not None:
        config = dataclasses.replace(config, effects_calls=args.effects_calls)
    if args.effects_trials is not None:
        config = dataclasses.replace(config, effects_trials=args.effects_trials)
    if args.effects_chaos:
        config = dataclasses.replace(config, effects_chaos=True, effects_delay=CHAOS_DELAY)
    save = (args.save or not args.quick) and not args.no_save
    command = "python bench/bus.py" + (" " + " ".join(args_list) if args_list else "")

    def log(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    machine_info = machine()  # before the run: its load average is the machine's, not ours
    if args.only_effects:
        table = render_effects(config, asyncio.run(run_effects(config, log)))
        print(f"machine: {machine_info}\ncommand: {command}\n\n{table}")
        if save:
            mode = "effects, chaos" if config.effects_chaos else "effects"
            append_results(args.out, command, table, mode, machine_info)
            log(f"appended to {args.out}")
        return 0
    measured = asyncio.run(run(config, log))
    table = render(config, measured)
    print(f"machine: {machine_info}\ncommand: {command}\n\n{table}")
    if save:
        append_results(args.out, command, table, "quick" if args.quick else "full", machine_info)
        log(f"appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
