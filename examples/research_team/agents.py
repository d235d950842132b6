"""The research team: four specialist LLM agents and three tool agents.

Specialists (``LLMAgent``; model from ``WEFT_MODEL``, endpoint from
``OPENAI_BASE_URL``, key from ``OPENAI_API_KEY``, resolved at call time):

- ``researcher`` finds facts and cites them (tools: ``format_citation``, ``calculate``);
- ``analyst`` does numbers: estimates, comparisons, statistics (tool: ``calculate``);
- ``writer`` drafts the text from the material it gets (tool: ``word_count``);
- ``critic`` reviews a draft and answers with a structured ``Review``.

Tool agents do real work without a model and are offered to the specialists
as function tools (Agent-as-Tool); the router may also give them a subtask of
their own. ``agents`` is what ``weft ask --agents`` loads;
``build_orchestrator()`` wires the LLM planner and synthesis for ``run.py``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from weft import tool
from weft.agents import LLMAgent
from weft.runtime.orchestrator import (
    LLMAggregator,
    LLMPlanner,
    Orchestrator,
    OrchestratorBudget,
)

# -- tool agents -------------------------------------------------------------------


@tool
def word_count(text: str) -> dict[str, int]:
    """Count the words, sentences and characters of a text."""
    sentences = [s for s in re.split(r"[.!?]+\s*", text.strip()) if s]
    return {"words": len(text.split()), "sentences": len(sentences), "characters": len(text)}


@tool
def format_citation(
    title: str,
    authors: list[str],
    year: int,
    url: str | None = None,
    style: Literal["apa", "mla"] = "apa",
) -> str:
    """Format a bibliographic citation (APA or MLA) from its parts."""
    if not authors:
        names = "Anonymous"
    elif style == "apa":
        names = ", ".join(authors[:-1]) + (" & " if len(authors) > 1 else "") + authors[-1]
    else:
        names = authors[0] + (", et al" if len(authors) > 2 else "")
        if len(authors) == 2:
            names += f", and {authors[1]}"
    cited = f"{names} ({year}). {title}." if style == "apa" else f'{names}. "{title}." {year}.'
    return f"{cited} {url}" if url else cited


_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Any] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        if isinstance(node.op, ast.Pow) and abs(_evaluate(node.right)) > 100:
            raise ValueError("exponent too large")
        return float(_BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right)))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return float(_FUNCTIONS[node.func.id](*(_evaluate(a) for a in node.args)))
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:60]}")


@tool
def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression (+ - * / // % **, sqrt, log, exp, abs, round, min, max)."""
    return _evaluate(ast.parse(expression, mode="eval"))


# -- specialist agents -------------------------------------------------------------


class Review(BaseModel):
    """The critic's verdict on a draft."""

    approved: bool = Field(description="True when the draft can be published as it is.")
    issues: list[str] = Field(description="Concrete problems to fix; empty when approved.")
    summary: str = Field(description="One-sentence overall judgement.")


researcher = LLMAgent(
    "researcher",
    instructions=(
        "You are the researcher of a small team. Gather the key facts on the topic you are "
        "given, state where each comes from, and format references with format_citation. "
        "Use calculate for any arithmetic. Answer with concise bullet points."
    ),
    description="Finds facts on a topic and cites sources.",
    skills=["research", "find facts", "gather background", "cite sources", "literature"],
    tools=["format_citation", "calculate"],
)

analyst = LLMAgent(
    "analyst",
    instructions=(
        "You are the analyst of a small team. Work out numbers: estimates, comparisons, "
        "costs, growth rates and statistics. Use calculate for every computation and show "
        "the inputs you used."
    ),
    description="Does quantitative analysis: estimates, costs, statistics.",
    skills=["quantitative analysis", "statistics", "cost estimates", "numbers", "compare figures"],
    tools=["calculate"],
)

writer = LLMAgent(
    "writer",
    instructions=(
        "You are the writer of a small team. Turn the material you are given into clear, "
        "well-structured prose for a general reader. Check the length with word_count."
    ),
    description="Drafts clear prose from notes and results.",
    skills=["writing", "drafting reports", "summaries", "explain for a general audience"],
    tools=["word_count"],
)

critic = LLMAgent(
    "critic",
    instructions=(
        "You are the critic of a small team. Review the draft you are given for accuracy, "
        "clarity and unsupported claims. Use word_count if length matters."
    ),
    description="Reviews drafts and lists concrete issues.",
    skills=["review", "critique", "fact checking", "editing feedback"],
    tools=["word_count"],
    output_type=Review,
)

specialists = [researcher, analyst, writer, critic]
tools = [word_count, format_citation, calculate]

#: What ``weft ask --agents examples/research_team/agents.py`` loads.
agents = [*specialists, *tools]


def build_orchestrator(**options: Any) -> Orchestrator:
    """The team with the LLM planner and an LLM synthesis step (options go to Orchestrator)."""
    options.setdefault("planner", LLMPlanner())
    options.setdefault("aggregator", LLMAggregator())
    options.setdefault("budget", OrchestratorBudget(max_subtasks=6))
    return Orchestrator(agents, **options)
