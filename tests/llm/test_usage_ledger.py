"""The usage ledger adds up exactly: a run's total is the sum of every model request in it."""

from __future__ import annotations

import pytest

from weft import Workflow, tool
from weft.agents import DEFAULT_PRICES, LLMAgent
from weft.runtime import run_workflow
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, Reply, text, tool_call


@tool
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


async def test_run_usage_is_the_exact_sum_of_all_requests_across_nodes_and_nested_agents() -> None:
    served: list[tuple[str, int, int]] = []  # (model, prompt, completion) of every reply

    def answer(request: ModelRequest) -> Reply:
        n = len(served) + 1
        usage = (100 * n + 7, 10 * n + 3)  # different for every request
        served.append((request.model, *usage))
        role = request.system
        if role == "adder" and not request.tool_results():
            return tool_call("add", {"a": 2, "b": 3}, usage=usage)
        if role == "lead" and not request.tool_results():
            return tool_call("adder", {"task": "add 2 and 3"}, usage=usage)
        return text(f"{role} done", usage=usage)

    model = FunctionModel(answer)
    async with OpenAIServer(model) as server:

        def agent(name: str, model_name: str, tools: list[str] = ()) -> LLMAgent:  # type: ignore[assignment]
            return LLMAgent(
                name,
                instructions=name,
                model=model_name,
                base_url=server.base_url,
                tools=tools,
            )

        adder = agent("adder", "gpt-4o-mini", ["add"])
        lead = agent("lead", "gpt-4o", ["adder"])
        writer = agent("writer", "gpt-4.1-mini")
        wf = Workflow("ledger")
        wf.node("left", lead, with_={"task": "compute"})
        wf.node("right", writer, with_={"task": "write"})
        wf.node("final", writer, with_={"task": "join"}, after=["left", "right"])
        result = await run_workflow(wf, actions=[adder, add])

    assert result.ok
    # lead: 2 requests + its nested adder: 2 requests; writer: 1 + final: 1
    assert len(served) == 6
    assert result.usage.llm_calls == len(served)
    assert result.usage.prompt_tokens == sum(p for _, p, _ in served)
    assert result.usage.completion_tokens == sum(c for _, _, c in served)
    expected_cost = sum(DEFAULT_PRICES[m].cost(p, c) for m, p, c in served)
    assert result.usage.cost == pytest.approx(expected_cost, rel=1e-12)
    # and node by node: the nested agent's usage sits inside the node that called it
    per_node = {name: outcome.usage.llm_calls for name, outcome in result.nodes.items()}
    assert per_node == {"left": 4, "right": 1, "final": 1}
    assert sum(o.usage.prompt_tokens for o in result.nodes.values()) == result.usage.prompt_tokens
