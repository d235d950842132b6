"""The examples of docs/yaml.md that are meant to run do run, as the page shows them.

``test_docs_blocks`` checks that every block of the pages loads; a workflow
that names actions it does not define still loads, and the page's opening
example did exactly that for a long time. Here the files the page gives (a
block whose first line is ``# NAME.py`` or ``# NAME.yaml``) are written to a
folder as they are, the page's ``$ weft ...`` commands are run in it by the
real CLI (YAML loader, compiler, executor), and what they print must be what
the page prints, run ids and timings aside. A change to the page or to weft
that breaks an example fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.docs.test_docs_blocks import Block, blocks_of
from weft.cli import cli
from weft.workflows import load_workflow, loads_workflow

PAGE = Path(__file__).resolve().parents[2] / "docs" / "yaml.md"
FILE_LINE = re.compile(r"^# (?P<name>[\w./-]+\.(?:py|yaml))\s*$")


def _blocks(heading: str | None) -> list[Block]:
    """The fenced blocks of the page's section ``## heading`` (None: the opening, before
    the first ``##``), read as ``test_docs_blocks`` reads every page."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = 0 if heading is None else lines.index(f"## {heading}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [b for b in blocks_of(PAGE) if start < b.line <= end]


def _files(blocks: list[Block]) -> dict[str, str]:
    """The blocks that are files: ``# NAME`` on their first line names them."""
    files: dict[str, str] = {}
    for block in blocks:
        first = block.text.partition("\n")[0]
        named = FILE_LINE.match(first)
        if named is not None and block.lang in ("python", "yaml"):
            files[named["name"]] = block.text
    return files


def _sessions(blocks: list[Block]) -> list[tuple[str, list[str], int]]:
    """The ``$ weft ...`` commands of the console blocks, each with the lines it prints."""
    sessions: list[tuple[str, list[str], int]] = []
    for block in blocks:
        if block.lang != "console":
            continue
        for line in block.text.splitlines():
            if line.startswith("$ "):
                sessions.append((line[2:], [], block.line))
            elif sessions:
                sessions[-1][1].append(line)
    return sessions


def _masked(lines: list[str]) -> list[str]:
    """``lines`` without what differs from run to run: run ids, durations, spacing."""
    out = []
    for line in lines:
        line = re.sub(r"\b[0-9a-f]{32}\b", "RUN", line)
        line = re.sub(r"\b\d+(?:\.\d+)?\s?(?:ms|s)\b", "TIME", line)
        if line.strip():
            out.append(" ".join(line.split()))
    return out


def _run_as_shown(heading: str | None, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the section's files into ``folder``, run its commands there, and compare."""
    blocks = _blocks(heading)
    for name, text in _files(blocks).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    sessions = _sessions(blocks)
    assert sessions, f"docs/yaml.md, {heading or 'opening'}: no '$ weft ...' command to run"
    monkeypatch.chdir(folder)
    for command, shown, line in sessions:
        words = shlex.split(command)
        assert words[0] == "weft", f"docs/yaml.md:{line}: not a weft command: {command}"
        result = CliRunner().invoke(cli, words[1:], catch_exceptions=False)
        assert result.exit_code == 0, f"docs/yaml.md:{line}: `{command}` failed:\n{result.output}"
        assert _masked(result.output.splitlines()) == _masked(shown), (
            f"docs/yaml.md:{line}: `{command}` prints otherwise than the page shows:\n"
            f"{result.output}"
        )


def test_the_opening_example_defines_every_action_it_names() -> None:
    files = _files(_blocks(None))
    assert sorted(files) == ["hello.yaml", "tools.py"]
    flow = loads_workflow(files["hello.yaml"], "hello.yaml")
    named = {node.action for node in flow.nodes.values()}
    assert named <= set(flow.actions), f"named, not defined: {sorted(named - set(flow.actions))}"


def test_the_opening_example_runs_as_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run_as_shown(None, tmp_path, monkeypatch)


def test_the_complete_example_runs_as_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Weft runs agents.\nIt traces them.\n")
    (docs / "b.md").write_text("Graphs run in parallel.\n")
    _run_as_shown("A complete example", tmp_path, monkeypatch)


def test_the_complete_examples_python_builds_the_workflow_of_its_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page says the builder code gives a spec equal to ``load_workflow(...)``."""
    blocks = _blocks("A complete example")
    files = _files(blocks)
    (tmp_path / "quickstart.yaml").write_text(files["quickstart.yaml"], encoding="utf-8")
    builder = next(b for b in blocks if b.lang == "python" and "Workflow(" in b.text)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(builder.text, f"docs/yaml.md:{builder.line}", "exec"), namespace)
    assert namespace["spec"] == load_workflow("quickstart.yaml")
