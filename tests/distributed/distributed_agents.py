"""Actions served by agent processes in the distributed tests.

``effect`` leaves a trace in a log file that every process appends to: a
``start`` line when a run begins and a ``done`` line when it completes (the
effect a test counts). With ``gate`` set it holds the call until that file
exists, so a test can kill or stop an agent while a call is surely in flight.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import weft


def append(log: str, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@weft.tool
async def effect(key: str, log: str, gate: str = "") -> dict[str, object]:
    """Record a start, wait for the gate, record the effect."""
    append(log, f"start {key} {os.getpid()}")
    while gate and not Path(gate).exists():
        await asyncio.sleep(0.02)
    append(log, f"done {key} {os.getpid()}")
    return {"key": key, "pid": os.getpid()}


@weft.tool
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


def events(log: str | Path) -> list[tuple[str, str, int]]:
    """``(event, key, pid)`` per line of an effect log (empty if it does not exist yet)."""
    path = Path(log)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        event, key, pid = line.split()
        out.append((event, key, int(pid)))
    return out


@weft.tool
async def ledger(
    key: str, log: str, ctx: weft.ActionContext, delay: float = 0.0, gate: str = ""
) -> dict[str, object]:
    """``effect`` for many calls: ``start``/``done`` lines with pid, attempt, idempotency key."""
    who = f"{os.getpid()} {ctx.call.attempt} {ctx.idempotency_key}"
    append(log, f"start {key} {who}")
    if delay:
        await asyncio.sleep(delay)
    while gate and not Path(gate).exists():
        await asyncio.sleep(0.02)
    append(log, f"done {key} {who}")
    return {"key": key, "pid": os.getpid()}


def ledger_lines(log: str | Path) -> list[tuple[str, str, int, int, str]]:
    """``(event, key, pid, attempt, idempotency key)`` per line of a ledger log."""
    path = Path(log)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        event, key, pid, attempt, idem = line.split()
        out.append((event, key, int(pid), int(attempt), idem))
    return out
