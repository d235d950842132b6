"""``weft validate`` and ``weft run`` list every problem of a broken file, the same list.

A file with field problems and graph problems gets them all in one run, one
per line, in file order, exit 2, no traceback; ``weft run`` prints the same
lines and runs nothing. A workflow written in Python (``wf.py``) alike.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from validate_output import invoke, problem_lines

TOOLS = """\
import weft

@weft.tool
def echo(text: str) -> str:
    return text
"""

BROKEN_YAML = """\
name: broken
actions:
  echo: {python: "validate_every_tools:echo"}
nodes:
  fetch:
    action: echo
    with: {text: hi}
    timout: 5
  sum:
    action: echo
    after: [fetc]
    with: {text: "${fetch}"}
  tail:
    after: [sum]
    with: {text: "${sum}"}
"""

BROKEN_PY = """\
from weft.workflows import Workflow
from validate_every_tools import echo

workflow = Workflow("broken")
workflow.node("fetch", echo, with_={"text": "hi"}, timeout=-1)
workflow.node("sum", echo, after=["fetc"], with_={"text": "${fetch}"})
workflow.node("loop", echo, after=["sum", "back"], concurrency=0)
workflow.node("back", echo, after=["loop"])
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / "validate_every_tools.py").write_text(TOOLS)
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_validate_lists_field_and_graph_problems_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.yaml", BROKEN_YAML)
    assert problem_lines(invoke(tmp_path, "validate", path)) == [
        f"{path}:8:5, node 'fetch', field 'timout': unknown field 'timout' "
        "(did you mean 'timeout'?)",
        f"{path}:11:13, node 'sum', field 'after': edge from unknown node 'fetc' "
        "(did you mean 'fetch'?)",
        f"{path}:13:3, node 'tail': missing required field 'action' (or 'capability')",
    ]


def test_run_prints_the_same_problems_and_runs_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.yaml", BROKEN_YAML)
    validated = problem_lines(invoke(tmp_path, "validate", path))
    assert len(validated) == 3  # the field problems and the graph's
    assert problem_lines(invoke(tmp_path, "run", path)) == validated
    runs = invoke(tmp_path, "runs", "--json")
    assert runs.exit_code == 0, runs.output
    assert runs.stdout.strip() == "[]"


def test_a_python_workflow_lists_its_problems_alike(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.py", BROKEN_PY)
    lines = problem_lines(invoke(tmp_path, "validate", path))
    assert lines == [
        f"{path}:5, node 'fetch', field 'timeout': input should be greater than 0 (got -1)",
        f"{path}:6, node 'sum', field 'after': edge from unknown node 'fetc' "
        "(did you mean 'fetch'?)",
        f"{path}:7, node 'loop', field 'concurrency': input should be greater than or equal "
        "to 1 (got 0)",
        f"{path}:7, node 'loop', field 'after': cycle without a loop bound: loop -> back -> "
        "loop; set max_iterations on the edge that closes it",
    ]
    assert problem_lines(invoke(tmp_path, "run", path)) == lines
