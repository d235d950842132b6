"""A ``number`` input is a finite number: ``nan`` and ``inf`` are refused, not run as null.

``float()`` reads ``"nan"``, ``"inf"`` and ``"-Infinity"``, and a YAML input file's
``.nan`` is a float NaN; JSON holds none of them, so such a value would reach the
journal and every ``--json`` output as ``null``, silently. A user who typed one
gets the same one-line error (exit 2) as for any other value of the wrong type.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.protocols import InputError, WorkflowSpec
from weft.runtime.engine.inputs import resolve_inputs
from weft.workflows import loads_workflow

WORKFLOW = """\
name: finite
inputs:
  rate: {type: number, default: 1}
nodes:
  a: {action: echo, with: {value: "${inputs.rate}"}}
"""


def _spec() -> WorkflowSpec:
    return loads_workflow(WORKFLOW)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_non_finite_text_is_refused(text: str) -> None:
    with pytest.raises(InputError, match=r"input 'rate': expected number"):
        resolve_inputs(_spec(), {"rate": text}, from_text=True)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_value_is_refused(value: float) -> None:
    with pytest.raises(InputError, match=r"input 'rate': expected a finite number"):
        resolve_inputs(_spec(), {"rate": value})


def test_finite_numbers_still_pass() -> None:
    assert resolve_inputs(_spec(), {"rate": "1e-3"}, from_text=True) == {"rate": 0.001}
    assert resolve_inputs(_spec(), {"rate": 2}) == {"rate": 2}


def test_weft_run_refuses_nan_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "finite_tools.py").write_text(
        "def echo(value: object = None) -> object:\n    return value\n"
    )
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(WORKFLOW).replace(
            "nodes:", 'actions:\n  echo: {python: "finite_tools:echo"}\nnodes:'
        )
    )
    (tmp_path / "inputs.yaml").write_text("rate: .nan\n")
    env = {"WEFT_HOME": str(tmp_path)}
    for extra in (["-i", "rate=nan"], ["--input-file", str(tmp_path / "inputs.yaml")]):
        result = CliRunner().invoke(cli, ["run", str(path), *extra], env=env)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: input 'rate'"), result.stderr


def test_nan_inside_json_text_is_refused() -> None:
    spec = loads_workflow("name: j\ninputs:\n  tags: {type: array}\nnodes:\n  a: {action: echo}\n")
    with pytest.raises(InputError, match=r"input 'tags': expected array"):
        resolve_inputs(spec, {"tags": "[1, NaN]"}, from_text=True)
    assert resolve_inputs(spec, {"tags": "[1, 2.5]"}, from_text=True) == {"tags": [1, 2.5]}
