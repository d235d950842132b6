"""weft actions that print to stdout, as debugging users' code does; served on stdio by
``test_mcp_serve_stdout.py``. The module prints when it is imported, too."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from weft import tool

print("printed at import")


@tool
def chatty(text: str) -> str:
    """Prints, then shouts (a plain ``def``: a worker thread). One string to print: print's
    arguments are written one by one, and the async tool prints at the same time."""
    print(f"chatty says {text}")
    return text.upper()


@tool
async def achatty(text: str) -> str:
    """Prints from async code, without flushing."""
    print(f"achatty says {text}", end="")
    await asyncio.sleep(0)
    return text.lower()


@tool
def child(text: str) -> str:
    """A child process that writes to the stdout it inherits."""
    subprocess.run([sys.executable, "-c", f"print({text!r})"], check=True)
    return text


tools = [chatty, achatty, child]
