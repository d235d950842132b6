"""A broken definition reports every problem in one go, in file order, each once.

Field problems (an unknown field, a wrong type, a node without an action) used
to hide the graph's (an edge from no node, a cycle without a bound): the graph
checks now run on the parts that passed, and leave out what would only follow
from a problem already reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from weft.protocols import ActionSpec, DefinitionError
from weft.workflows import Workflow, loads_workflow, validate


def problems(text: str) -> list[tuple[int | None, str | None, str]]:
    """(line, node, message) of every problem loading ``text`` reports, in order."""
    with pytest.raises(DefinitionError) as info:
        loads_workflow(text, file="wf.yaml")
    return [(where.line, where.node, message) for message, where in info.value.problems]


def test_field_and_graph_problems_are_reported_together_in_file_order() -> None:
    found = problems(
        "name: wf\n"  # 1
        "nodes:\n"
        "  a:\n"
        "    action: t\n"
        "    after: [c]\n"  # 5: closes a cycle a -> b -> c -> a without a bound
        "    timeout: soon\n"  # 6
        "  b:\n"
        "    action: t\n"
        "    after: [a]\n"
        "  c:\n"
        "    action: t\n"
        "    after: [b]\n"
        "  d:\n"
        "    action: t\n"
        "    after: [ghost]\n"  # 15
        "    concurrency: lots\n"  # 16
    )
    assert [(line, node) for line, node, _ in found] == [(5, "a"), (6, "a"), (15, "d"), (16, "d")]
    assert found[0][2].startswith("cycle without a loop bound: a -> b -> c -> a")
    assert "timeout" not in found[0][2] and "soon" in found[1][2]
    assert found[2][2] == "edge from unknown node 'ghost'"
    assert "lots" in found[3][2]


def test_a_node_that_failed_its_fields_keeps_its_name() -> None:
    found = problems(
        "name: wf\n"
        "nodes:\n"
        "  a:\n"
        "    with: {x: 1}\n"  # no action
        "  b:\n"
        "    action: t\n"
        "    after: [a]\n"
        '    with: {x: "${a}"}\n'
        "  c:\n"
        "    action: t\n"
        "    after: [a, ghost]\n"  # 11: an edge from a is fine, from ghost is not
        "outputs:\n"
        '  r: "${a}"\n'
    )
    assert found == [
        (3, "a", "missing required field 'action' (or 'capability')"),
        (11, "c", "edge from unknown node 'ghost'"),
    ]


def test_the_graph_problems_of_a_node_that_failed_a_field_are_still_found() -> None:
    found = problems("name: wf\nnodes:\n  a:\n    action: t\n    bogus: 1\n    after: [missing]\n")
    assert [(line, message.split(";")[0]) for line, _, message in found] == [
        (5, "unknown field 'bogus'"),
        (6, "edge from unknown node 'missing'"),
    ]


def test_references_of_a_node_whose_after_failed_are_not_judged() -> None:
    found = problems(
        "name: wf\n"
        "nodes:\n"
        "  a:\n"
        "    action: t\n"
        "  b:\n"
        "    action: t\n"
        "    after: {node: a}\n"  # a mapping, not a list: what b sees is unknown
        '    with: {x: "${a}", y: "${input}"}\n'
        "    join: {mode: quorum, count: 1}\n"
        "  c:\n"
        "    action: t\n"
        '    with: {x: "${a}"}\n'  # 12: c has no edge from a: this one is judged
    )
    assert [(line, node) for line, node, _ in found] == [(7, "b"), (12, "c")]


def test_a_lost_edge_does_not_make_a_loop_edge_close_no_cycle() -> None:
    found = problems(
        "name: wf\n"
        "nodes:\n"
        "  a:\n"
        "    action: t\n"
        "    after: [{node: c, max_iterations: 3}]\n"
        "  b:\n"
        "    action: t\n"
        "    after: [{node: a, when: 5}]\n"  # the edge that closes the loop fails its field
        "  c:\n"
        "    action: t\n"
        "    after: [b, b]\n"  # 11: a repeated edge is still found
    )
    assert [(line, node) for line, node, _ in found] == [(8, "b"), (11, "c")]
    assert "closes no cycle" not in str(found)


def test_an_input_whose_entry_failed_is_still_declared() -> None:
    found = problems(
        "name: wf\n"
        "inputs:\n"
        "  topic: {type: text}\n"
        "nodes:\n"
        "  a:\n"
        "    action: t\n"
        '    with: {x: "${inputs.topic}", y: "${inputs.topik}"}\n'
    )
    assert [(line, message.split(":")[0]) for line, _, message in found] == [
        (
            3,
            "input should be 'string', 'integer', 'number', 'boolean', 'array', 'object' or "
            "'any' (got 'text')",
        ),
        (7, "'${inputs.topik}'"),
    ]


def test_a_repeated_key_and_a_graph_problem_are_reported_together() -> None:
    found = problems(
        "name: wf\n"
        "nodes:\n"
        "  a:\n"
        "    action: t\n"
        "    action: u\n"
        "  b:\n"
        "    action: t\n"
        "    after: [nowhere]\n"
    )
    assert [(line, node) for line, node, _ in found] == [(5, "a"), (8, "b")]


def test_a_misspelt_field_is_one_problem_not_also_a_missing_one() -> None:
    found = problems(
        "name: wf\nnodes:\n  a:\n    action: t\n  b:\n    action: t\n    after: [{nod: a}]\n"
    )
    assert [message for _, _, message in found] == ["unknown field 'nod' (did you mean 'node'?)"]


def test_an_invalid_node_name_is_reported_beside_the_other_nodes_problems() -> None:
    found = problems(
        'name: wf\nnodes:\n  "a b":\n    action: t\n  c:\n    action: t\n    timeout: x\n'
    )
    assert [(line, node) for line, node, _ in found] == [(3, "a b"), (7, "c")]
    assert "must start with a letter" in found[0][2]


def test_nodes_written_as_a_list_say_how_to_write_them() -> None:
    (found,) = problems("name: wf\nnodes:\n  - a:\n      action: t\n")
    assert found[0] == 2
    assert "not as '- NAME:'" in found[2]


def test_an_edge_from_an_unknown_node_is_not_also_a_missing_predecessor() -> None:
    spec = loads_workflow(
        "name: wf\n"
        "nodes:\n"
        "  fetch:\n"
        "    action: t\n"
        "  sum:\n"
        "    action: t\n"
        "    after: [fetc]\n"
        '    with: {x: "${fetch}"}\n',
        file="wf.yaml",
    )
    with pytest.raises(DefinitionError) as info:
        validate(spec)
    assert str(info.value) == (
        "wf.yaml:7:13, node 'sum', field 'after': edge from unknown node 'fetc' "
        "(did you mean 'fetch'?)"
    )


def test_validate_reports_in_file_order() -> None:
    spec = loads_workflow(
        "name: wf\n"
        "nodes:\n"
        "  a:\n"
        '    action: t\n    with: {x: "${nothing}"}\n'  # 5: a reference problem
        "  b:\n"
        "    action: t\n"
        "    after: [ghost]\n",  # 8: a graph problem, found first
        file="wf.yaml",
    )
    with pytest.raises(DefinitionError) as info:
        validate(spec, {"t": ActionSpec(name="t")})
    assert [where.line for _, where in info.value.problems] == [5, 8]


def test_a_python_built_workflow_reports_its_fields_and_graph_together() -> None:
    wf = Workflow("py")
    wf.node("fetch", "t", timeout=-1)
    wf.node("sum", "t", after=["fetc"])
    wf.node("loop", "t", after=["sum", "back"], concurrency=0)
    wf.node("back", "t", after=["loop"])
    with pytest.raises(DefinitionError) as info:
        wf.build()
    found = [(where.node, message.split(":")[0]) for message, where in info.value.problems]
    assert found == [
        ("fetch", "input should be greater than 0 (got -1)"),
        ("sum", "edge from unknown node 'fetc' (did you mean 'fetch'?)"),
        ("loop", "input should be greater than or equal to 1 (got 0)"),
        ("loop", "cycle without a loop bound"),
    ]
    assert {Path(str(where.file)).name for _, where in info.value.problems} == {Path(__file__).name}


def summarise(text: str, n: int = 3) -> str:
    return text[:n]


def test_a_python_built_workflow_checks_the_actions_of_the_parts_that_passed() -> None:
    wf = Workflow("py")
    wf.node("a", summarise, with_={"text": "hi"}, timeout=-1)
    wf.node("b", summarise, after=["a"], with_={"txt": "${a}"})
    wf.node("c", summarise, with_={"text": "x", "m": 1}, concurrency=0)
    with pytest.raises(DefinitionError) as info:
        wf.build()
    found = [(where.node, where.field) for _, where in info.value.problems]
    assert found == [
        ("a", "timeout"),
        ("b", "with.txt"),
        ("b", "with"),  # missing 'text'
        ("c", "concurrency"),
        ("c", "with.m"),  # its 'with' passed: judged though its concurrency failed
    ]


def test_a_node_without_an_action_is_said_beside_its_other_field_problems() -> None:
    found = problems("name: wf\nnodes:\n  a:\n    with: 5\n  b:\n    action: t\n")
    assert [(line, message.split(",")[0]) for line, _, message in found] == [
        (3, "missing required field 'action' (or 'capability')"),
        (4, "expected a mapping"),
    ]
