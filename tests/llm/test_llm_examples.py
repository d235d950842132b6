"""Few-shot ``examples`` and ``parallel_tool_calls`` of an LLM agent, in Python and in YAML.

Fixed examples are shown before the task as earlier user/assistant turns, in
order, and their tasks join the capability card; a wrong one is an error when
the agent is made (in YAML, at its line). ``parallel_tool_calls`` is sent
with its value, only when set and only with tools. The real ``openai``
client against the local scripted server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.agents.endpoint_profiles import ENDPOINT_PROFILES
from weft.agents.examples import InvalidExample
from weft.protocols import DefinitionError
from weft.runtime import run_workflow
from weft.runtime.engine.compiler import compile_workflow
from weft.testing import OpenAIServer, ScriptedModel, json_output, text, tool_call

SENTIMENT = {
    "type": "object",
    "properties": {"label": {"enum": ["positive", "negative"]}},
    "required": ["label"],
}


@pytest.fixture(autouse=True)
def fresh_profiles() -> Iterator[None]:
    ENDPOINT_PROFILES.forget()
    yield
    ENDPOINT_PROFILES.forget()


@tool
def double(n: int) -> int:
    """Double a number."""
    return n * 2


async def run_agent(agent: LLMAgent, task: str = "Rate: the food was cold") -> Any:
    wf = Workflow("one")
    wf.node("agent", agent, with_={"task": task})
    return await run_workflow(wf)


async def test_fixed_examples_go_before_the_task_in_order_and_join_the_card() -> None:
    model = ScriptedModel([text("negative")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "rater",
            base_url=server.base_url,
            instructions="Rate the sentiment.",
            examples=[
                ("Rate: lovely staff", "positive"),
                {
                    "input": {"task": "Rate: slow service", "context": "a cafe"},
                    "output": "negative",
                },
            ],
        )
        result = await run_agent(agent)
    assert result.nodes["agent"].output == "negative"
    sent = [(m["role"], m["content"]) for m in model.requests[0].messages]
    assert sent == [
        ("system", "Rate the sentiment."),
        ("user", "Rate: lovely staff"),
        ("assistant", "positive"),
        ("user", "Rate: slow service\n\nContext:\na cafe"),
        ("assistant", "negative"),
        ("user", "Rate: the food was cold"),
    ]
    assert agent.spec.card is not None
    assert agent.spec.card.examples == ["Rate: lovely staff", "Rate: slow service"]


async def test_a_json_output_is_sent_as_json_and_must_fit_the_output_type() -> None:
    model = ScriptedModel([json_output({"label": "negative"})])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "rater",
            base_url=server.base_url,
            output_type=SENTIMENT,
            examples=[{"input": "Rate: lovely staff", "output": {"label": "positive"}}],
        )
        result = await run_agent(agent)
    assert result.nodes["agent"].output == {"label": "negative"}
    answer = model.requests[0].messages[1]
    assert answer["role"] == "assistant" and json.loads(answer["content"]) == {"label": "positive"}
    with pytest.raises(InvalidExample, match=r"examples\[1\]\.output: not an answer"):
        LLMAgent(
            "rater",
            output_type=SENTIMENT,
            examples=[("a", {"label": "positive"}), ("b", {"label": "meh"})],
        )


@pytest.mark.parametrize(
    ("examples", "match"),
    [
        ([("a", "b", "c")], r"examples\[0\]: .* is not an example"),
        ([{"input": "a"}], r"examples\[0\]\.output: missing"),
        ([{"input": "a", "output": "b", "why": "c"}], r"examples\[0\]: unknown key 'why'"),
        ([("ok", "fine"), (3, "b")], r"examples\[1\]\.input: 3 is neither text"),
        ([("a", "")], r"examples\[0\]\.output: empty"),
        ("a then b", r"examples must be a list"),
    ],
)
def test_a_wrong_example_is_named_when_the_agent_is_made(examples: Any, match: str) -> None:
    with pytest.raises(InvalidExample, match=match):
        LLMAgent("rater", examples=examples)


@pytest.mark.parametrize(("value", "sent"), [(True, True), (False, False), (None, "absent")])
async def test_parallel_tool_calls_is_sent_with_its_value_only_when_set(
    value: bool | None, sent: Any
) -> None:
    model = ScriptedModel([tool_call("double", {"n": 2}), text("4")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "calc", base_url=server.base_url, tools=[double], parallel_tool_calls=value
        )
        result = await run_agent(agent, "double 2")
    assert result.nodes["agent"].output == "4"
    assert [r.body.get("parallel_tool_calls", "absent") for r in model.requests] == [sent, sent]


WORKFLOW = """\
name: rate
actions:
  double: {{python: "{module}:double"}}
  rater:
    llm:
      base_url: {base_url}
      model: m
      instructions: "Rate the sentiment."
      tools: [double]
{extra}
nodes:
  rate:
    action: rater
    with: {{task: "Rate: the food was cold"}}
"""

TOOL = '''
def double(n: int) -> int:
    """Double a number."""
    return n * 2
'''


def write(folder: Path, extra: str, base_url: str = "http://127.0.0.1:9/v1") -> Path:
    module = f"rate_tools_{folder.name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(TOOL)
    path = folder / "rate.yaml"
    path.write_text(WORKFLOW.format(module=module, base_url=base_url, extra=extra.rstrip("\n")))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


YAML_EXAMPLES = """\
      parallel_tool_calls: false
      examples:
        - input: "Rate: lovely staff"
          output: positive
        - input: {task: "Rate: slow service"}
          output: negative
"""


async def test_yaml_examples_and_parallel_tool_calls_reach_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    model = ScriptedModel([text("negative")])
    async with OpenAIServer(model) as server:
        path = write(tmp_path, YAML_EXAMPLES, server.base_url)
        result = await run_workflow(path)
    assert result.nodes["rate"].output == "negative"
    request = model.requests[0]
    assert request.body["parallel_tool_calls"] is False
    assert [m["content"] for m in request.messages[1:]] == [
        "Rate: lovely staff",
        "positive",
        "Rate: slow service",
        "negative",
        "Rate: the food was cold",
    ]
    card = compile_workflow(path).registry.get("rater").spec.card
    assert card is not None and card.examples == ["Rate: lovely staff", "Rate: slow service"]


@pytest.mark.parametrize(
    ("extra", "needle", "words"),
    [
        (
            "      examples:\n        - input: 42\n          output: x\n",
            "input: 42",
            "examples",
        ),
        (
            "      examples:\n        - input: a\n          outptu: x\n",
            "outptu",
            "outptu",
        ),
        (
            "      parallel_tool_calls: sometimes\n",
            "parallel_tool_calls: some",
            "parallel_tool_calls",
        ),
        (
            "      output_schema: {type: object, required: [label]}\n"
            "      examples:\n"
            "        - input: a\n"
            "          output: {label: yes}\n"
            "        - input: b\n"
            "          output: no label here\n",
            "output: no label here",
            "examples[1].output: not an answer",
        ),
    ],
    ids=["input-type", "misspelt-key", "parallel-type", "output-misfit"],
)
def test_a_wrong_yaml_example_or_flag_is_an_error_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, needle: str, words: str
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, extra)
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, needle)}:" in message, message
    assert "rater" in message and words in message, message


def test_parallel_tool_calls_without_tools_is_an_error_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, "      parallel_tool_calls: true\n")
    path.write_text(path.read_text().replace("      tools: [double]\n", ""))
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, '      parallel_tool_calls:')}:" in message
    assert "parallel_tool_calls: the agent has no 'tools'" in message
