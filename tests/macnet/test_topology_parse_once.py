"""``weft topology`` parses the file it wrote once: the round-trip check and the compile
share that one reading (at 10,000 nodes each parse costs over a second).

The counts come from wrapping the real parser and compiler, which still do
their work; the round-trip check still refuses text that does not load back
as the definition it was written from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import weft.workflows as workflows
from weft.cli import cli
from weft.runtime.engine import compiler
from weft.workflows import yaml_io


def weft(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``file`` of every workflow text parsed."""
    seen: list[str] = []
    parse = yaml_io._loads_workflow

    def counted(text: str, file: str, limits: Any) -> Any:
        seen.append(file)
        return parse(text, file, limits)

    monkeypatch.setattr(yaml_io, "_loads_workflow", counted)
    return seen


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What each ``compile_workflow`` call was given."""
    given: list[Any] = []
    compile_workflow = compiler.compile_workflow

    def recorded(definition: Any, *args: Any, **kwargs: Any) -> Any:
        given.append(definition)
        return compile_workflow(definition, *args, **kwargs)

    monkeypatch.setattr(compiler, "compile_workflow", recorded)
    return given


def test_the_written_file_is_parsed_once_and_that_reading_compiled(
    tmp_path: Path, parses: list[str], compiled: list[Any]
) -> None:
    out = tmp_path / "nets" / "chain.yaml"
    result = weft("topology", "chain", "--nodes", "50", "-o", out)
    assert result.exit_code == 0, result.output
    assert parses == [str(out)]
    (spec,) = compiled
    assert spec.source.file == str(out)  # errors would name the file, as `weft run` does
    assert spec == workflows.load_workflow(out)


def test_a_file_that_does_not_load_back_as_written_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumps = workflows.dumps_workflow
    monkeypatch.setattr(
        workflows, "dumps_workflow", lambda spec: dumps(spec).replace("name: chain", "name: x")
    )
    out = tmp_path / "chain.yaml"
    result = weft("topology", "chain", "--nodes", "3", "-o", out)
    assert result.exit_code != 0
    assert "does not load back as written" in result.output
    assert not out.exists()
