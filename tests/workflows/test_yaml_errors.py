"""Every kind of definition error names the file, line and column where it sits."""

from __future__ import annotations

from pathlib import Path

import pytest

from weft.agents import tool
from weft.protocols import ActionSpec, DefinitionError, Location
from weft.workflows import load_workflow, loads_workflow, validate


def load_error(text: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        loads_workflow(text, file="wf.yaml")
    return info.value


def validate_error(text: str, actions: dict[str, ActionSpec] | None = None) -> DefinitionError:
    spec = loads_workflow(text, file="wf.yaml")
    with pytest.raises(DefinitionError) as info:
        validate(spec, actions)
    return info.value


def only(error: DefinitionError) -> tuple[str, Location]:
    assert len(error.problems) == 1, error
    return error.problems[0]


def test_yaml_syntax_error_has_line_and_column() -> None:
    message, where = only(load_error("name: x\nnodes:\n  a:\n    action: t\n   bad: [1\n"))
    assert message.startswith("YAML syntax error")
    assert (where.file, where.line) == ("wf.yaml", 5)
    assert where.column is not None


def test_tab_indentation_is_a_syntax_error_at_its_line() -> None:
    message, where = only(load_error("name: x\nnodes:\n\ta: 1\n"))
    assert "YAML syntax error" in message
    assert (where.line, where.column) == (3, 1)


def test_duplicate_node_names_both_lines() -> None:
    text = "name: x\nnodes:\n  a:\n    action: t\n  b:\n    action: t\n  a:\n    action: u\n"
    message, where = only(load_error(text))
    assert message == "duplicate node 'a': defined at line 3 and again at line 7"
    assert (where.line, where.column, where.node) == (7, 3, "a")


def test_duplicate_key_inside_a_node_is_refused() -> None:
    message, where = only(load_error("name: x\nnodes:\n  a:\n    action: t\n    action: u\n"))
    assert message == "duplicate key 'action': defined at line 4 and again at line 5"
    assert where.line == 5


def test_wrong_type_names_node_field_and_line() -> None:
    message, where = only(load_error("name: x\nnodes:\n  a:\n    action: t\n    timeout: abc\n"))
    assert "valid number" in message and "'abc'" in message
    assert (where.line, where.column, where.node, where.field) == (5, 5, "a", "timeout")


def test_unknown_field_suggests_the_close_one() -> None:
    message, where = only(load_error("name: x\nnodes:\n  a:\n    action: t\n    timout: 3\n"))
    assert message == "unknown field 'timout' (did you mean 'timeout'?)"
    assert (where.line, where.node) == (5, "a")


def test_missing_field_points_at_the_node() -> None:
    message, where = only(load_error("name: x\nnodes:\n  a:\n    with: {}\n"))
    assert message == "missing required field 'action' (or 'capability')"
    assert (where.line, where.node) == (3, "a")


def test_bad_node_name_points_at_that_node() -> None:
    message, where = only(
        load_error("name: x\nnodes:\n  a:\n    action: t\n  b c:\n    action: t\n")
    )
    assert "node 'b c' must start with a letter" in message
    assert (where.line, where.node) == (5, "b c")


def test_error_in_an_edge_shorthand_points_at_the_list_item() -> None:
    text = (
        "name: x\nnodes:\n  a:\n    action: t\n"
        "  b:\n    action: t\n    after:\n      - a\n      - 'x y'\n"
    )
    _, where = only(load_error(text))
    assert (where.line, where.column, where.field) == (9, 9, "after.1.node")


def test_dangling_edge_suggests_the_close_name() -> None:
    text = "name: x\nnodes:\n  fetch:\n    action: t\n  b:\n    action: t\n    after: [fetc]\n"
    message, where = only(validate_error(text))
    assert message == "edge from unknown node 'fetc' (did you mean 'fetch'?)"
    assert (where.line, where.column, where.node) == (7, 13, "b")


def test_cycle_is_named_and_located_at_its_closing_edge() -> None:
    text = (
        "name: x\nnodes:\n"
        "  a:\n    action: t\n    after: [c]\n"
        "  b:\n    action: t\n    after: [a]\n"
        "  c:\n    action: t\n    after: [b]\n"
    )
    message, where = only(validate_error(text))
    assert message == (
        "cycle without a loop bound: a -> b -> c -> a; "
        "set max_iterations on the edge that closes it"
    )
    assert (where.line, where.node) == (5, "a")


def test_bad_reference_points_at_the_argument() -> None:
    text = "name: x\nnodes:\n  a:\n    action: t\n  b:\n    action: t\n    with:\n      x: ${c}\n"
    message, where = only(validate_error(text))
    assert message.startswith("'${c}': unknown name 'c'")
    assert (where.line, where.column, where.node, where.field) == (8, 7, "b", "with.x")


def test_unknown_action_suggests_a_known_one() -> None:
    @tool
    def summarise(text: str) -> str:
        return text

    text = "name: x\nnodes:\n  a:\n    action: summarize\n    with: {text: hi}\n"
    message, where = only(validate_error(text, {"summarise": summarise.spec}))
    assert message == "unknown action 'summarize' (did you mean 'summarise'?)"
    assert (where.line, where.column, where.field) == (4, 5, "action")


def test_message_text_starts_with_file_line_and_column() -> None:
    error = load_error("name: x\nnodes:\n  a:\n    action: t\n    timeout: abc\n")
    assert str(error).startswith("wf.yaml:5:5, node 'a', field 'timeout': ")


def test_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="workflow file not found"):
        load_workflow(tmp_path / "nope.yaml")


def test_empty_file_is_a_definition_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n")
    with pytest.raises(DefinitionError, match="the file is empty"):
        load_workflow(path)


def test_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(DefinitionError, match="must be a mapping") as info:
        load_workflow(path)
    assert info.value.problems[0][1].file == str(path)


def test_file_errors_carry_the_path_given(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text("name: x\nnodes:\n  a:\n    action: t\n    timeout: abc\n")
    with pytest.raises(DefinitionError) as info:
        load_workflow(path)
    assert str(info.value).startswith(f"{path}:5:5")


def test_a_node_field_indented_too_little_is_named_as_such() -> None:
    text = "name: x\nnodes:\n  a:\n    action: t\n  with: {task: x, context: y}\n"
    message, where = only(load_error(text))
    assert message == (
        "'with' is a field of a node, not a node: indent it under the node it belongs to"
    )
    assert where.line == 5


def test_a_node_whose_fields_are_not_indented_is_empty() -> None:
    error = load_error("name: x\nnodes:\n  a:\n  action: t\n")
    messages = {where.node: message for message, where in error.problems}
    assert (
        messages["a"] == "the node is empty: indent its fields (action, with, after, ...) under it"
    )
    assert messages["action"].startswith("'action' is a field of a node, not a node")
