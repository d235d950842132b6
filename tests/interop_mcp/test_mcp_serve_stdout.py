"""``weft mcp serve`` on stdio: stdout carries MCP's messages and nothing else.

MCP's stdio transport allows nothing on the server's stdout but its
messages. User code prints (at import, in a tool, from a child process, into
Python's buffer that is flushed at exit); all of it must land on stderr. The
server is a real process spoken to line by line, as any client in any
language speaks to it, and every line it writes to stdout, up to its exit,
must be a JSON-RPC message.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVE = ["-m", "weft", "mcp", "serve", "weft_printing_actions:tools", "--path", str(HERE)]
WAIT = 120.0  # a loaded machine starts the server slowly


def request(id_: int, method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}).encode()


HELLO = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "by-hand", "version": "1"},
}
INITIALIZED = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'


async def test_what_actions_print_goes_to_stderr_never_among_the_messages() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *SERVE, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    calls = [("chatty", "a"), ("achatty", "B"), ("child", "from a child")]
    lines = [request(1, "initialize", HELLO), INITIALIZED]
    lines += [
        request(n, "tools/call", {"name": name, "arguments": {"text": text}})
        for n, (name, text) in enumerate(calls, start=2)
    ]
    proc.stdin.write(b"\n".join(lines) + b"\n")
    await proc.stdin.drain()
    written: list[bytes] = []
    answered: set[int] = set()
    async with asyncio.timeout(WAIT):
        while len(answered) < 1 + len(calls):
            line = await proc.stdout.readline()
            assert line, "the server closed stdout before answering"
            written.append(line)
            message = json.loads(line)  # a line that is no JSON fails here
            answered.add(message.get("id"))
        proc.stdin.close()  # the client leaves: the server flushes and exits
        rest, errors = await proc.communicate()
    written += rest.splitlines(keepends=True)
    for line in written:
        assert json.loads(line)["jsonrpc"] == "2.0", line
    results = [json.loads(line) for line in written if json.loads(line).get("id", 0) > 1]
    assert sorted(r["result"]["content"][0]["text"] for r in results) == [
        "A", "b", "from a child"
    ]  # fmt: skip
    printed = errors.decode()
    for said in ("printed at import", "chatty says a", "achatty says B", "from a child"):
        assert said in printed
