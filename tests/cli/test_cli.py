"""The ``weft`` command: user mistakes, schema, runs, JSON output, failure and resume.

A user mistake exits with status 2 and one line on stderr that names what is
wrong and where, never a traceback. Most cases run in-process with click's
CliRunner; a few run ``python -m weft`` for real, to cover the entry point.
Every run journals under tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from weft.cli import cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart" / "workflow.yaml"

TOOLS = '''
from pathlib import Path
import weft

@weft.tool
def echo(value: object = None) -> object:
    return value

@weft.tool
def needs_flag(flag: str) -> str:
    """Fails until the file `flag` exists, like a service that is down."""
    if not Path(flag).exists():
        raise RuntimeError("service unavailable")
    return "done"
'''

WriteWorkflow = Callable[[str], Path]


@pytest.fixture
def write_workflow(tmp_path: Path) -> WriteWorkflow:
    """Write a workflow YAML next to a fresh tools module; ``{tools}`` names the module.

    Each test gets its own module name, because an imported module stays in
    ``sys.modules`` for the rest of the (in-process) session.
    """
    module = f"cli_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)

    def write(text: str, name: str = "wf.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).replace("{tools}", module))
        return path

    return write


def invoke(tmp_path: Path, *args: str | Path) -> Result:
    """Run ``weft ARGS`` in-process with the journal under tmp_path."""
    argv = [str(a) for a in args]
    if argv[0] in ("run", "resume", "runs"):
        argv += ["--journal", str(tmp_path / "journal.db")]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})


def assert_user_error(result: Result, *expected: str) -> str:
    """Exit 2, exactly one line on stderr containing every expected piece, no traceback."""
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {result.stderr!r}"
    line = lines[0]
    assert line.startswith("error: ")
    for piece in expected:
        assert piece in line, f"{piece!r} not in {line!r}"
    return line


def weft_process(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weft", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "WEFT_HOME": str(cwd)},
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- user mistakes: exit 2, one line, no traceback ------------------------------------


def test_missing_workflow_file(tmp_path: Path) -> None:
    result = invoke(tmp_path, "run", tmp_path / "nope.yaml")
    assert_user_error(result, "workflow file not found", "nope.yaml")


def test_yaml_syntax_error_names_the_line(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow(
        """\
        name: broken
        nodes:
          a:
            action: echo
           with: {value: 1
        """
    )
    line = assert_user_error(invoke(tmp_path, "run", path), "YAML syntax error")
    assert f"{path}:5:" in line


def test_cycle_names_its_nodes(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow(
        """\
        name: cyclic
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          draft: {action: echo, after: review}
          review: {action: echo, after: draft}
        """
    )
    line = assert_user_error(invoke(tmp_path, "run", path), "cycle")
    assert "draft -> review -> draft" in line or "review -> draft -> review" in line


def test_unknown_action_names_the_node(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow(
        """\
        name: unknown
        nodes:
          summarise: {action: summariser}
        """
    )
    assert_user_error(
        invoke(tmp_path, "run", path), "node 'summarise'", "unknown action 'summariser'"
    )


def test_wrong_type_names_node_field_and_line(
    write_workflow: WriteWorkflow, tmp_path: Path
) -> None:
    path = write_workflow(
        """\
        name: typed
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          slow:
            action: echo
            timeout: abc
        """
    )
    assert_user_error(invoke(tmp_path, "run", path), f"{path}:7:", "node 'slow'", "timeout")


def test_validate_reports_the_same_mistakes(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow("name: unknown\nnodes:\n  a: {action: nothing}\n")
    assert_user_error(invoke(tmp_path, "validate", path), "node 'a'", "unknown action 'nothing'")


def test_input_without_equals_sign(tmp_path: Path) -> None:
    result = invoke(tmp_path, "run", QUICKSTART, "-i", "report")
    assert_user_error(result, "--input 'report'", "KEY=VALUE")


def test_unknown_input_name(tmp_path: Path) -> None:
    result = invoke(tmp_path, "run", QUICKSTART, "-i", "colour=blue")
    assert_user_error(result, "no input 'colour'", "declared: folder, report")


def test_input_of_the_wrong_type(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow(
        """\
        name: typed-input
        inputs:
          count: {type: integer, default: 1}
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          a: {action: echo, with: {value: "${inputs.count}"}}
        """
    )
    assert_user_error(invoke(tmp_path, "run", path, "-i", "count=many"), "input 'count'", "integer")


def test_missing_required_input(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow(
        """\
        name: needs-text
        inputs:
          text: {type: string, required: true}
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          a: {action: echo, with: {value: "${inputs.text}"}}
        """
    )
    line = assert_user_error(invoke(tmp_path, "run", path), "needs input 'text'")
    assert not line.endswith("()")


def test_a_run_id_cannot_be_used_twice(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow(
        """\
        name: twice
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          a: {action: echo}
        """
    )
    assert invoke(tmp_path, "run", path, "--run-id", "once").exit_code == 0
    assert_user_error(invoke(tmp_path, "run", path, "--run-id", "once"), "'once' already exists")


def test_resume_of_an_unknown_run(tmp_path: Path) -> None:
    assert_user_error(invoke(tmp_path, "resume", "nonexistent"), "no run 'nonexistent'")


def test_schema_of_an_unknown_model(tmp_path: Path) -> None:
    assert_user_error(invoke(tmp_path, "schema", "--model", "Nope"), "Nope")


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nnodes:\n  a: [unclosed\n")
    done = weft_process("run", "bad.yaml", "--journal", tmp_path / "j.db", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("error: bad.yaml:")


# -- schema ------------------------------------------------------------------------------


def test_schema_is_a_json_schema_that_accepts_the_quickstart(tmp_path: Path) -> None:
    import jsonschema  # a dev dependency; imported here so only this test needs it

    result = invoke(tmp_path, "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    document = yaml.safe_load(QUICKSTART.read_text())
    validator(schema).validate(document)

    document["nodes"]["list"]["timeout"] = "abc"
    assert not validator(schema).is_valid(document)


# -- running -----------------------------------------------------------------------------


def test_run_json_prints_the_result(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    done = weft_process(
        "run", QUICKSTART, "--json", "-i", f"report={report}", "--journal", tmp_path / "j.db",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["state"] == "succeeded"
    assert result["outputs"]["report"] == str(report)
    assert result["nodes"]["report"]["state"] == "succeeded"
    assert report.exists()


def test_runs_lists_a_finished_run(write_workflow: WriteWorkflow, tmp_path: Path) -> None:
    path = write_workflow(
        """\
        name: listed
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          a: {action: echo, with: {value: 1}}
        """
    )
    run = invoke(tmp_path, "run", path, "--run-id", "run-to-list")
    assert run.exit_code == 0, run.output

    listed = invoke(tmp_path, "runs")
    assert listed.exit_code == 0
    assert "run-to-list" in listed.stdout
    assert "listed" in listed.stdout and "succeeded" in listed.stdout

    as_json = json.loads(invoke(tmp_path, "runs", "--json").stdout)
    assert [(r["run_id"], r["state"]) for r in as_json] == [("run-to-list", "succeeded")]


def test_runs_with_an_empty_journal(tmp_path: Path) -> None:
    result = invoke(tmp_path, "runs")
    assert result.exit_code == 0
    assert "no runs yet" in result.stdout


def test_a_failed_run_exits_1_and_says_how_to_resume(
    write_workflow: WriteWorkflow, tmp_path: Path
) -> None:
    flag = tmp_path / "service-is-up"
    path = write_workflow(
        f"""\
        name: flaky
        actions:
          echo: {{python: "{{tools}}:echo"}}
          needs_flag: {{python: "{{tools}}:needs_flag"}}
        nodes:
          first: {{action: echo, with: {{value: 1}}}}
          second: {{action: needs_flag, after: first, with: {{flag: "{flag}"}}}}
        """
    )
    failed = invoke(tmp_path, "run", path, "--run-id", "flaky-1")
    assert failed.exit_code == 1
    assert "Traceback" not in failed.output
    assert "service unavailable" in failed.stdout
    assert "resume with: weft resume flaky-1" in failed.stdout

    flag.touch()  # the cause is fixed
    resumed = invoke(tmp_path, "resume", "flaky-1", "--json")
    assert resumed.exit_code == 0, resumed.output
    result = json.loads(resumed.stdout)
    assert result["state"] == "succeeded"
    assert result["nodes"]["first"]["cached"] is True
    assert result["nodes"]["second"]["cached"] is False


def test_resume_of_a_succeeded_run_is_refused(
    write_workflow: WriteWorkflow, tmp_path: Path
) -> None:
    path = write_workflow(
        """\
        name: done
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          a: {action: echo}
        """
    )
    assert invoke(tmp_path, "run", path, "--run-id", "done-1").exit_code == 0
    assert_user_error(invoke(tmp_path, "resume", "done-1"), "already succeeded")


def test_a_multi_line_output_keeps_to_its_indent(
    write_workflow: WriteWorkflow, tmp_path: Path
) -> None:
    """An LLM agent's answer has several lines: they stay under the output's name, not at
    column 0 where they read as the summary's own lines."""
    path = write_workflow(
        """
        name: poem
        actions:
          echo: {python: "{tools}:echo"}
        nodes:
          verse: {action: echo, with: {value: "Tides rise\\nand fall\\nagain"}}
        outputs:
          summary: ${verse}
        """
    )
    result = invoke(tmp_path, "run", path, "--no-stream")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    first = lines.index("  summary: Tides rise")
    assert lines[first + 1 : first + 3] == ["           and fall", "           again"]
