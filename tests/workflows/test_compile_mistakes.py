"""Mistakes found when a workflow is compiled name the file, line and node, like validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from weft.agents import tool
from weft.protocols import DefinitionError
from weft.runtime.engine.compiler import compile_workflow, load_definition
from weft.workflows import load_workflow


@tool
def echo(text: str) -> str:
    """Say it back."""
    return text


def test_a_reducer_that_cannot_be_imported_names_the_node_and_line(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        "name: w\n"
        "nodes:\n"
        "  a: {action: echo, with: {text: x}}\n"
        "  b: {action: echo, with: {text: y}}\n"
        "  c:\n"
        "    action: echo\n"
        "    after: [a, b]\n"
        "    join: {reducer: 'no_such_module_xyz:pick'}\n"
        "    with: {text: '${input}'}\n"
    )
    with pytest.raises(DefinitionError) as info:
        compile_workflow(load_workflow(path), actions=[echo])
    [(message, where)] = info.value.problems
    assert "cannot import module 'no_such_module_xyz'" in message
    assert (where.line, where.node, where.field) == (8, "c", "join.reducer")


def test_a_python_file_with_its_workflow_under_another_name_says_which(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text("import weft\n\nwf = weft.Workflow('w')\nwf.node('a', 'echo')\n")
    with pytest.raises(DefinitionError, match="it defines wf: add 'workflow = wf'"):
        load_definition(path)
