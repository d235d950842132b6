"""Graphs from LangGraph's own documentation, with a scripted chat model.

``react_agent``: the tool-calling loop of LangGraph's "agent from scratch" guide
(a model node, ``ToolNode``, ``tools_condition``), over ``MessagesState``.
``map_reduce``: the map-reduce how-to: generate subjects, ``Send`` one joke task
per subject, pick the best. Both run offline.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool as lc_tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Send
from typing_extensions import TypedDict


class ScriptedChatModel(FakeMessagesListChatModel):
    """LangChain's fake chat model, able to take tools (it answers from its script)."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self


@lc_tool
def multiply(a: int, b: int) -> int:
    """Multiply a and b."""
    return a * b


def react_agent(name: str = "calculator") -> Any:
    """A ReAct agent that multiplies with a tool, scripted: one tool call, then the answer."""
    model = ScriptedChatModel(
        responses=[
            AIMessage(
                content="",
                tool_calls=[{"name": "multiply", "args": {"a": 6, "b": 7}, "id": "call_1"}],
            ),
            AIMessage(content="6 times 7 is 42."),
        ]
    )
    bound = model.bind_tools([multiply])

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", ToolNode([multiply]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile(name=name)


class JokeState(TypedDict):
    topic: str
    subjects: list[str]
    jokes: Annotated[list[str], operator.add]
    best_selected_joke: str


class SubjectState(TypedDict):
    subject: str


def map_reduce(name: str = "jokes") -> Any:
    """The map-reduce how-to: a joke per subject, in parallel through ``Send``."""

    def generate_topics(state: JokeState) -> dict[str, Any]:
        return {"subjects": [f"{state['topic']} {kind}" for kind in ("cats", "dogs", "birds")]}

    def generate_joke(state: SubjectState) -> dict[str, Any]:
        return {"jokes": [f"a joke about {state['subject']}"]}

    def continue_to_jokes(state: JokeState) -> list[Send]:
        return [Send("generate_joke", {"subject": s}) for s in state["subjects"]]

    def best_joke(state: JokeState) -> dict[str, Any]:
        return {"best_selected_joke": max(state["jokes"], key=len)}

    graph = StateGraph(JokeState)
    graph.add_node("generate_topics", generate_topics)
    graph.add_node("generate_joke", generate_joke)
    graph.add_node("best_joke", best_joke)
    graph.add_edge(START, "generate_topics")
    graph.add_conditional_edges("generate_topics", continue_to_jokes, ["generate_joke"])
    graph.add_edge("generate_joke", "best_joke")
    graph.add_edge("best_joke", END)
    return graph.compile(name=name)
