"""What a new user met trying the README and docs/cli.md from a fresh clone.

Each case here went wrong before: ``weft runs ls`` (the README's spelling, and
that of ``weft trace ls`` and ``weft memory ls``) was "No such command";
``weft ask ""`` talked about planners before saying the task was empty;
``--run-id 'q3 report/final'`` was taken, and ``weft trace view`` then wrote
the run's page into a folder of ``views/`` that the id made; ``weft runs``
piped was cut to 80 columns; ``weft broker --mosquitto MISSING`` ran another
Mosquitto.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from weft import Workflow, run_sync, tool
from weft.cli import cli

TOOLS = '''
from weft import tool

@tool
def double(x: int) -> int:
    """Twice x."""
    return 2 * x
'''

WORKFLOW = """
name: doubling
actions:
  double: {python: "trial_tools:double"}
nodes:
  twice: {action: double, with: {x: 21}}
"""


def weft(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_runs_ls_lists_the_runs_as_runs_does(tmp_path: Path) -> None:
    (tmp_path / "trial_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(WORKFLOW))
    journal = str(tmp_path / "journal.db")
    ran = weft("run", str(tmp_path / "flow.yaml"), "--journal", journal, "--json")
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["run_id"]

    listed = weft("runs", "ls", "--journal", journal, "--json", "-n", "5")
    assert listed.exit_code == 0, listed.output
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]
    assert json.loads(weft("runs", "--journal", journal, "--json").stdout) == json.loads(
        listed.stdout
    )
    table = weft("runs", "ls", "--journal", journal)
    assert table.exit_code == 0 and run_id in table.stdout, table.output


def test_an_empty_ask_says_so_first_and_nothing_else(tmp_path: Path) -> None:
    result = weft("ask", "  ", "--agents", "nosuch_module:agents", "--journal", str(tmp_path / "j"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: the task is empty"), result.output
    assert "planner" not in result.output and "nosuch_module" not in result.output


def test_a_run_id_that_is_not_one_word_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "trial_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(WORKFLOW))
    journal = str(tmp_path / "journal.db")
    for bad in ("q3 report/final", "../up", "", "x" * 129):
        result = weft("run", str(tmp_path / "flow.yaml"), "--journal", journal, "--run-id", bad)
        assert result.exit_code == 2, result.output
        assert "--run-id" in result.output and "is not a run id" in result.output
    good = weft("run", str(tmp_path / "flow.yaml"), "--journal", journal, "--run-id", "q3-v1.2_a")
    assert good.exit_code == 0, good.output


def test_trace_view_keeps_the_page_of_any_run_id_in_views(tmp_path: Path) -> None:
    @tool
    def one() -> int:
        return 1

    flow = Workflow("odd-id")
    flow.node("one", one)
    home = Path(os.environ["WEFT_HOME"])
    result = run_sync(flow, run_id="../q3 report/final")
    assert result.ok, result.error

    viewed = weft("trace", "view", "../q3 report/final")
    assert viewed.exit_code == 0, viewed.output
    assert (home / "views" / "_q3_report_final.html").is_file(), viewed.output
    assert not (home / "q3 report").exists()


def test_runs_piped_keeps_whole_rows(tmp_path: Path) -> None:
    """Piped, ``weft runs`` was cut to 80 columns: ``succee…``, ``count-wo…``, so
    ``weft runs | grep succeeded`` found nothing."""
    (tmp_path / "trial_tools.py").write_text(textwrap.dedent(TOOLS))
    long_name = "a-workflow-whose-name-is-long-enough-to-crop"
    (tmp_path / "flow.yaml").write_text(
        textwrap.dedent(WORKFLOW).replace("name: doubling", f"name: {long_name}")
    )
    journal = str(tmp_path / "journal.db")
    ran = weft("run", str(tmp_path / "flow.yaml"), "--journal", journal, "--json")
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["run_id"]
    table = weft("runs", "--journal", journal)
    assert table.exit_code == 0, table.output
    (row,) = [line for line in table.stdout.splitlines() if run_id in line]
    assert long_name in row and "succeeded" in row, table.stdout


def test_broker_with_a_mosquitto_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    """``--mosquitto /no/such/file`` used to start the Mosquitto of PATH instead, and run."""
    process = subprocess.Popen(
        [sys.executable, "-m", "weft", "broker", "--port", "0", "--mosquitto", "/no/such/mosq"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)  # stops the broker it started
        out, err = process.communicate(timeout=30)
        raise AssertionError(f"weft broker ran with a missing --mosquitto: {out}{err}") from None
    assert process.returncode == 2, out + err
    assert "--mosquitto" in err and "/no/such/mosq" in err and "not an executable file" in err


RAISES_ON_IMPORT = """
import os

LIMIT = int(os.environ["TRIAL_SURELY_UNSET_VARIABLE"])
"""


def test_a_tool_file_that_raises_on_import_is_one_line_naming_its_line(tmp_path: Path) -> None:
    """``weft agent serve tools.py:x`` (and ``mcp serve``, ``a2a serve``) printed weft's
    whole traceback and exited 1; ``weft ask --agents`` gave the message without the type
    or the line."""
    tools = tmp_path / "raising_tools.py"
    tools.write_text(RAISES_ON_IMPORT)
    ref = f"{tools}:agents"
    for args in (
        ("agent", "serve", ref, "--broker", "mqtt://127.0.0.1:1"),
        ("mcp", "serve", ref),
        ("a2a", "serve", ref, "--http", "127.0.0.1:0"),
        ("ask", "hello", "--agents", ref, "--journal", str(tmp_path / "j.db")),
    ):
        result = weft(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output, result.output
        assert f"KeyError: 'TRIAL_SURELY_UNSET_VARIABLE' ({tools}, line 4)" in result.output


BROKEN_TOOLS = """
import os

from weft import tool

LIMIT = int(os.environ["REFUND_LIMIT"])


@tool
def refund(amount: int) -> int:
    return min(amount, LIMIT)
"""


def test_a_tool_module_that_raises_on_import_names_the_user_s_line(tmp_path: Path) -> None:
    """``os.environ[...]`` raises inside ``os``: the error names the tool file's line 6,
    and the workflow's line that brings the module in."""
    (tmp_path / "refund_tools_broken.py").write_text(BROKEN_TOOLS)
    flow = tmp_path / "refund.yaml"
    flow.write_text(
        'name: refund\nactions:\n  refund: {python: "refund_tools_broken:refund"}\n'
        "nodes:\n  pay: {action: refund, with: {amount: 5}}\n"
    )
    for command in ("run", "validate"):
        failed = CliRunner().invoke(cli, [command, str(flow)], env={"REFUND_LIMIT": None})
        assert failed.exit_code == 2, failed.output
        assert "Traceback" not in failed.output
        assert f"{flow}:3" in failed.output
        assert "importing 'refund_tools_broken' failed: KeyError: 'REFUND_LIMIT'" in failed.output
        assert f"({tmp_path / 'refund_tools_broken.py'}, line 6)" in failed.output
