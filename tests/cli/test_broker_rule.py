"""The one rule for ``--broker`` and ``$WEFT_BROKER`` in ``run``, ``resume`` and ``ask``.

``--broker`` on the command line means "use the agents there" and fails when
the broker cannot be reached; ``$WEFT_BROKER`` is used only when something the
command needs is not defined locally. Every test points the broker at a
loopback port nobody listens on, so a connection attempt would fail loudly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
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

@weft.tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()
'''


@pytest.fixture
def closed_port() -> int:
    """A loopback port that refuses connections (bound once, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def down_broker(closed_port: int) -> str:
    return f"mqtt://127.0.0.1:{closed_port}"


@pytest.fixture
def tools(tmp_path: Path) -> str:
    """A tools module next to the workflows, under a name of its own (modules stay imported)."""
    module = f"rule_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    return module


def write(tmp_path: Path, text: str, tools: str, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).replace("{tools}", tools))
    return path


def weft(tmp_path: Path, env: dict[str, str], *args: str | Path) -> Result:
    argv = [str(a) for a in args]
    if argv[0] in ("run", "resume", "ask"):
        argv += ["--journal", str(tmp_path / "journal.db")]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path), **env})


LOCAL = """
name: local
actions:
  echo: {python: "{tools}:echo"}
nodes:
  a:
    action: echo
    with: {value: 1}
outputs:
  a: ${a}
"""

NEEDS_AN_AGENT = """
name: remote
actions:
  echo: {python: "{tools}:echo"}
nodes:
  a:
    action: echo
    with: {value: 1}
  b:
    action: summarise
    after: a
    with: {text: "${a}"}
"""


def test_a_local_run_ignores_weft_broker_when_the_broker_is_down(
    tmp_path: Path, tools: str, down_broker: str
) -> None:
    workflow = write(tmp_path, LOCAL, tools)
    result = weft(tmp_path, {"WEFT_BROKER": down_broker}, "run", workflow)
    assert result.exit_code == 0, result.output
    assert "local" in result.stdout
    assert "note:" not in result.stderr


def test_the_quickstart_runs_in_a_real_process_with_weft_broker_down(
    tmp_path: Path, down_broker: str
) -> None:
    """The README's sequence: ``export WEFT_BROKER=...``, the broker stops, ``weft run``."""
    process = subprocess.run(
        [sys.executable, "-m", "weft", "run", str(QUICKSTART), "-i", f"report={tmp_path}/r.md"],
        cwd=tmp_path,
        env={**os.environ, "WEFT_HOME": str(tmp_path), "WEFT_BROKER": down_broker},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    assert "succeeded" in process.stdout
    assert "Traceback" not in process.stderr


def test_an_explicit_broker_that_is_down_is_a_one_line_error(
    tmp_path: Path, tools: str, down_broker: str
) -> None:
    workflow = write(tmp_path, LOCAL, tools)
    result = weft(tmp_path, {}, "run", workflow, "--broker", down_broker)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot reach MQTT broker at {down_broker}")
    assert "Traceback" not in result.output


def test_weft_broker_is_used_when_the_workflow_names_an_action_it_does_not_define(
    tmp_path: Path, tools: str, down_broker: str
) -> None:
    workflow = write(tmp_path, NEEDS_AN_AGENT, tools)
    result = weft(tmp_path, {"WEFT_BROKER": down_broker}, "run", workflow)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "note: the workflow does not define summarise: calling the agents on $WEFT_BROKER"
    )
    assert lines[-1].startswith(f"error: cannot reach MQTT broker at {down_broker}")


FLAKY = """
name: flaky
actions:
  needs_flag: {python: "{tools}:needs_flag"}
nodes:
  a:
    action: needs_flag
    with: {flag: "FLAG"}
"""


def failed_run(tmp_path: Path, tools: str) -> tuple[str, Path]:
    """A run that failed because the file ``flag`` is missing: (run id, flag path)."""
    flag = tmp_path / "flag"
    workflow = write(tmp_path, FLAKY.replace("FLAG", str(flag)), tools, "flaky.yaml")
    failed = weft(tmp_path, {}, "run", workflow)
    assert failed.exit_code == 1, failed.output
    return failed.stdout.split()[1], flag


def test_resume_of_a_local_run_ignores_weft_broker(
    tmp_path: Path, tools: str, down_broker: str
) -> None:
    run_id, flag = failed_run(tmp_path, tools)
    flag.touch()
    resumed = weft(tmp_path, {"WEFT_BROKER": down_broker}, "resume", run_id)
    assert resumed.exit_code == 0, resumed.output
    assert f"run {run_id} succeeded" in resumed.stdout


def test_resume_with_an_explicit_broker_that_is_down_is_an_error(
    tmp_path: Path, tools: str, down_broker: str
) -> None:
    run_id, _flag = failed_run(tmp_path, tools)
    result = weft(tmp_path, {}, "resume", run_id, "--broker", down_broker)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: cannot reach MQTT broker at {down_broker}")
    assert "Traceback" not in result.output


def test_ask_with_local_agents_ignores_weft_broker(
    tmp_path: Path, tools: str, down_broker: str
) -> None:
    agents = f"{tmp_path / (tools + '.py')}:research"
    result = weft(
        tmp_path, {"WEFT_BROKER": down_broker}, "ask", "Research owls.", "--agents", agents
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "facts on research owls"


def test_ask_without_agents_uses_weft_broker_and_says_when_it_is_down(
    tmp_path: Path, down_broker: str
) -> None:
    result = weft(tmp_path, {"WEFT_BROKER": down_broker}, "ask", "Research owls.")
    assert result.exit_code == 2, result.output
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: cannot reach MQTT broker at {down_broker}")
    )
