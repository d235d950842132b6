"""``foreach: [a, b, c]``: a literal list, its elements' references resolved per element.

Before, only one whole ``${...}`` reference was accepted and a literal list
failed validation with "input should be a valid string". The list runs on
weft's engine and on LangGraph's, written in YAML or with the builder.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from weft import DefinitionError, Workflow, loads_workflow, run_workflow, tool
from weft.cli import cli
from weft.runtime.engine.secret_flow import analyse
from weft.runtime.engine.to_langgraph import run_langgraph
from weft.workflows.validate import validate
from weft.workflows.yaml_io import dumps_workflow


@tool
def shout(word: str, index: int) -> str:
    """Say a word loudly, numbered."""
    return f"{index}:{word.upper()}"


@tool
def pick() -> str:
    """Pick a word."""
    return "picked"


YAML = """\
name: literal-foreach
inputs:
  city: {default: oslo}
nodes:
  first: {action: pick}
  each:
    action: shout
    after: first
    foreach: [apple, "${inputs.city}", "${first}", "to ${inputs.city}"]
    with: {word: "${item}", index: "${index}"}
"""

EXPECTED = ["0:APPLE", "1:OSLO", "2:PICKED", "3:TO OSLO"]

Run = Callable[..., Awaitable[Any]]
ENGINES = [pytest.param(run_workflow, id="weft"), pytest.param(run_langgraph, id="langgraph")]


@pytest.mark.parametrize("run", ENGINES)
async def test_a_yaml_literal_list_runs_once_per_element_with_its_references_resolved(
    run: Run,
) -> None:
    result = await run(loads_workflow(YAML), {}, actions=[shout, pick], record=False)
    assert result.ok, result.error
    assert result.outputs == {"each": EXPECTED}


def builder(foreach: Any) -> Workflow:
    wf = Workflow("literal-foreach")
    wf.input("city", default="oslo")
    first = wf.node("first", pick)
    wf.node(
        "each", shout, after=first, foreach=foreach, with_={"word": "${item}", "index": "${index}"}
    )
    return wf


@pytest.mark.parametrize("run", ENGINES)
@pytest.mark.parametrize("make", [list, tuple])
async def test_the_builder_takes_a_list_or_tuple_for_foreach(run: Run, make: type) -> None:
    wf = builder(make(["apple", "${inputs.city}", "${first}", "to ${inputs.city}"]))
    result = await run(wf, {}, record=False)
    assert result.ok, result.error
    assert result.outputs == {"each": EXPECTED}


def test_a_literal_foreach_round_trips_through_yaml() -> None:
    spec = builder(["apple", "${inputs.city}", {"k": "${first}"}, 3]).build()
    again = loads_workflow(dumps_workflow(spec))
    assert again.nodes["each"].foreach == ["apple", "${inputs.city}", {"k": "${first}"}, 3]


def test_references_in_a_literal_list_are_checked_with_their_line_and_element() -> None:
    text = YAML.replace('"${first}"', '"${item}"').replace(
        '"${inputs.city}", "${item}"', '"${inputs.town}", "${item}"'
    )
    with pytest.raises(DefinitionError) as caught:
        validate(loads_workflow(text))
    message = str(caught.value)
    assert (
        "<string>:9:22, node 'each', field 'foreach.1': '${inputs.town}': unknown input 'town'"
        in message
    )
    assert "field 'foreach.2': '${item}': foreach reads its list before there is an 'item'" in (
        message
    )


def test_a_mapping_for_foreach_says_what_foreach_takes() -> None:
    text = YAML.replace('[apple, "${inputs.city}", "${first}", "to ${inputs.city}"]', "{a: 1}")
    with pytest.raises(DefinitionError) as caught:
        loads_workflow(text)
    assert str(caught.value) == (
        "<string>:9:5, node 'each', field 'foreach': foreach must be a ${...} reference to a "
        "list or a literal list (foreach: [a, b]), got a mapping"
    )


def test_a_string_that_is_no_reference_says_how_to_write_a_list() -> None:
    with pytest.raises(DefinitionError, match=r"or a literal list \(foreach: \[a, b\]"):
        builder("apple, pear").build()


def test_an_element_that_feeds_a_secret_argument_is_a_secret() -> None:
    """A literal list's elements are what ``${item}`` reads: masked like any secret source."""
    wf = Workflow("secret-items")
    wf.input("token")
    wf.node("each", shout, foreach=["${inputs.token}", "hunter2"], with_={"api_key": "${item}"})
    flow = analyse(wf.spec(), {})
    assert flow.inputs == {("token",)} and flow.literals == {"hunter2"}


TOOLS = '''
from weft import tool

@tool
def shout(word: str, index: int) -> str:
    """Say a word loudly, numbered."""
    return f"{index}:{word.upper()}"

@tool
def pick() -> str:
    """Pick a word."""
    return "picked"
'''


@pytest.mark.parametrize("engine", ["weft", "langgraph"])
def test_weft_run_takes_a_literal_foreach(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "literal_tools.py").write_text(TOOLS)
    actions = 'actions:\n  shout: {python: "literal_tools:shout"}\n'
    actions += '  pick: {python: "literal_tools:pick"}\nnodes:\n'
    (tmp_path / "wf.yaml").write_text(YAML.replace("nodes:\n", actions))
    env = {"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None}
    ran = CliRunner().invoke(cli, ["run", "wf.yaml", "--engine", engine, "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["outputs"] == {"each": EXPECTED}
