"""The action every leg of ``bench/hops.py`` calls: ``echo``, as trivial as an action gets.

Served by target ``bench/_hops_echo.py:echo`` (``weft agent serve``, ``weft mcp
serve``, and the A2A legs' servers), and called in-process from the same
object, so every leg runs the same code behind its hop.
"""

from __future__ import annotations

from typing import Any

from weft import tool


@tool
async def echo(text: str, n: int = 0) -> dict[str, Any]:
    """Return the arguments as they came."""
    return {"text": text, "n": n}
