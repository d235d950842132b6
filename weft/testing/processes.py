"""``weft`` commands in processes of their own, for tests and benchmarks.

A server started the way a user starts it (``weft mcp serve --http``,
``weft a2a serve``, ``weft agent serve``) says where it listens on stderr;
``weft_process`` waits for that line, hands it over, and ends the process
when the block ends, so each test or bench leg does not write that dance again::

    async with weft_process("mcp", "serve", "tools:echo", "--http", "127.0.0.1:0",
                            ready=r"at (http://\\S+/mcp)") as served:
        url = served.ready.group(1)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WeftProcess:
    """A running ``weft`` command: the process, and the match of ``ready`` on its stderr."""

    process: asyncio.subprocess.Process
    ready: re.Match[str]


@asynccontextmanager
async def weft_process(
    *args: str, ready: str, timeout: float = 60.0, cwd: str | Path | None = None
) -> AsyncIterator[WeftProcess]:
    """``python -m weft ARGS`` until the block ends, entered once its stderr matches ``ready``
    (a regular expression, searched in all it wrote so far).

    Raises ``RuntimeError`` with what it wrote when it exits first, and
    ``TimeoutError`` after ``timeout`` seconds. The rest of its stderr is read
    and dropped, so a chatty server never blocks on a full pipe. On exit it
    is ended by ``stop_process``, unless the block ended it already.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", *args,
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=cwd,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        seen = ""
        async with asyncio.timeout(timeout):
            while not (found := re.search(ready, seen)):
                line = await proc.stderr.readline()
                if not line:
                    raise RuntimeError(f"weft {' '.join(args)} exited: {seen}")
                seen += line.decode()
        drain = asyncio.ensure_future(proc.stderr.read())
        try:
            yield WeftProcess(proc, found)
        finally:
            drain.cancel()
    finally:
        await stop_process(proc)


async def stop_process(proc: asyncio.subprocess.Process, grace: float = 15.0) -> None:
    """End ``proc``: SIGTERM (weft's servers drain on it), SIGKILL if it has not ended after
    ``grace`` seconds; returns once it has exited."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
