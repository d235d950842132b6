"""A ``python:`` ref may name its module's file, as ``weft ask --agents tools.py:fn`` does.

Written as a user writes it, ``python: "slow.py:fetch"`` failed with "cannot import
module 'slow.py': No module named 'slow.py'; 'slow' is not a package". The file is
looked for beside the workflow file, whatever the current folder.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli

TOOLS = '''
def double(x: int) -> int:
    """Twice x."""
    return 2 * x
'''


def _run(
    tmp_path: Path, ref: str, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: by_file\n"
        "inputs:\n  x: {type: integer}\n"
        f'actions:\n  double: {{python: "{ref}"}}\n'
        'nodes:\n  d: {action: double, with: {x: "${inputs.x}"}}\n'
        'outputs:\n  r: "${d}"\n'
    )
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(
        cli, ["run", str(flow), "-i", "x=21", "--json"], env={"WEFT_HOME": str(tmp_path / ".weft")}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("folder", ["", "lib/"])
def test_a_file_beside_the_workflow_is_named_by_its_path(
    tmp_path: Path, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"file_tools_{uuid.uuid4().hex[:10]}"  # a module stays in sys.modules
    (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / folder / f"{name}.py").write_text(TOOLS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = _run(tmp_path, f"{folder}{name}.py:double", elsewhere, monkeypatch)
    assert code == 0, err
    assert json.loads(out)["outputs"] == {"r": 42}


def test_a_file_that_is_not_there_is_named_with_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = _run(tmp_path, "nowhere.py:double", tmp_path, monkeypatch)
    assert code == 2
    assert "Traceback" not in err
    assert "flow.yaml:5:" in err
    assert f"no file nowhere.py (looked for {tmp_path / 'nowhere.py'})" in err
