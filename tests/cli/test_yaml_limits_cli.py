"""``weft validate`` and ``weft run`` refuse alias bombs and deep nesting: one line, exit 2.

Before the YAML limits, a 467-byte alias bomb took 23 s and 1.7 GB in ``weft
validate`` and 1,000 levels of nesting printed a 3,000-line RecursionError.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli


def billion_laughs() -> str:
    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def deep_workflow() -> str:
    return "name: x\nnodes:\n  a:\n    action: t\n    with:\n      v: " + "[" * 1000 + "]" * 1000


def invoke(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    argv = list(args)
    if argv[0] == "run":
        argv += ["--journal", str(tmp_path / "journal.db")]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path), **(env or {})})


def one_line_exit_2(result: Result, *expected: str) -> str:
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for piece in expected:
        assert piece in lines[0], (piece, lines[0])
    return lines[0]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_alias_bomb_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    assert len(billion_laughs()) < 500
    one_line_exit_2(invoke(tmp_path, command, str(path)), f"{path}:6:", "WEFT_YAML_MAX_VALUES")


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_thousand_levels_of_nesting_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(deep_workflow())
    line = one_line_exit_2(invoke(tmp_path, command, str(path)), f"{path}:6:", "64 levels deep")
    assert "RecursionError" not in line


def test_an_input_file_is_held_to_the_same_limits(tmp_path: Path) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text("name: x\nnodes:\n  a:\n    action: t\n")
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(billion_laughs())
    result = invoke(tmp_path, "run", str(workflow), "--input-file", str(inputs))
    one_line_exit_2(result, f"{inputs}:6:", "values")


def test_the_limits_are_set_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text("name: x\nnodes:\n  a:\n    action: t\n    with: {v: [[1]]}\n")
    result = invoke(tmp_path, "validate", str(path), env={"WEFT_YAML_MAX_DEPTH": "5"})
    one_line_exit_2(result, f"{path}:5:", "more than 5 levels deep")
    bad = invoke(tmp_path, "validate", str(path), env={"WEFT_YAML_MAX_DEPTH": "deep"})
    one_line_exit_2(bad, "WEFT_YAML_MAX_DEPTH='deep': expected a whole number")
