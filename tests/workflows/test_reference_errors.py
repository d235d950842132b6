"""A reference that cannot be read says what it met, and where a user's guess went wrong."""

from __future__ import annotations

import pytest

from weft.workflows.expressions import ExpressionError, resolve_path


def test_reading_output_of_a_node_whose_value_is_a_list_hints_at_the_plain_reference() -> None:
    """Found writing ``foreach: ${items.output}`` for a node that returns a list: the
    reference to a node is its output itself, so the message says so."""
    with pytest.raises(ExpressionError) as caught:
        resolve_path({"items": [1, 2, 3]}, ("items", "output"))
    message = str(caught.value)
    assert "cannot read 'output' of list at 'items'" in message
    assert "the value of '${items}' is the output itself" in message


def test_other_missing_fields_get_no_such_hint() -> None:
    with pytest.raises(ExpressionError) as caught:
        resolve_path({"items": [1, 2, 3]}, ("items", "name"))
    assert "output itself" not in str(caught.value)
    with pytest.raises(ExpressionError) as caught:
        resolve_path({"a": {"b": 5}}, ("a", "b", "output"))
    assert "output itself" not in str(caught.value)


def test_a_missing_key_of_a_mapping_lists_the_keys() -> None:
    with pytest.raises(ExpressionError, match=r"'a' has no key 'c' \(keys: b\)"):
        resolve_path({"a": {"b": 5}}, ("a", "c"))
