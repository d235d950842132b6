"""The README's commands and quickstarts are the ones that work.

The code blocks are read from README.md itself and run as they stand, so an
edit that breaks them fails here rather than for a new user. A block's info
string says how: ```` ```python ```` is the quickstart, run as it is;
```` ```python llm ```` needs a model and runs here against a scripted
OpenAI-compatible server; ```` ```bash ```` blocks are not run (the quickstart
commands are run below through the CLI, and the others need a broker, a model
or minutes of benchmarking).
"""

from __future__ import annotations

import re
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.runtime import run_sync
from weft.testing import OpenAIServer, ScriptedModel, block_network_models, text, tool_call

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = "./scripts/test"
EXAMPLE_COMMAND = "pip install -e . && weft run examples/quickstart/workflow.yaml"
TEXT = "Nodes start when their inputs are ready. No barriers."


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


@pytest.fixture
def quickstart_files(tmp_path: Path) -> Iterator[Path]:
    """The README's Python and YAML quickstarts, saved under the names it gives."""
    (python_block,) = _blocks("python")
    (yaml_block,) = _blocks("yaml")
    (tmp_path / "count_words.py").write_text(python_block)
    (tmp_path / "count-words.yaml").write_text(yaml_block)
    yield tmp_path
    sys.modules.pop("count_words", None)  # imported by the YAML run


def test_the_two_setup_commands_are_in_the_readme() -> None:
    bash = _blocks("bash")
    assert EXAMPLE_COMMAND + "\n" in bash
    assert TEST_COMMAND + "\n" in bash


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(TEST_COMMAND)}$", script, re.M)


def test_the_python_quickstart_prints_what_its_comment_says(
    quickstart_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runpy.run_path(str(quickstart_files / "count_words.py"), run_name="__main__")
    assert capsys.readouterr().out == "succeeded {'total': 9}\n"


def test_the_yaml_quickstart_gives_the_same_result(quickstart_files: Path) -> None:
    result = run_sync(quickstart_files / "count-words.yaml", {"text": TEXT})
    assert result.ok, result.error
    assert result.outputs == {"total": 9}


def test_the_yaml_quickstart_commands_succeed(
    quickstart_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(quickstart_files)
    runner = CliRunner()
    assert runner.invoke(cli, ["validate", "count-words.yaml"]).exit_code == 0
    run = runner.invoke(
        cli, ["run", "count-words.yaml", "-i", f"text={TEXT}", "--json", "--journal", "j.db"]
    )
    assert run.exit_code == 0, run.output
    assert '"total": 9' in run.stdout


@pytest.fixture
def poem_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The README's LLM block saved as poem.py, with no model configured yet."""
    (llm_block,) = _blocks("python llm")
    path = tmp_path / "poem.py"
    path.write_text(llm_block)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WEFT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return path


def _poem_model() -> ScriptedModel:
    return ScriptedModel(
        [tool_call("word_count", {"text": "Water finds its way"}), text("Water finds its way (4)")]
    )


def _check_the_tool_ran(model: ScriptedModel) -> None:
    model.assert_complete()
    assert model.requests[0].model == "scripted"
    [tool_result] = model.requests[1].tool_results()
    assert tool_result["content"] == "4"


def test_the_llm_agent_block_runs_its_tool_and_prints_the_reply(
    poem_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _poem_model()
    with block_network_models(), OpenAIServer(model) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("WEFT_MODEL", "scripted")
        runpy.run_path(str(poem_file), run_name="__main__")
    assert capsys.readouterr().out == "Water finds its way (4)\n"
    _check_the_tool_ran(model)


def test_the_llm_agent_block_says_why_when_the_run_fails(
    poem_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        runpy.run_path(str(poem_file), run_name="__main__")
    message = str(exited.value.code)
    assert message.startswith("the poem was not written: node 'poem' failed: poet: ")
    assert "no model configured: set OPENAI_API_KEY" in message
    assert capsys.readouterr().out == ""


def test_the_llm_agent_block_runs_with_weft_run(
    poem_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(poem_file.parent)
    model = _poem_model()
    with block_network_models(), OpenAIServer(model) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "WEFT_MODEL": "scripted"}
        run = CliRunner().invoke(cli, ["run", "poem.py", "--json"], env=env)
    assert run.exit_code == 0, run.output
    assert '"poem": "Water finds its way (4)"' in run.stdout
    _check_the_tool_ran(model)


def _command_names(group: click.Group, prefix: str = "weft") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            names.extend(_command_names(command, f"{prefix} {name}"))
        else:
            names.append(f"{prefix} {name}")
    return names


def test_every_command_is_in_the_readme_command_table() -> None:
    table = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `weft ")]
    missing = []
    for name in _command_names(cli):
        group, _, sub = name.rpartition(" ")
        alone = rf"`{re.escape(name)}[ `\\]"  # `weft run FILE`, `weft trace ls\|show...`
        in_list = rf"`{re.escape(group)} [\w\\|]*\b{re.escape(sub)}\b"  # ls\|show\|export
        if not any(re.search(alone, row) or re.search(in_list, row) for row in rows):
            missing.append(name)
    assert not missing, f"commands missing from the README's table: {missing}"


def test_every_doc_is_linked_from_the_readme() -> None:
    docs = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert [d for d in docs if f"(docs/{d})" not in README] == []


def test_the_yaml_llm_agent_block_runs_with_weft_run(
    poem_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's YAML poet (an ``llm:`` action borrowing poem.py's tool) runs as shown."""
    (yaml_block,) = _blocks("yaml llm")
    (poem_file.parent / "poem.yaml").write_text(yaml_block)
    monkeypatch.chdir(poem_file.parent)
    model = _poem_model()
    with block_network_models(), OpenAIServer(model) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "WEFT_MODEL": "scripted"}
        assert CliRunner().invoke(cli, ["validate", "poem.yaml"], env=env).exit_code == 0
        run = CliRunner().invoke(cli, ["run", "poem.yaml", "--json"], env=env)
    sys.modules.pop("poem", None)
    assert run.exit_code == 0, run.output
    assert '"poem": "Water finds its way (4)"' in run.stdout
    _check_the_tool_ran(model)
