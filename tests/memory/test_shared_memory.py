"""One memory, several processes: a held embedded folder, and a server that stops mid-ask.

Chroma's embedded store is not safe for two processes: a second ``weft ask``
on the same folder used to fail at random with a bare ``chromadb`` traceback
(``Error finding id``, ``database is locked``) and lose its answer. Now the
folder is held by one process; another ask answers without memory and says
so, and the ``weft memory`` commands name the folder and the way out (a
Chroma server). A server that stops during an ask costs the memory write,
reported in a note, not the answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli

WEFT = str(Path(sys.executable).parent / "weft")

DESK = '''
from weft import tool

@tool
def summarise(text: str) -> str:
    """Summarise a text into one short paragraph."""
    return "summary: " + text

agents = [summarise]
'''

#: an agent that stops the memory's Chroma server (its pid in ``server.pid``) while it runs
STOPPING_DESK = '''
import os, signal, time
from pathlib import Path
from weft import tool

@tool
def summarise(text: str) -> str:
    """Summarise a text into one short paragraph."""
    pid = int((Path(__file__).parent / "server.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    while True:  # gone (a zombie of the test process counts as gone: it no longer serves)
        try:
            with open(f"/proc/{pid}/status") as status:
                if "zombie" in status.read():
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    return "summary: " + text

agents = [summarise]
'''

HOLDER = """
import sys
from weft.runtime.memory.folder_lock import claim
claim(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def env(home: Path, url: str | None = None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "WEFT_"))}
    out["WEFT_HOME"] = str(home)
    if url:
        out["WEFT_CHROMA_URL"] = url
    return out


@pytest.fixture
def held(tmp_path: Path) -> object:
    """The folder ``tmp_path/mem``, held by another process for the test."""
    folder = tmp_path / "mem"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def test_an_ask_on_a_folder_another_process_holds_answers_without_memory(
    tmp_path: Path, held: subprocess.Popen[str]
) -> None:
    (tmp_path / "desk.py").write_text(DESK)
    mem = str(tmp_path / "mem")
    out = subprocess.run(
        [WEFT, "ask", "Summarise the heat pump report", "--agents", "desk.py", "--memory", mem],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env(tmp_path / "home"),
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "summary: Summarise the heat pump report"
    assert f"experience memory {tmp_path / 'mem'} is in use by pid {held.pid}" in out.stderr
    assert "WEFT_CHROMA_URL" in out.stderr and "Traceback" not in out.stderr


def test_memory_commands_name_the_held_folder(
    tmp_path: Path, held: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("weft.cli.memory.LOCK_WAIT_S", 0.2)
    result = CliRunner().invoke(
        cli, ["memory", "add", "Summarise the report", "--memory", str(tmp_path / "mem")]
    )
    assert result.exit_code == 2
    assert f"waiting up to 0.2s for pid {held.pid}, which holds {tmp_path / 'mem'}" in result.output
    assert f"experience memory {tmp_path / 'mem'} is in use by pid {held.pid}" in result.output


def test_a_folder_is_free_again_when_its_process_ends(tmp_path: Path) -> None:
    mem = str(tmp_path / "mem")
    for task in ("Summarise the heat pump report", "Summarise the solar panel report"):
        out = subprocess.run(
            [WEFT, "memory", "add", task, "--memory", mem],
            capture_output=True,
            text=True,
            env=env(tmp_path / "home"),
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
    listed = subprocess.run(
        [WEFT, "memory", "ls", "--memory", mem],
        capture_output=True,
        text=True,
        env=env(tmp_path / "home"),
        timeout=120,
    )
    assert "2 record(s)" in listed.stderr


def test_a_server_stopped_during_the_ask_costs_the_memory_write_not_the_answer(
    tmp_path: Path, own_chroma_server: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, url = own_chroma_server
    (tmp_path / "desk.py").write_text(STOPPING_DESK)
    (tmp_path / "server.pid").write_text(str(proc.pid))
    out = subprocess.run(
        [WEFT, "ask", "Summarise the heat pump report", "--agents", "desk.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env(tmp_path / "home", url),
        timeout=120,
    )
    assert proc.poll() is not None  # the agent did stop it
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "summary: Summarise the heat pump report"
    assert "note: recording in memory failed (the answer stands)" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_file_where_the_memory_folder_belongs_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "memory").write_text("not a folder")
    (tmp_path / "desk.py").write_text(DESK)
    for args in (
        ["memory", "add", "Summarise the report"],
        ["ask", "Summarise it", "--agents", "desk.py"],
    ):
        out = subprocess.run(
            [WEFT, *args], capture_output=True, text=True, cwd=tmp_path, env=env(home), timeout=120
        )
        assert out.returncode == 2, out.stderr
        assert f"experience memory {home / 'memory'} is a file, not a folder" in out.stderr
        assert "Traceback" not in out.stderr
