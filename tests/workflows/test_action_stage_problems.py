"""The problems of loading a YAML file's actions come with the field and graph problems.

An unknown action, arguments the action's schema refuses, a ``python:`` ref
that cannot be imported and a malformed ``actions:`` entry used to wait until
every field was right, and loading ``actions:`` stopped at the first entry
that failed. Now one compile lists them all, in file order, each once, and
leaves out what only follows from another: a node whose action could not be
loaded is not told its action is unknown, and its arguments are not judged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from weft.protocols import DefinitionError
from weft.runtime.engine.compiler import compile_workflow

TOOLS = """\
def summarise(text: str, n: int = 3) -> str:
    return text[: n * 10]


def upper(text: str) -> str:
    return text.upper()
"""


def problems(tmp_path: Path, text: str) -> list[tuple[int | None, str | None, str]]:
    """(line, node, message) of every problem compiling ``text`` (beside ``stage_tools.py``)."""
    (tmp_path / "stage_tools.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    with pytest.raises(DefinitionError) as info:
        compile_workflow(path)
    return [(where.line, where.node, message) for message, where in info.value.problems]


def test_an_unknown_action_is_listed_with_an_unknown_field(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  summarise: {python: 'stage_tools:summarise'}\n"
        "  upper: {python: 'stage_tools:upper'}\n"
        "nodes:\n"
        "  first:\n"
        "    action: summarise\n"
        "    with: {text: hello}\n"
        "    timout: 5\n"  # 9
        "  second:\n"
        "    action: uper\n"  # 11
        "    after: [first]\n",
    )
    assert [(line, node) for line, node, _ in found] == [(9, "first"), (11, "second")]
    assert found[1][2] == "unknown action 'uper' (did you mean 'upper'?)"


def test_every_python_ref_that_fails_is_listed_with_the_graph(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  summarise: {python: 'stage_tools:summarise'}\n"
        "  fetch: {python: 'stage_no_such_module:fetch'}\n"  # 4
        "  shout: {python: 'stage_tools:uper'}\n"  # 5
        "nodes:\n"
        "  get:\n"
        "    action: fetch\n"
        "    with: {url: 3}\n"  # not judged: fetch has no schema to judge it by
        "  loud:\n"
        "    action: shout\n"
        "    after: [gte]\n"  # 12
        "  short:\n"
        "    action: summarise\n"
        "    with: {text: x, n: many}\n",  # 15
    )
    assert [(line, node) for line, node, _ in found] == [
        (4, None),
        (5, None),
        (12, "loud"),
        (15, "short"),
    ]
    assert found[0][2].startswith("cannot import module 'stage_no_such_module'")
    assert found[1][2] == "module 'stage_tools' has no attribute 'uper' (did you mean 'upper'?)"
    assert found[2][2] == "edge from unknown node 'gte' (did you mean 'get'?)"
    assert "argument 'n' of action 'summarise' should be integer" in found[3][2]


def test_a_wrong_argument_is_listed_with_a_misspelt_field_and_no_follow_on(
    tmp_path: Path,
) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  summarise: {python: 'stage_tools:summarise'}\n"
        "  upper: {python: 'stage_tools:upper'}\n"
        "nodes:\n"
        "  short:\n"
        "    action: summarise\n"
        "    with: {text: hello, n: three}\n"  # 8
        "  loud:\n"
        "    action: upper\n"
        "    afterr: [short]\n",  # 11: not also "missing required argument(s): text"
    )
    assert [(line, node) for line, node, _ in found] == [(8, "short"), (11, "loud")]
    assert found[0][2] == "argument 'n' of action 'summarise' should be integer, got str 'three'"
    assert found[1][2] == "unknown field 'afterr' (did you mean 'after'?)"


def test_a_node_that_lost_its_after_has_its_references_unjudged(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  upper: {python: 'stage_tools:upper'}\n"
        "nodes:\n"
        "  a:\n"
        "    action: upper\n"
        "    with: {text: hi}\n"
        "  b:\n"
        "    action: upper\n"
        "    afterr: [a]\n"
        "    with: {text: '${a}'}\n",  # not "'a' is not a direct predecessor"
    )
    assert [message for _, _, message in found] == [
        "unknown field 'afterr' (did you mean 'after'?)"
    ]


def test_a_malformed_actions_entry_keeps_its_name(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  summarise: {python: 'stage_tools:summarise'}\n"
        "  broken: {pyhton: 'stage_tools:upper'}\n"  # 4
        "  helper:\n"
        "    llm: {model: gpt-4o-mini, tools: [broken]}\n"
        "action_concurrency: {broken: 1}\n"
        "nodes:\n"
        "  a:\n"
        "    action: broken\n"
        "    with: {anything: 1}\n"
        "  b:\n"
        "    action: summarise\n"
        "    after: [{node: a, critic: broken}]\n"
        "    with: {txt: x}\n",  # 15
    )
    assert [(line, node) for line, node, _ in found] == [(4, None), (15, "b"), (15, "b")]
    assert "unknown field 'pyhton'" in found[0][2]
    assert all("broken" not in message for _, _, message in found[1:])


def test_a_ref_that_fails_hides_no_other_problem_of_a_right_file(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  fetch: {python: 'stage_tools:fetch'}\n"  # 3
        "  summarise: {python: 'stage_tools:summarise'}\n"
        "nodes:\n"
        "  get:\n"
        "    action: fetch\n"
        "    with: {url: 3}\n"
        "  short:\n"
        "    action: summarise\n"
        "    after: [{node: get, critic: fetch}]\n"
        "    with: {text: x, n: many}\n"  # 12
        "  last:\n"
        "    action: sumarise\n"  # 14
        "    after: [short]\n",
    )
    assert [(line, node) for line, node, _ in found] == [(3, None), (12, "short"), (14, "last")]
    assert found[0][2].startswith("module 'stage_tools' has no attribute 'fetch'")
    assert found[2][2] == "unknown action 'sumarise' (did you mean 'summarise'?)"


def test_a_node_with_a_repeated_key_is_not_judged_and_the_others_are(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  summarise: {python: 'stage_tools:summarise'}\n"
        "nodes:\n"
        "  a:\n"
        "    action: summarise\n"
        "    with: {text: x, n: many}\n"
        "    with: {text: y}\n"  # 8
        "  b:\n"
        "    action: summarise\n"
        "    with: {txt: x}\n",  # 11
    )
    assert [(line, node) for line, node, _ in found] == [(8, "a"), (11, "b"), (11, "b")]
    assert found[0][2].startswith("duplicate key 'with'")


def test_an_mcp_server_is_not_started_for_a_file_whose_fields_fail(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  files: {mcp: 'stage_no_such_command --stdio'}\n"
        "  shout: {python: 'stage_tools:uper'}\n"  # 4
        "nodes:\n"
        "  a:\n"
        "    action: files.read_file\n"
        "    with: {path: x}\n"
        "    timout: 5\n",  # 9
    )
    assert [(line, node) for line, node, _ in found] == [(4, None), (9, "a")]


def test_a_server_that_fails_leaves_its_tools_unjudged(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  files: {mcp: 'stage_no_such_command --stdio'}\n"  # 3
        "  shout: {python: 'stage_tools:uper'}\n"  # 4
        "nodes:\n"
        "  a:\n"
        "    action: files.read_file\n"
        "    with: {path: x}\n"
        "  b:\n"
        "    action: files.write_file\n"
        "    after: [{node: a, critic: files.check}]\n",
    )
    assert [line for line, _, _ in found] == [3, 4]
    assert "stage_no_such_command" in found[0][2]


def test_an_included_file_with_field_problems_is_listed_with_the_parent(tmp_path: Path) -> None:
    (tmp_path / "sub.yaml").write_text(
        "name: sub\n"
        "actions:\n"
        "  upper: {python: 'stage_tools:uppr'}\n"  # 3
        "nodes:\n"
        "  x:\n"
        "    action: upper\n"
        "    timout: 1\n"  # 7
    )
    found = problems(
        tmp_path,
        "name: wf\n"
        "actions:\n"
        "  sub: {workflow: sub.yaml}\n"
        "  shout: {python: 'stage_tools:uper'}\n"  # 4
        "nodes:\n"
        "  a:\n"
        "    action: sub\n"
        "    with: {anything: 1}\n",
    )
    assert [line for line, _, _ in found] == [4, 3, 7]  # the parent's file first
    assert "uppr" in found[1][2] and "timout" in found[2][2]
