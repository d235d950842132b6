"""``weft run`` prints an LLM agent's text as it is generated; ``--json`` stays pure JSON."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from weft.cli import cli
from weft.cli._display import RunDisplay
from weft.protocols import EventKind, RunEvent
from weft.testing import OpenAIServer, ScriptedModel, text

ANSWER = "Once upon a time\nthere was a stream\nthat never ended."

WORKFLOW = """
import weft
from weft.agents import LLMAgent

writer = LLMAgent("writer", model="m")
workflow = weft.Workflow("story")
workflow.node("write", writer, with_={"task": "write a story"})
"""


def workflow_file(tmp_path: Path) -> Path:
    path = tmp_path / f"story_{uuid.uuid4().hex[:8]}.py"
    path.write_text(WORKFLOW)
    return path


def run(tmp_path: Path, server: OpenAIServer, *options: str) -> tuple[int, str]:
    argv = ["run", str(workflow_file(tmp_path)), *options]
    env = {"WEFT_HOME": str(tmp_path), "OPENAI_BASE_URL": server.base_url}
    result = CliRunner().invoke(cli, argv, env=env)
    return result.exit_code, result.output


def test_stream_prints_the_text_before_the_summary(tmp_path: Path) -> None:
    model = ScriptedModel([text(ANSWER)])
    with OpenAIServer(model) as server:
        code, out = run(tmp_path, server, "--stream")
    assert code == 0, out
    assert out.startswith(f"[write]\n{ANSWER}\n")
    assert "succeeded" in out.split(ANSWER, 1)[1]
    assert model.requests[0].body["stream"] is True


def test_stream_on_langgraph_s_engine_prints_the_text_too(tmp_path: Path) -> None:
    model = ScriptedModel([text(ANSWER)])
    with OpenAIServer(model) as server:
        code, out = run(tmp_path, server, "--stream", "--engine", "langgraph")
    assert code == 0, out
    assert out.startswith(f"[write]\n{ANSWER}\n")
    assert model.requests[0].body["stream"] is True


def test_json_output_is_unchanged_and_nothing_streams(tmp_path: Path) -> None:
    model = ScriptedModel([text(ANSWER)])
    with OpenAIServer(model) as server:
        code, out = run(tmp_path, server, "--json")
    assert code == 0, out
    assert json.loads(out)["outputs"] == {"write": ANSWER}
    assert "stream" not in model.requests[0].body


def test_stream_and_json_together_are_refused(tmp_path: Path) -> None:
    with OpenAIServer(ScriptedModel()) as server:
        code, out = run(tmp_path, server, "--stream", "--json")
    assert code == 2
    assert "--stream" in out and "--json" in out


def test_no_stream_on_a_pipe_prints_only_the_summary(tmp_path: Path) -> None:
    model = ScriptedModel([text(ANSWER)])
    with OpenAIServer(model) as server:
        code, out = run(tmp_path, server)
    assert code == 0 and not out.startswith("[write]")
    assert "stream" not in model.requests[0].body


def delta(key: str, piece: str) -> RunEvent:
    return RunEvent(
        run_id="r", kind=EventKind.PROGRESS, key=key, data={"stream": "text", "delta": piece}
    )


def test_the_live_panel_prints_whole_lines_above_and_shows_the_line_being_written() -> None:
    display = RunDisplay(text=True)
    printed: list[tuple[str, bool]] = []
    display._print_line = lambda line, header: printed.append((line, header))  # type: ignore[method-assign]
    assert display.text is not None
    display.text._print = display._print_line
    display.on_event(RunEvent(run_id="r", kind=EventKind.NODE_STARTED, key="write"))
    display.on_event(delta("write", "Once upon "))
    display.on_event(delta("write", "a time\nthere"))
    assert printed == [("── write ──", True), ("Once upon a time", False)]
    console = Console(record=True, width=100)
    console.print(display._render())
    assert "✎ write: there" in console.export_text()
    display.on_event(
        RunEvent(run_id="r", kind=EventKind.NODE_FINISHED, key="write", state="succeeded")
    )
    assert printed[-1] == ("there", False)
    assert display.text.partial == {}


def test_on_a_terminal_the_text_streams_by_default(tmp_path: Path) -> None:
    """A real pseudo-terminal: the live panel is on and the text still comes out whole."""
    model = ScriptedModel([text(ANSWER)])
    with OpenAIServer(model) as server:
        controller, terminal = pty.openpty()
        env = {
            **os.environ,
            "WEFT_HOME": str(tmp_path),
            "OPENAI_BASE_URL": server.base_url,
            "COLUMNS": "100",
            "TERM": "xterm",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "weft", "run", str(workflow_file(tmp_path))],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
            env=env,
        )
        os.close(terminal)
        output = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal closed: the process is done
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        process.wait(timeout=30)
        os.close(controller)
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))
    assert process.returncode == 0, shown
    assert model.requests[0].body["stream"] is True
    lines = [line.strip() for line in shown.replace("\r", "\n").split("\n")]
    for line in ANSWER.split("\n"):
        assert line in lines, shown
    assert "── write ──" in lines
