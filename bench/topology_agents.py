"""Distinct no-op agents for the scale runs: one action per MacNet node, ``node-{i}``.

Served by ``weft agent serve bench/topology_agents.py:actions --agent-per-action``
with ``WEFT_NODES_FIRST`` and ``WEFT_NODES_COUNT`` choosing which nodes this
process plays, so four processes can share 10,000 agents. Each action takes a
MacNet node's arguments (``task``, and its predecessors' artifacts as
``context``) and returns a short artifact naming the node and how many
artifacts it was given, so a run's outputs show which agent played each node.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from typing import Any

Node = Callable[[str, Any], Coroutine[Any, Any, str]]


def node_action(index: int) -> Node:
    """The action of node ``index``."""

    async def play(task: str, context: Any = None) -> str:
        """Play one node: an artifact from the task and the predecessors' artifacts."""
        given = len(context) if isinstance(context, list) else int(context is not None)
        return f"n{index}<{given}"

    play.__name__ = f"node_{index}"
    return play


def node_name(index: int) -> str:
    return f"node-{index}"


FIRST = int(os.environ.get("WEFT_NODES_FIRST", "0"))
COUNT = int(os.environ.get("WEFT_NODES_COUNT", "10"))

#: What ``weft agent serve`` imports: ``{"node-{i}": action}`` for this process's nodes.
actions = {node_name(i): node_action(i) for i in range(FIRST, FIRST + COUNT)}
