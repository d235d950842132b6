"""Named reducers turn the inputs a join received into one ``${input}``."""

from __future__ import annotations

import pytest

from weft.protocols import DefinitionError
from weft.workflows import BUILTIN_REDUCERS, ReducerError, resolve_reducer


def test_builtin_names() -> None:
    assert set(BUILTIN_REDUCERS) == {"list", "concat", "first", "vote", "dict", "merge"}


def test_list_keeps_values_in_order() -> None:
    assert resolve_reducer("list")([1, 2], ["a", "b"]) == [1, 2]


def test_concat_joins_strings_with_a_blank_line() -> None:
    assert resolve_reducer("concat")(["one", "two"], ["a", "b"]) == "one\n\ntwo"


def test_concat_concatenates_lists() -> None:
    assert resolve_reducer("concat")([[1], [2, 3]], ["a", "b"]) == [1, 2, 3]


def test_concat_refuses_mixed_values_naming_sources() -> None:
    with pytest.raises(ReducerError, match="str from 'a', list from 'b'"):
        resolve_reducer("concat")(["x", [1]], ["a", "b"])


def test_first_takes_the_first_arrived_in_edge_order() -> None:
    assert resolve_reducer("first")(["x", "y"], ["a", "b"]) == "x"
    assert resolve_reducer("first")([], []) is None


def test_vote_takes_the_most_common_value() -> None:
    assert resolve_reducer("vote")(["no", "yes", "yes"], ["a", "b", "c"]) == "yes"


def test_vote_compares_dicts_by_content() -> None:
    votes = [{"a": 1, "b": 2}, {"c": 3}, {"b": 2, "a": 1}]
    assert resolve_reducer("vote")(votes, ["x", "y", "z"]) == {"a": 1, "b": 2}


def test_vote_tie_goes_to_the_earliest() -> None:
    assert resolve_reducer("vote")(["b", "a", "a", "b"], ["w", "x", "y", "z"]) == "b"


def test_dict_keys_values_by_source() -> None:
    assert resolve_reducer("dict")([1, 2], ["a", "b"]) == {"a": 1, "b": 2}


def test_merge_lets_later_edges_win() -> None:
    merged = resolve_reducer("merge")([{"k": 1, "x": 0}, {"k": 2}], ["a", "b"])
    assert merged == {"k": 2, "x": 0}


def test_merge_refuses_non_dicts() -> None:
    with pytest.raises(ReducerError, match="got list from 'b'"):
        resolve_reducer("merge")([{}, []], ["a", "b"])


def test_module_function_reducer_is_imported() -> None:
    import operator

    assert resolve_reducer("operator:concat") is operator.concat


def test_missing_module_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="cannot import module 'no_such_module_xyz'"):
        resolve_reducer("no_such_module_xyz:f")


def test_missing_function_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="has no attribute 'nope'"):
        resolve_reducer("json:nope")


def test_unknown_builtin_suggests_a_name() -> None:
    with pytest.raises(DefinitionError, match="did you mean 'vote'"):
        resolve_reducer("vot")


def test_a_reducer_that_cannot_take_values_and_sources_is_refused_when_resolved() -> None:
    with pytest.raises(DefinitionError, match=r"cannot be called as len\(values, sources\)"):
        resolve_reducer("builtins:len")


def test_a_reducer_written_as_a_python_path_suggests_the_colon() -> None:
    with pytest.raises(DefinitionError, match="did you mean 'my_tools:pick'"):
        resolve_reducer("my_tools.pick")


def test_langgraphs_operator_add_points_at_concat() -> None:
    with pytest.raises(DefinitionError, match=r"LangGraph's operator\.add is weft's 'concat'"):
        resolve_reducer("operator.add")
