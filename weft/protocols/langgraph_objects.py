"""Telling LangGraph's objects apart by their public API, without importing LangGraph.

A compiled graph (a ``Pregel``) is an action; its builder (a ``StateGraph`` not yet
compiled) is the commonest slip of a LangGraph user, who passes it where the compiled
graph belongs. The builder, ``as_action`` (a YAML ``python:`` ref) and an LLM agent's
``tools`` all meet that slip, so the tests and the one message for it live here, in the
room all three may import (langgraph is an optional extra).
"""

from __future__ import annotations

from typing import Any

__all__ = ["compile_it_first", "is_langgraph_builder", "is_langgraph_graph"]


def is_langgraph_graph(obj: Any) -> bool:
    """Whether ``obj`` is a compiled LangGraph graph (a ``Pregel``)."""
    return (
        type(obj).__module__.startswith("langgraph.")
        and callable(getattr(obj, "ainvoke", None))
        and callable(getattr(obj, "get_input_jsonschema", None))
    )


def is_langgraph_builder(obj: Any) -> bool:
    """Whether ``obj`` is a LangGraph graph *builder* (a ``StateGraph`` not yet compiled)."""
    return (
        type(obj).__module__.startswith("langgraph.")
        and callable(getattr(obj, "compile", None))
        and not is_langgraph_graph(obj)
    )


def compile_it_first(obj: Any) -> str:
    """What to say for a builder given as an action: it was ``<StateGraph object at
    0x...> is not an action`` from a ``python:`` ref or an agent's ``tools``."""
    return f"a LangGraph {type(obj).__name__} must be compiled to be an action: pass its .compile()"
