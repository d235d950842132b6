"""``run_workflow`` on a YAML file with ``mcp:`` entries: the servers are listed without
blocking the caller's event loop (``compile_workflow_async``), and the async compile gives
what the synchronous one gives, errors included."""

from __future__ import annotations

import asyncio
import shlex
import sys
import textwrap
import time
from pathlib import Path

import pytest

from weft import run_workflow
from weft.protocols import DefinitionError
from weft.runtime.engine.compiler import compile_workflow, compile_workflow_async

from .conftest import FIXTURE, STDIO_COMMAND


def gated_command(gate: Path) -> str:
    """The fixture server, answering nothing (``initialize`` included) until ``gate`` exists.

    ``env`` passes the gate: a stdio server gets only a few of weft's variables. Each gate
    path makes its own command line, so no test reuses another's connection."""
    return shlex.join(["env", f"WEFT_FIXTURE_GATE={gate}", sys.executable, str(FIXTURE)])


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


async def test_the_loop_ticks_while_run_workflow_lists_a_slow_server(tmp_path: Path) -> None:
    """Only a task on the caller's loop opens the gate: had compiling blocked the loop, the
    server would never answer and the run would fail to load (after 30 s)."""
    gate = tmp_path / "gate"
    path = write(
        tmp_path / "wf.yaml",
        f"""\
        name: slow-mcp
        actions:
          fx: {{mcp: '{gated_command(gate)}'}}
        nodes:
          say:
            action: fx.echo
            with: {{text: hello}}
        """,
    )
    ticks = 0
    ticks_at_gate = 0

    async def tick() -> None:
        nonlocal ticks, ticks_at_gate
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
            if ticks == 5:
                ticks_at_gate = ticks
                gate.touch()

    ticker = asyncio.create_task(tick())
    try:
        result = await run_workflow(path, record=False)
        ticks_after_run = ticks
        await asyncio.sleep(0.05)
        assert ticks > ticks_after_run  # still ticking: the ticker was alive throughout
    finally:
        ticker.cancel()
    assert ticks_at_gate == 5 and gate.exists()
    assert result.ok, result.error
    assert result.outputs == {"say": {"result": "hello"}}


def _yaml_with_errors(tmp_path: Path) -> Path:
    """A file whose first ``mcp:`` entry cannot start (line 4) and whose sub-workflow's
    cannot either (its line 3); the first is the one reported."""
    write(
        tmp_path / "sub.yaml",
        """\
        name: sub
        actions:
          inner: {mcp: "no-such-mcp-sub --x"}
        nodes:
          a: {action: inner.echo}
        """,
    )
    return write(
        tmp_path / "wf.yaml",
        """\
        name: broken
        actions:
          sub: {workflow: sub.yaml}
          fx: {mcp: "no-such-mcp-top --x"}
        nodes:
          a: {action: fx.echo}
          b: {action: sub}
        """,
    )


async def test_the_async_compile_reports_the_error_the_sync_one_does(tmp_path: Path) -> None:
    path = _yaml_with_errors(tmp_path)
    with pytest.raises(DefinitionError) as sync_error:
        await asyncio.to_thread(compile_workflow, path)
    with pytest.raises(DefinitionError) as async_error:
        await compile_workflow_async(path)
    with pytest.raises(DefinitionError) as run_error:
        await run_workflow(path, record=False)
    message = str(sync_error.value)
    assert "sub.yaml:3" in message and "action 'inner'" in message
    assert "MCP server command not found: 'no-such-mcp-sub'" in message
    assert str(async_error.value) == message == str(run_error.value)
    assert async_error.value.problems == sync_error.value.problems

    # the sub-workflow fixed, the top file's own entry is the one reported, at its line
    (tmp_path / "sub.yaml").write_text(
        f'name: sub\nactions:\n  inner: {{mcp: "{STDIO_COMMAND}"}}\n'
        "nodes:\n  a: {action: inner.echo, with: {text: x}}\n"
    )
    with pytest.raises(DefinitionError) as sync_error:
        await asyncio.to_thread(compile_workflow, path)
    with pytest.raises(DefinitionError) as async_error:
        await compile_workflow_async(path)
    message = str(sync_error.value)
    assert "wf.yaml:4" in message and "no-such-mcp-top" in message
    assert str(async_error.value) == message


async def test_both_paths_compile_the_same_workflow(tmp_path: Path) -> None:
    write(
        tmp_path / "sub.yaml",
        f"""\
        name: sub
        actions:
          inner: {{mcp: "{STDIO_COMMAND}"}}
        nodes:
          a: {{action: inner.add, with: {{a: 1, b: 2}}}}
        """,
    )
    path = write(
        tmp_path / "wf.yaml",
        f"""\
        name: same
        actions:
          fx: {{mcp: "{STDIO_COMMAND}"}}
          sub: {{workflow: sub.yaml}}
        nodes:
          a: {{action: fx.echo, with: {{text: hi}}}}
          b: {{action: sub}}
        """,
    )
    blocking = await asyncio.to_thread(compile_workflow, path)
    awaited = await compile_workflow_async(path)
    assert awaited.graph_hash == blocking.graph_hash
    assert awaited.source == blocking.source
    assert sorted(awaited.registry.names()) == sorted(blocking.registry.names())
    assert [awaited.registry.get(n).spec for n in sorted(awaited.registry.names())] == [
        blocking.registry.get(n).spec for n in sorted(blocking.registry.names())
    ]
    result = await run_workflow(awaited, record=False)
    assert result.ok, result.error
    assert result.outputs == {"a": {"result": "hi"}, "b": {"a": {"total": 3, "terms": 2}}}


async def test_several_slow_servers_are_listed_at_once(tmp_path: Path) -> None:
    """Three servers, each opened by the ticker only once all three are waiting: listed one
    after another, the first would never answer (its gate waits for the third's start)."""
    gates = [tmp_path / f"gate{i}" for i in range(3)]
    entries = "".join(
        f"  fx{i}: {{mcp: '{gated_command(gate)}'}}\n" for i, gate in enumerate(gates)
    )
    path = tmp_path / "wf.yaml"
    path.write_text(
        f"name: many\nactions:\n{entries}nodes:\n"
        + "".join(f"  n{i}: {{action: fx{i}.echo, with: {{text: '{i}'}}}}\n" for i in range(3))
    )
    started = time.monotonic()

    async def open_when_all_started() -> None:
        while len(_fixture_processes(gates)) < 3:
            await asyncio.sleep(0.02)
        for gate in gates:
            gate.touch()

    opener = asyncio.create_task(open_when_all_started())
    try:
        prepared = await asyncio.wait_for(compile_workflow_async(path), 20)
    finally:
        opener.cancel()
        for gate in gates:
            gate.touch()  # a server left waiting exits when its stdin closes
    assert {f"fx{i}.echo" for i in range(3)} <= set(prepared.registry.names())
    assert time.monotonic() - started < 20


def _fixture_processes(gates: list[Path]) -> set[str]:
    """The gates whose fixture server process is running (read from /proc)."""
    running: set[str] = set()
    for cmdline in Path("/proc").glob("[0-9]*/environ"):
        try:
            environ = cmdline.read_bytes()
        except OSError:
            continue
        for gate in gates:
            if f"WEFT_FIXTURE_GATE={gate}".encode() in environ:
                running.add(str(gate))
    return running
