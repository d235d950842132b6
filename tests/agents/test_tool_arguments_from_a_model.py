"""What a model sends a tool is checked, and every mistake goes back to it as a tool error.

The real ``openai`` client talks to weft's local OpenAI-compatible server,
which plays a scripted model: strings where numbers belong, optional
arguments left out, arguments the tool does not take, a required one
missing, text that is not JSON. The agent never crashes on any of them; the
model reads what was wrong and may try again.
"""

from __future__ import annotations

import json
from typing import Any

from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.runtime import run_workflow
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls


@tool
def scale(n: int, factor: float = 2.0, unit: str | None = None) -> str:
    """Scale a number.

    Args:
        n: The number to scale.
        factor: What to multiply it by.
        unit: A unit to show after it.
    """
    return f"{n * factor}{unit or ''}"


async def test_what_the_model_sends_is_converted_or_refused_back_to_the_model() -> None:
    model = ScriptedModel(
        [
            tool_calls(
                ("scale", {"n": "3"}),  # a string for an int; optional ones left out
                ("scale", {"n": 1, "factor": "0.5", "unit": " m"}),
                ("scale", {"n": 1, "colour": "red"}),  # not a parameter
                ("scale", {}),  # the required one missing
                ("scale", {"n": "three"}),
                ("scale", '{"n": 1'),  # not JSON
                ("scale", "[1, 2]"),  # JSON, not an object
            ),
            text("done"),
        ]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent("calc", base_url=server.base_url, tools=[scale])
        wf = Workflow("model-arguments")
        wf.node("agent", agent, with_={"task": "scale things"})
        result = await run_workflow(wf)
    assert result.outputs == {"agent": "done"}, result.nodes
    offered = model.requests[0].tools[0]["function"]
    assert offered["description"] == "Scale a number."
    properties = offered["parameters"]["properties"]
    assert properties["n"]["description"] == "The number to scale."
    assert offered["parameters"]["required"] == ["n"]
    replies = [m["content"] for m in model.requests[1].tool_results()]
    assert replies[:2] == ["6.0", "0.5 m"]
    errors: list[dict[str, Any]] = [json.loads(r)["error"] for r in replies[2:]]
    assert errors[0] == {
        "type": "ValidationError", "message": "scale: argument 'colour' is not a parameter",
    }  # fmt: skip
    assert errors[1]["message"] == "scale: argument 'n' is required"
    assert errors[2]["message"].startswith("scale: argument 'n': Input should be a valid integer")
    assert errors[3]["type"] == "MalformedArguments" and "not valid JSON" in errors[3]["message"]
    assert errors[4] == {"type": "MalformedArguments", "message": "arguments must be a JSON object"}
    model.assert_complete()
