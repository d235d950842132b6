"""Actions that fail, served to MCP and A2A clients by ``test_mcp_serve_tracebacks`` and
``test_a2a_served_tracebacks``, in process and by the CLI (``failing_actions:tools``)."""

from __future__ import annotations

from weft import ActionFailed, tool


def _check(n: int) -> int:
    if n > 100:
        raise ValueError(f"{n} is too big for this tool")
    return n


@tool
def boom(n: int) -> int:
    """Fails, from a helper function, on numbers over 100."""
    return _check(n)


@tool
def refuse(reason: str) -> str:
    """Fails as the tool chose to (no traceback to keep)."""
    raise ActionFailed(f"refused: {reason}", retryable=True, error_type="Refused")


tools = [boom, refuse]
