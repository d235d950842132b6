"""Hop benchmark: what one call to the same trivial action costs, by the way it travels.

    python bench/hops.py            # full run (a minute or two), appended to bench/RESULTS.md
    python bench/hops.py --quick    # smaller, printed only (add --save to keep it)
    python bench/hops.py --only in-process,mqtt

Every leg calls ``echo`` (``bench/_hops_echo.py``: an async ``@tool`` that
returns its arguments) with the same arguments and checks the answer:

- ``in-process``: ``invoke_action`` on the action object, the way weft calls an
  action outside a workflow run (context, JSON check of the result);
- ``mqtt``: weft's own protocol: a ``RemoteAction`` (``CallClient``: QoS 1,
  Response Topic + Correlation Data, the agent's acceptance message) to a
  ``weft agent serve`` process, through a Mosquitto this script starts with
  weft's config (``set_tcp_nodelay``) on a free loopback port;
- ``mcp-stdio``, ``mcp-http``: weft's MCP client (``from_mcp``) to a ``weft mcp
  serve`` process, over stdio and over streamable HTTP (MCP 2026-07-28);
- ``mcp-stdio-sdk``, ``mcp-http-sdk``: the same servers called by the ``mcp``
  SDK's own ``Client`` directly, so the cost of weft's MCP client (its
  connection thread, the result mapping) shows beside the protocol's;
- more legs from ``bench/_hops_a2a.py`` when that file exists: its
  ``a2a_legs()`` returns ``{name: LegFactory}``.

A leg is a ``LegFactory``: called with the run's ``HopContext`` (the broker's
URL, the echo target to serve, a folder for logs) it returns an async context
manager that starts what the leg needs and yields ``async def call(args) ->
dict`` (the echoed arguments), and stops it all on exit. A factory that takes
no argument is called without one.

Measured, for every leg in one run on one machine: round trip p50 and p99 over
sequential calls (the legs' blocks interleaved, so drift of a noisy machine
hits all of them alike), and calls per second with ``--concurrency`` callers
issuing calls back to back. Ratios to ``in-process`` and to ``mqtt`` are
printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import inspect
import os
import platform
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
ECHO_TARGET = str(HERE / "_hops_echo.py") + ":echo"
ARGS: dict[str, Any] = {"text": "to be or not to be", "n": 1}
STARTUP = 60.0

Call = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class HopContext:
    """What a leg may use: the run's broker, the action to serve, a scratch folder."""

    broker_url: str
    echo_target: str
    workdir: Path
    namespace: str = field(default_factory=lambda: f"hops-{uuid.uuid4().hex[:8]}")


LegFactory = Callable[..., AbstractAsyncContextManager[Call]]


@dataclass(frozen=True)
class Config:
    latency_calls: int = 2000  # per leg, in `latency_blocks` interleaved blocks
    latency_blocks: int = 4
    warmup_calls: int = 50
    throughput_calls: int = 3000  # per leg
    concurrency: int = 16

    @classmethod
    def quick(cls) -> Config:
        return cls(latency_calls=300, warmup_calls=20, throughput_calls=600)


def weft_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "weft", *args, *_serve_flags(args)]


def _serve_flags(args: tuple[str, ...]) -> list[str]:
    """``--no-trace`` for ``mcp serve`` / ``a2a serve`` when the run asked for it (the
    served-call traces are on by default since 2026-12-07: legs with and without them)."""
    if args[:2] in (("mcp", "serve"), ("a2a", "serve")):
        return os.environ.get("WEFT_HOPS_SERVE_FLAGS", "").split()
    return []


# -- the legs -------------------------------------------------------------------------


@asynccontextmanager
async def in_process(ctx: HopContext) -> AsyncIterator[Call]:
    from weft.protocols import ActionCall
    from weft.runtime.engine.action_table import ActionTable
    from weft.runtime.engine.langgraph_calls import invoke_action

    echo = _load_echo(ctx.echo_target)
    table = ActionTable([echo])

    async def call(args: dict[str, Any]) -> dict[str, Any]:
        result = await invoke_action(echo, ActionCall(action="echo", arguments=args), table)
        return _ok(result)

    yield call


@asynccontextmanager
async def mqtt(ctx: HopContext) -> AsyncIterator[Call]:
    from weft.protocols import ActionCall
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    serve = weft_command(
        "agent", "serve", ctx.echo_target, "--broker", ctx.broker_url,
        "--namespace", ctx.namespace, "--heartbeat", "2", "--concurrency", "64",
        "--log-level", "WARNING",
    )  # fmt: skip
    async with (
        _process(serve, ctx.workdir / "agent.log"),
        MqttBus(ctx.broker_url, namespace=ctx.namespace) as bus,
        LiveRegistry(bus) as registry,
    ):
        await registry.wait_for(["echo"], STARTUP)
        remote = registry.remote("echo")

        async def call(args: dict[str, Any]) -> dict[str, Any]:
            return _ok(await remote.invoke(ActionCall(action="echo", arguments=args)))

        yield call


@asynccontextmanager
async def mcp_stdio(ctx: HopContext) -> AsyncIterator[Call]:
    from weft.agents.mcp_action import from_mcp

    tools = await asyncio.to_thread(from_mcp, weft_command("mcp", "serve", ctx.echo_target))
    async with tools:
        yield _weft_mcp_call(tools["echo"])


@asynccontextmanager
async def mcp_http(ctx: HopContext) -> AsyncIterator[Call]:
    from weft.agents.mcp_action import from_mcp

    async with _mcp_http_server(ctx) as url:
        tools = await asyncio.to_thread(from_mcp, url)
        async with tools:
            yield _weft_mcp_call(tools["echo"])


@asynccontextmanager
async def mcp_stdio_sdk(ctx: HopContext) -> AsyncIterator[Call]:
    from mcp import Client, StdioServerParameters

    command = weft_command("mcp", "serve", ctx.echo_target)
    server = StdioServerParameters(
        command=command[0], args=command[1:], env=_weft_env(), cwd=str(ROOT)
    )
    async with Client(server) as client:
        yield _sdk_call(client)


@asynccontextmanager
async def mcp_http_sdk(ctx: HopContext) -> AsyncIterator[Call]:
    from mcp import Client

    async with _mcp_http_server(ctx) as url, Client(url) as client:
        yield _sdk_call(client)


LEGS: dict[str, LegFactory] = {
    "in-process": in_process,
    "mqtt": mqtt,
    "mcp-stdio": mcp_stdio,
    "mcp-http": mcp_http,
    "mcp-stdio-sdk": mcp_stdio_sdk,
    "mcp-http-sdk": mcp_http_sdk,
}


def all_legs() -> dict[str, LegFactory]:
    """weft's legs, and the A2A ones when ``bench/_hops_a2a.py`` is there."""
    legs = dict(LEGS)
    extra = HERE / "_hops_a2a.py"
    if extra.exists():
        spec = importlib.util.spec_from_file_location("weft_bench_hops_a2a", extra)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        legs.update(module.a2a_legs())
    return legs


# -- what the legs share ----------------------------------------------------------------


def _load_echo(target: str) -> Any:
    path, _, name = target.rpartition(":")
    spec = importlib.util.spec_from_file_location("weft_bench_hops_echo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def _ok(result: Any) -> dict[str, Any]:
    if not result.ok:
        raise RuntimeError(f"echo failed: {result.error}")
    output: dict[str, Any] = result.output
    return output


def _weft_mcp_call(action: Any) -> Call:
    from weft.protocols import ActionCall

    async def call(args: dict[str, Any]) -> dict[str, Any]:
        return _ok(await action.invoke(ActionCall(action="echo", arguments=args), None))

    return call


def _sdk_call(client: Any) -> Call:
    async def call(args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool("echo", args)
        if result.is_error:
            raise RuntimeError(f"echo failed: {result.content}")
        output: dict[str, Any] = result.structured_content
        return output

    return call


def _weft_env() -> dict[str, str]:
    return {k: os.environ[k] for k in ("WEFT_HOME", "VIRTUAL_ENV") if k in os.environ}


@asynccontextmanager
async def _process(command: list[str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process for the leg's lifetime; terminated (then killed) on exit."""
    from weft.testing.processes import stop_process

    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, cwd=ROOT
        )
    try:
        yield proc
    finally:
        await stop_process(proc)


@asynccontextmanager
async def _mcp_http_server(ctx: HopContext) -> AsyncIterator[str]:
    """``weft mcp serve --http 127.0.0.1:0``; its URL, from the line it prints."""
    from weft.testing.processes import weft_process

    args = ("mcp", "serve", ctx.echo_target, "--http", "127.0.0.1:0")
    args += tuple(_serve_flags(args))
    async with weft_process(
        *args, ready=r"at (http://\S+/mcp)", timeout=STARTUP, cwd=ROOT
    ) as served:
        yield served.ready.group(1)


def _open(factory: LegFactory, ctx: HopContext) -> AbstractAsyncContextManager[Call]:
    takes_context = bool(inspect.signature(factory).parameters)
    return factory(ctx) if takes_context else factory()


# -- measuring --------------------------------------------------------------------------


@dataclass
class LegResult:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, one per call
    rate: float = 0.0  # calls per second at the configured concurrency

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _sequential(call: Call, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        answer = await call(ARGS)
        times.append(time.perf_counter() - start)
        if answer != ARGS:
            raise RuntimeError(f"echo answered {answer!r}, not {ARGS!r}")
    return times


async def _throughput(call: Call, calls: int, concurrency: int) -> float:
    left = calls

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call(ARGS)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return calls / (time.perf_counter() - start)


async def measure(
    config: Config,
    ctx: HopContext,
    legs: dict[str, LegFactory],
    log: Callable[[str], None] = lambda _: None,
) -> list[LegResult]:
    """Every leg open at once; latency blocks interleaved; then each leg's throughput."""
    results = [LegResult(name) for name in legs]
    async with AsyncExitStack() as stack:
        calls: list[Call] = []
        for name, factory in legs.items():
            log(f"starting {name}")
            call = await stack.enter_async_context(_open(factory, ctx))
            await _sequential(call, config.warmup_calls)
            calls.append(call)
        per_block = max(1, config.latency_calls // config.latency_blocks)
        for block in range(config.latency_blocks):
            log(f"latency block {block + 1}/{config.latency_blocks}")
            for result, call in zip(results, calls, strict=True):
                result.latencies += await _sequential(call, per_block)
        for result, call in zip(results, calls, strict=True):
            log(f"throughput of {result.name}")
            result.rate = await _throughput(call, config.throughput_calls, config.concurrency)
    return results


async def run(
    config: Config, legs: dict[str, LegFactory], log: Callable[[str], None]
) -> list[LegResult]:
    import tempfile

    from weft.runtime.bus.mqtt.broker import MosquittoBroker

    with tempfile.TemporaryDirectory(prefix="weft-hops-") as workdir:
        async with MosquittoBroker() as broker:
            log(f"broker: {broker.url} (weft's config)")
            ctx = HopContext(broker.url, ECHO_TARGET, Path(workdir))
            return await measure(config, ctx, legs, log)


# -- reporting --------------------------------------------------------------------------


def render(config: Config, results: list[LegResult]) -> str:
    by_name = {r.name: r for r in results}
    bases = [b for b in ("in-process", "mqtt") if b in by_name]
    head = "| leg | p50 µs | p99 µs | calls/s | " + " | ".join(f"p50 ÷ {b}" for b in bases)
    lines = [
        f"One call of `echo` by each leg: {config.latency_calls} sequential calls per leg in "
        f"{config.latency_blocks} interleaved blocks (after {config.warmup_calls} warm-up "
        f"calls); calls/s with {config.concurrency} concurrent callers over "
        f"{config.throughput_calls} calls.",
        "",
        head + " |",
        "|---|---:|---:|---:|" + "---:|" * len(bases),
    ]
    for r in results:
        p50 = r.percentile(0.5)
        ratios = " | ".join(f"{p50 / by_name[b].percentile(0.5):.3g}" for b in bases)
        lines.append(
            f"| {r.name} | {p50 * 1e6:,.0f} | {r.percentile(0.99) * 1e6:,.0f} | "
            f"{r.rate:,.0f} | {ratios} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = f", load average {os.getloadavg()[0]:.2f} at start"
    versions = ", ".join(
        f"{dist} {_version(dist)}" for dist in ("weft", "mcp", "paho-mqtt", "a2a-sdk")
    )
    return (
        f"{cpu}, {os.cpu_count()} cores{load}, Python {platform.python_version()} "
        f"({platform.system()} {platform.release()}), {versions}"
    )


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def append_results(path: Path, command: str, table: str, mode: str, machine_info: str) -> None:
    """Append one section; never rewrites what other benchmarks put in the file."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with path.open("a") as f:
        f.write(
            f"\n## Hop benchmark (bench/hops.py), {stamp} ({mode})\n\n- command: `{command}`\n"
            f"- machine: {machine_info}\n\n{table}\n"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--save", action="store_true", help="append a --quick run to RESULTS.md")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (markdown)")
    parser.add_argument("--only", help="comma-separated legs to run (default: all)")
    parser.add_argument("--calls", type=int, help="sequential calls per leg")
    parser.add_argument("--concurrency", type=int, help="concurrent callers for calls/s")
    parser.add_argument(
        "--no-trace", action="store_true", help="serve MCP/A2A legs with --no-trace"
    )
    args = parser.parse_args(args_list)
    if args.no_trace:  # the served processes read it (weft_command, _hops_a2a)
        os.environ["WEFT_HOPS_SERVE_FLAGS"] = "--no-trace"
    config = Config.quick() if args.quick else Config()
    if args.calls is not None:
        config = dataclasses.replace(config, latency_calls=args.calls)
    if args.concurrency is not None:
        config = dataclasses.replace(config, concurrency=args.concurrency)
    legs = all_legs()
    if args.only:
        wanted = [name.strip() for name in args.only.split(",")]
        unknown = [name for name in wanted if name not in legs]
        if unknown:
            parser.error(f"unknown legs {unknown}; there are: {', '.join(legs)}")
        legs = {name: legs[name] for name in wanted}
    save = (args.save or not args.quick) and not args.no_save
    command = "python bench/hops.py" + (" " + " ".join(args_list) if args_list else "")

    def log(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    machine_info = machine()  # before the run: its load average is the machine's, not ours
    results = asyncio.run(run(config, legs, log))
    table = render(config, results)
    print(f"machine: {machine_info}\ncommand: {command}\n\n{table}")
    if save:
        append_results(args.out, command, table, "quick" if args.quick else "full", machine_info)
        log(f"appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
