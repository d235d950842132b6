"""SIGTERM stops `weft run`, `weft ask` and `weft resume` as Ctrl-C does.

`timeout`, `docker stop`, systemd and Kubernetes send SIGTERM. The run is
cancelled and recorded so in the journal and the trace store, stderr names
the `weft resume` command that finishes it, and the exit status is 143
(Ctrl-C: 130). Each process gets a real signal while a plain `def` tool
sleeps in a worker thread (it cannot be stopped): the process still exits at
once. The tool writes a marker file when it starts, which the test waits on.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from foreground_weft import foreground_weft

from weft import RunState
from weft.runtime import Journal
from weft.runtime.tracing.store import TraceStore

TOOLS = """
import pathlib, time
from weft import tool

@tool
def nap() -> str:
    pathlib.Path("started").write_text("nap")
    time.sleep(30)
    return "rested"

def nap_agent(task: str) -> str:
    pathlib.Path("started").write_text("agent")
    time.sleep(30)
    return "rested"
"""

WORKFLOW = """
name: sleepy
actions:
  nap: {python: "sleepy_tools:nap"}
nodes:
  first: {action: nap}
"""

#: Well under the tool's 30 s sleep: the process does not wait for its thread.
PROMPT_S = 15


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sleepy_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "wf.yaml").write_text(textwrap.dedent(WORKFLOW))
    return tmp_path


def weft(folder: Path, *args: str) -> subprocess.Popen[str]:
    return foreground_weft(folder, *args, home=folder / "home")


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Wait until ``path`` exists (the tool started), while ``proc`` lives."""
    deadline = time.monotonic() + 30
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(proc.communicate())
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    path.unlink()


def stop(proc: subprocess.Popen[str], *signums: int, pause: float = 0.0) -> tuple[str, str, float]:
    """Send ``signums`` in turn, ``pause`` seconds after the first; stdout, stderr and the
    seconds until the process ended.

    Signals sent in one burst can all be pending at once, and the kernel then delivers
    them in the order of their numbers (SIGINT before SIGTERM), whatever the order sent.
    """
    sent = time.monotonic()
    try:
        for i, signum in enumerate(signums):
            if i == 1 and pause:
                time.sleep(pause)  # the first one taken: the next come while stopping
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return out, err, time.monotonic() - sent


def only_run(folder: Path) -> str:
    journal = Journal(folder / "home" / "journal.db")
    try:
        [record] = journal.list_runs()
    finally:
        journal.close()
    return record.run_id


def assert_cancelled(folder: Path, run_id: str) -> None:
    """The journal and the trace store both say the run ended cancelled, and it is free."""
    journal = Journal(folder / "home" / "journal.db")
    try:
        assert journal.get_run(run_id).state is RunState.CANCELLED
        assert journal.lease(run_id) is None  # resumable at once
    finally:
        journal.close()
    store = TraceStore(folder / "home" / "traces.db")
    try:
        assert store.get_run(run_id).state == "cancelled"
        nodes = {(s.node, s.status) for s in store.spans(run_id) if s.kind == "node"}
        assert nodes == {("first", "cancelled")}  # once per attempt: run, then each resume
    finally:
        store.close()


@pytest.mark.parametrize(
    ("signum", "status", "word"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_stop_signal_cancels_the_run_and_names_its_resume(
    folder: Path, signum: int, status: int, word: str
) -> None:
    proc = weft(folder, "run", "wf.yaml")
    wait_for(folder / "started", proc)
    out, err, took = stop(proc, signum)
    run_id = only_run(folder)
    assert proc.returncode == status, out + err
    assert err.splitlines() == [f"{word}; resume with: weft resume {run_id}"]
    assert took < PROMPT_S, f"waited {took:.1f} s for the sleeping tool"
    assert_cancelled(folder, run_id)


def test_a_second_signal_while_stopping_leaves_no_traceback(folder: Path) -> None:
    proc = weft(folder, "run", "wf.yaml")
    wait_for(folder / "started", proc)
    out, err, _ = stop(proc, signal.SIGTERM, signal.SIGINT, signal.SIGTERM, pause=0.1)
    run_id = only_run(folder)
    assert proc.returncode == 143, out + err
    assert err.splitlines() == [f"terminated; resume with: weft resume {run_id}"]
    assert_cancelled(folder, run_id)


def test_sigterm_during_a_resume_names_the_run_it_resumed(folder: Path) -> None:
    first = weft(folder, "run", "wf.yaml")
    wait_for(folder / "started", first)
    stop(first, signal.SIGTERM)
    run_id = only_run(folder)

    again = weft(folder, "resume", "last")
    wait_for(folder / "started", again)
    out, err, took = stop(again, signal.SIGTERM)
    assert again.returncode == 143, out + err
    assert err.splitlines() == [f"terminated; resume with: weft resume {run_id}"]
    assert took < PROMPT_S
    assert_cancelled(folder, run_id)


def test_sigterm_during_an_ask_names_its_run(folder: Path) -> None:
    proc = weft(
        folder, "ask", "Take a nap.", "--agents", "sleepy_tools:nap_agent",
        "--no-memory", "--router", "lexical",
    )  # fmt: skip
    wait_for(folder / "started", proc)
    out, err, took = stop(proc, signal.SIGTERM)
    run_id = only_run(folder)
    assert proc.returncode == 143, out + err
    assert err.splitlines()[-1] == f"terminated; resume with: weft resume {run_id}"
    assert "Traceback" not in err
    assert took < PROMPT_S
    journal = Journal(folder / "home" / "journal.db")
    try:
        assert journal.get_run(run_id).state is RunState.CANCELLED
    finally:
        journal.close()


def test_sigterm_before_the_run_started_says_there_is_nothing_to_resume(folder: Path) -> None:
    """The run waits for its broker first: a listening socket that never answers."""
    with socket.create_server(("127.0.0.1", 0)) as silent_broker:
        silent_broker.settimeout(30)
        port = silent_broker.getsockname()[1]
        proc = weft(folder, "run", "wf.yaml", "--broker", f"mqtt://127.0.0.1:{port}")
        try:
            connection, _ = silent_broker.accept()  # weft is inside the run command now
        except TimeoutError:
            proc.kill()
            raise AssertionError(proc.communicate()) from None
        with connection:  # held open: the connect neither fails nor completes
            out, err, _ = stop(proc, signal.SIGTERM)
    assert proc.returncode == 143, out + err
    assert err.splitlines() == ["terminated before the run started; nothing to resume"]
