"""``weft agent serve`` says once that it serves, and once that it stopped.

The CLI prints its own start line (broker, namespace, pools, pid, key) and
stop line; the agent host's log records of the same events would repeat them
on the terminal, so the CLI keeps those two out of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from pathlib import Path

import pytest

TOOLS = """
import weft

@weft.tool
def shout(text: str) -> str:
    return text.upper()
"""


async def serve_until_started(
    tmp_path: Path, broker: str, *options: str
) -> tuple[int | None, list[str]]:
    """``weft agent serve`` of one tool, stopped with SIGTERM once it says it serves;
    its exit status and every line of its stderr."""
    module = f"serve_lines_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "weft",
        "agent",
        "serve",
        f"{module}:shout",
        *options,
        "--broker",
        broker,
        "--namespace",
        f"t-{uuid.uuid4().hex[:12]}",
        cwd=tmp_path,
        env={**os.environ, "WEFT_HOME": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        while not any(re.search(r"\bagents?\b.*\bserving\b", line) for line in lines):
            line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
            assert line, f"weft agent serve ended early: {''.join(lines)}"
            lines.append(line.decode())
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode, lines + err.decode().splitlines(keepends=True)


async def test_agent_serve_prints_its_start_and_stop_lines_once(
    tmp_path: Path, mqtt_broker_url: str
) -> None:
    status, lines = await serve_until_started(tmp_path, mqtt_broker_url)
    text = "".join(lines)
    assert status == 0, text
    assert sum(" serving shout" in line for line in lines) == 1, text
    assert sum("stopped" in line for line in lines) == 1, text
    assert "drained and stopped" in text


async def test_agent_serve_replicas_print_one_start_line_for_the_group(
    tmp_path: Path, mqtt_broker_url: str
) -> None:
    status, lines = await serve_until_started(tmp_path, mqtt_broker_url, "--replicas", "3")
    text = "".join(lines)
    assert status == 0, text
    assert sum("serving" in line for line in lines) == 1, text
    assert "3 agents serving 1 action(s)" in text
    assert sum("stopped" in line for line in lines) == 1, text


async def stop_twice(tmp_path: Path, broker: str, stop: signal.Signals, *options: str) -> int:
    """``weft agent serve`` stopped with ``stop``, then sent ``stop`` again and again from
    the moment it says it drained until it has exited; its exit status."""
    module = f"serve_twice_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", "agent", "serve", f"{module}:shout", *options,
        "--broker", broker, "--namespace", f"t-{uuid.uuid4().hex[:12]}",
        cwd=tmp_path,
        env={**os.environ, "WEFT_HOME": str(tmp_path)},
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []
    try:
        while not lines or "serving" not in lines[-1]:
            lines.append((await asyncio.wait_for(process.stderr.readline(), 30)).decode())
            assert lines[-1], f"weft agent serve ended early: {''.join(lines)}"
        process.send_signal(stop)
        while "drained and stopped" not in lines[-1]:
            lines.append((await asyncio.wait_for(process.stderr.readline(), 30)).decode())
            assert lines[-1], f"no drain: {''.join(lines)}"
        waiting = asyncio.ensure_future(process.wait())
        while not waiting.done():  # through the close of its connections and the loop
            # os.kill, not process.send_signal: that polls (waitpid) first, and a child it
            # reaps is lost to asyncio's watcher, which then reports exit status 255
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, stop)
            await asyncio.wait([waiting], timeout=0.01)
        return await waiting
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("options", [(), ("--replicas", "2")])
async def test_a_second_stop_after_the_drain_still_exits_0(
    tmp_path: Path, mqtt_broker_url: str, stop: signal.Signals, options: tuple[str, ...]
) -> None:
    # A user pressing Ctrl-C twice, a supervisor repeating SIGTERM: the agent drained.
    assert await stop_twice(tmp_path, mqtt_broker_url, stop, *options) == 0
