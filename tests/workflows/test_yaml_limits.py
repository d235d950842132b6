"""YAML is read within limits: alias bombs, deep nesting and huge files fail in one line.

Each breach is a ``DefinitionError`` with one problem naming the file and the
line, found while the YAML node tree is composed, before anything is
expanded: the tests bound the memory a refused file may cost.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from weft.protocols import DefinitionError, Location, WorkflowSpec
from weft.workflows import LoadLimits, load_workflow, loads_workflow
from weft.workflows.yaml_io import loads_yaml

WORKFLOW_HEAD = "name: x\nnodes:\n  a:\n    action: t\n    with:\n"


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """``l0: &a0 [x, ...]`` then each level an anchor repeating the previous one ``width`` times."""
    lines = [f"l0: &a0 [{','.join('x' * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &a{level} [{','.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def refused(
    text: str, limits: LoadLimits | None = None, *, measure: bool = True
) -> tuple[str, Location]:
    """The one problem ``text`` is refused with; refusing it must cost under 20 MB.

    ``measure=False`` skips the memory count, which slows PyYAML's scanner
    tenfold on a long line of brackets.
    """
    if measure:
        tracemalloc.start()
    try:
        with pytest.raises(DefinitionError) as info:
            loads_workflow(text, file="wf.yaml", limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, f"refusing it took {peak / 1e6:.0f} MB"
    assert len(info.value.problems) == 1, info.value
    assert "\n" not in str(info.value)
    return info.value.problems[0]


def nested(depth: int) -> str:
    return WORKFLOW_HEAD + "      v: " + "[" * depth + "]" * depth + "\n"


def test_the_billion_laughs_is_refused_at_the_line_of_the_alias_that_passes_the_limit() -> None:
    text = billion_laughs()
    assert len(text.encode()) < 500
    message, where = refused(text)
    assert "more than 200,000 values" in message and "WEFT_YAML_MAX_VALUES" in message
    assert (where.file, where.line) == ("wf.yaml", 6)  # l5: 10 x 9**5 values


def test_the_billion_laughs_inside_a_workflow_node_is_refused_too() -> None:
    body = "".join(f"      {line}\n" for line in billion_laughs().splitlines())
    message, where = refused(WORKFLOW_HEAD + body)
    assert "values" in message and where.line is not None and where.line > 5


def test_a_thousand_levels_of_flow_nesting_is_one_line_not_a_recursion_error() -> None:
    message, where = refused(nested(1000), measure=False)
    assert message.startswith("YAML nested more than 64 levels deep")
    assert "WEFT_YAML_MAX_DEPTH" in message
    assert (where.line, where.column) == (6, 10 + 64 - 4)  # `with:` holds level 4; `[` at 10


def test_a_thousand_levels_of_block_mappings_is_refused_too() -> None:
    text = "".join("  " * i + "k:\n" for i in range(1000)) + "  " * 1000 + "v\n"
    message, where = refused(text)
    assert "nested more than 64 levels" in message and where.line == 65


def test_nesting_up_to_the_limit_is_read() -> None:
    spec = loads_workflow(nested(64 - 4), limits=LoadLimits(max_depth=64))  # with: is level 4
    assert isinstance(spec, WorkflowSpec)
    message, _ = refused(nested(64 - 3), LoadLimits(max_depth=64))
    assert "more than 64 levels" in message


def test_an_alias_that_nests_past_the_limit_is_refused_where_it_is_used() -> None:
    text = "a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    message, where = refused(text)
    assert message.startswith("alias *a nests the YAML more than 64 levels deep")
    assert (where.line, where.column) == (2, 34)


def test_the_number_of_aliases_is_bounded() -> None:
    text = "a: &a 1\nb: [*a, *a, *a]\n"
    assert loads_yaml(text, limits=LoadLimits(max_aliases=3)) == {"a": 1, "b": [1, 1, 1]}
    message, where = refused(text, LoadLimits(max_aliases=2))
    assert message.startswith("more than 2 YAML aliases") and "WEFT_YAML_MAX_ALIASES" in message
    assert (where.line, where.column) == (2, 13)


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    message, where = refused("a: &a [1, *a]\n")
    assert message == "alias *a is inside the anchor &a it names"
    assert (where.line, where.column) == (1, 11)


def test_a_file_over_max_bytes_is_refused_naming_the_line_it_crosses(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    text = WORKFLOW_HEAD + "".join(f"      k{i}: {'x' * 50}\n" for i in range(100))
    path.write_text(text)
    with pytest.raises(DefinitionError) as info:
        load_workflow(path, limits=LoadLimits(max_bytes=1000))
    ((message, where),) = info.value.problems
    assert message.startswith(f"YAML of {path.stat().st_size:,} bytes is too large")
    assert "WEFT_YAML_MAX_BYTES" in message
    assert where.file == str(path) and where.line == text[:1000].count("\n") + 1 == 21
    loaded = load_workflow(path, limits=LoadLimits(max_bytes=path.stat().st_size))
    assert loaded.name == "x"


def test_text_over_max_bytes_is_refused_by_loads_workflow_too() -> None:
    text = nested(1) + "#" * 2000
    message, where = refused(text, LoadLimits(max_bytes=100))
    assert "too large" in message and where.line == text[:100].count("\n") + 1 == 7


def test_anchors_and_merge_keys_still_work() -> None:
    text = (
        "name: x\nnodes:\n"
        "  a: &base\n    action: t\n    timeout: 5\n    with: &args {v: [1, 2]}\n"
        "  b:\n    <<: *base\n    after: a\n    with: *args\n"
    )
    spec = loads_workflow(text)
    assert spec.nodes["b"].timeout == 5 and spec.nodes["b"].with_ == {"v": [1, 2]}


@pytest.mark.parametrize(
    ("variable", "field", "value"),
    [
        ("WEFT_YAML_MAX_BYTES", "max_bytes", 10),
        ("WEFT_YAML_MAX_DEPTH", "max_depth", 8),
        ("WEFT_YAML_MAX_ALIASES", "max_aliases", 0),
        ("WEFT_YAML_MAX_VALUES", "max_values", 1_000_000),
    ],
)
def test_each_limit_is_set_by_its_environment_variable(
    variable: str, field: str, value: int
) -> None:
    limits = LoadLimits.from_env({variable: str(value)})
    assert getattr(limits, field) == value
    assert limits.model_dump(exclude={field}) == LoadLimits().model_dump(exclude={field})


def test_the_environment_applies_when_no_limits_are_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEFT_YAML_MAX_DEPTH", "5")
    message, _ = refused(nested(2))
    assert "more than 5 levels" in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("many", "WEFT_YAML_MAX_DEPTH='many': expected a whole number"), ("1000", "less than")],
)
def test_a_bad_environment_value_is_an_error_naming_the_variable(value: str, expected: str) -> None:
    with pytest.raises(DefinitionError) as info:
        LoadLimits.from_env({"WEFT_YAML_MAX_DEPTH": value})
    assert expected in str(info.value) and str(info.value).startswith("WEFT_YAML_MAX_DEPTH=")


def test_loads_yaml_reads_plain_data_with_the_same_rules() -> None:
    data: Any = loads_yaml("on: yes\nlist: [1, 2.5, null]\n")
    assert data == {"on": True, "list": [1, 2.5, None]}
    assert loads_yaml("") is None
    with pytest.raises(DefinitionError, match=r"inputs\.yaml:2:1: duplicate key 'a'"):
        loads_yaml("a: 1\na: 2\n", file="inputs.yaml")
    with pytest.raises(DefinitionError, match="values"):
        loads_yaml(billion_laughs(), file="inputs.yaml")
