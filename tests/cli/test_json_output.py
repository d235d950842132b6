"""``--json`` prints strict JSON: NaN and the infinities are null, outputs follow the JSON rule.

A strict parser (``parse_constant`` refusing ``NaN``/``Infinity``, as
JavaScript's ``JSON.parse`` and ``jq`` do) must read every ``--json``.
"""

from __future__ import annotations

import json
import math
import textwrap
import uuid
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from weft.cli import cli
from weft.cli._json import json_text

TOOLS = """
import math
import weft

class Opaque:
    def __str__(self):
        return "opaque"

@weft.tool
def make(kind: str):
    if kind == "nan":
        return {"mean": math.nan, "max": math.inf, "min": -math.inf, "n": 0}
    return {"items": [1, Opaque()]}
"""


def strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def run_json(tmp_path: Path, kind: str) -> Result:
    module = f"json_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: stats
            actions:
              make: {{python: "{module}:make"}}
            nodes:
              m: {{action: make, with: {{kind: {kind}}}}}
            """
        )
    )
    argv = ["run", str(path), "--json", "--journal", str(tmp_path / "journal.db")]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})


def test_run_json_prints_nan_and_infinity_as_null(tmp_path: Path) -> None:
    result = run_json(tmp_path, "nan")
    assert result.exit_code == 0, result.output
    document = strict(result.stdout)
    assert document["outputs"] == {"m": {"mean": None, "max": None, "min": None, "n": 0}}


def test_run_json_of_an_output_json_cannot_hold_is_a_failed_run_naming_path_and_type(
    tmp_path: Path,
) -> None:
    result = run_json(tmp_path, "opaque")
    assert result.exit_code == 1, result.output
    document = strict(result.stdout)
    node = document["nodes"]["m"]
    assert node["state"] == "failed"
    assert node["error"]["type"] == "OutputNotJSON"
    assert node["error"]["field"] == "result.items[1]"
    assert ".Opaque, which JSON cannot hold" in node["error"]["message"]


def test_json_text_is_strict_for_any_document() -> None:
    text = json_text({"x": [math.nan, 1.5, (math.inf,)], "y": {"z": -math.inf}})
    assert strict(text) == {"x": [None, 1.5, [None]], "y": {"z": None}}
