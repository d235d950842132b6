"""Lambdas are all ``<lambda>`` to Python: weft names one after the variable that holds it
when it is collected from a file, and refuses two of one name where no name can be known,
saying how to name them; one never silently replaces the other."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft import tool
from weft.agents import LLMAgent
from weft.cli import cli
from weft.cli._ask_agents import load_agents
from weft.cli._serve_targets import load_target
from weft.protocols import DefinitionError
from weft.runtime.engine.registry import ActionRegistry
from weft.workflows import Workflow

TOOLS = """
import weft

add = weft.tool(lambda task: "sum of " + task)
mul = weft.tool(lambda task: "product of " + task)
"""

PLAIN = """
add = lambda a, b: a + b
mul = lambda a, b: a * b
"""

LISTED = PLAIN + "agents = [add, mul]\n"

UNNAMED = "agents = [lambda a, b: a + b, lambda a, b: a * b]\n"


def _file(tmp_path: Path, text: str, name: str = "tools.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _ask(tmp_path: Path, *args: str) -> Result:
    journal = str(tmp_path / "journal.db")
    options = ["--router", "lexical", "--no-memory", "--journal", journal]
    return CliRunner().invoke(cli, ["ask", *args, *options], catch_exceptions=False)


def test_ask_names_each_top_level_lambda_tool_after_its_variable(tmp_path: Path) -> None:
    path = _file(tmp_path, TOOLS)
    registry = load_agents((str(path),))
    assert registry.names() == ["add", "mul"]
    assert [registry.get(n).spec.name for n in ("add", "mul")] == ["add", "mul"]

    result = _ask(tmp_path, "Add 2 and 3", "--agents", str(path))
    assert result.exit_code == 0, result.output
    assert "→ add" in result.output and "sum of Add 2 and 3" in result.output


def test_a_list_of_lambdas_held_by_variables_takes_their_names(tmp_path: Path) -> None:
    registry = load_agents((str(_file(tmp_path, LISTED)),))
    assert registry.names() == ["add", "mul"]
    assert registry.get("mul").spec.name == "mul"


def test_a_lambda_tool_in_a_dict_takes_its_key_as_its_name(tmp_path: Path) -> None:
    text = """
    import weft
    agents = {"add": weft.tool(lambda a, b: a + b), "mul": weft.tool(lambda a, b: a * b)}
    """
    registry = load_agents((str(_file(tmp_path, text)),))
    assert {n: registry.get(n).spec.name for n in registry.names()} == {"add": "add", "mul": "mul"}


def test_agent_serve_names_lambdas_after_their_variables(tmp_path: Path) -> None:
    path = _file(tmp_path, TOOLS, "served_tools.py")
    assert [a.spec.name for a in load_target(str(path))] == ["add", "mul"]
    assert load_target(f"{path}:mul").spec.name == "mul"
    plain = _file(tmp_path, PLAIN, "served_plain.py")
    assert load_target(f"{plain}:add").spec.name == "add"


def test_a_file_of_plain_lambdas_is_refused_with_what_to_write(tmp_path: Path) -> None:
    result = _ask(tmp_path, "Add 2 and 3", "--agents", str(_file(tmp_path, PLAIN)))
    assert result.exit_code != 0
    assert "its plain functions (add, mul) are not taken on their own" in result.output
    assert "agents = [add, mul]" in result.output
    assert "Traceback" not in result.output


def test_lambdas_no_file_names_clash_with_the_way_to_name_them(tmp_path: Path) -> None:
    result = _ask(tmp_path, "Add 2 and 3", "--agents", str(_file(tmp_path, UNNAMED)))
    assert result.exit_code != 0
    assert "two different actions are registered as '<lambda>'" in result.output
    assert "a lambda has no name of its own" in result.output
    assert "weft.tool(name='add')" in result.output
    assert "Traceback" not in result.output


def test_a_registry_refuses_a_second_lambda_and_says_how_to_name_it() -> None:
    registry = ActionRegistry()
    registry.register(lambda a, b: a + b)
    with pytest.raises(DefinitionError, match="a lambda has no name of its own"):
        registry.register(lambda a, b: a * b)
    registry.register(lambda a, b: a * b, name="mul")  # named: fine
    assert registry.names() == ["<lambda>", "mul"]


def test_a_workflow_refuses_a_second_lambda_at_its_node() -> None:
    wf = Workflow("lambdas")
    wf.node("double", lambda x: x * 2)
    with pytest.raises(DefinitionError, match=r"node 'triple'.*a lambda has no name of its own"):
        wf.node("triple", lambda x: x * 3)
    wf.node("triple", tool(name="triple")(lambda x: x * 3))
    assert sorted(wf.actions) == ["<lambda>", "triple"]


def test_an_agent_refuses_two_tools_of_one_name_instead_of_offering_one() -> None:
    """Before, both were offered as '<lambda>' and a registry kept only the first."""
    with pytest.raises(DefinitionError, match=r"tools: two different tools are named '<lambda>'"):
        LLMAgent("calc", tools=[lambda a, b: a + b, lambda a, b: a * b], model="m")

    class Counter:
        def count(self, text: str) -> int:
            return len(text.split())

    counter = Counter()  # obj.method is a new object at each access: the same tool
    agent = LLMAgent("counter", tools=[counter.count, counter.count], model="m")
    assert agent.tools == ["count", "count"]


def test_a_renamed_tool_is_the_same_tool_under_another_name() -> None:
    from weft import run_sync

    made = tool(lambda a, b: a + b)
    add = made.named("add")
    assert (add.spec.name, made.spec.name) == ("add", "<lambda>")
    assert add.spec.input_schema == made.spec.input_schema
    assert run_sync(add, {"a": 2, "b": 3}).outputs == {"add": 5}
