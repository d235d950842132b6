"""A workflow step that asks a person, for workflows written without Python.

``ask`` is a tool like any other: a YAML file brings it in with
``ask: {python: "weft.agents.human:ask"}`` and a node passes it the question
(``${...}`` references make it concrete: "Publish this draft? ${draft}") and,
optionally, the choices. The run stops ``needs_input`` at that node;
``weft resume RUN --answer NODE=VALUE`` finishes it, and the answer is the
node's output, which later edges can test (``when: "output == 'yes'"``).
Actions written in Python ask from inside their own code with ``ctx.ask``.
"""

from __future__ import annotations

from typing import Any

from weft.agents.tool import tool
from weft.protocols import ActionContext


@tool
def ask(question: str, ctx: ActionContext, choices: list[Any] | None = None) -> Any:
    """Ask a person QUESTION and wait for the answer (one of CHOICES when given);
    the answer is the output."""
    return ctx.ask(question, choices=choices)
