"""Ctrl-C during `weft run` or `weft ask` names the run it stopped, or says none had started.

Never "the newest run in the journal": another `weft run` sharing the journal
may have started after this one and still be running. The processes get
SIGINT as a terminal's Ctrl-C would send it. A process started in the
background by a shell ignores SIGINT (and passes that on), so each is started
through a launcher that puts Python's own handler back first.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

from foreground_weft import foreground_weft

from weft import RunState
from weft.runtime import Journal

TOOLS = """
import asyncio
from weft import tool

@tool
async def wait_forever() -> None:
    await asyncio.Event().wait()
"""

WORKFLOW = """
name: waiting
actions:
  wait_forever: {python: "waiting_tools:wait_forever"}
nodes:
  wait: {action: wait_forever}
"""


def weft(folder: Path, *args: str) -> subprocess.Popen[str]:
    return foreground_weft(folder, *args)


def wait_for_runs(journal: str, count: int, procs: list[subprocess.Popen[str]]) -> list[str]:
    """Poll the journal until ``count`` runs are recorded; their ids, oldest first."""
    deadline = time.monotonic() + 30
    while True:
        for proc in procs:
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"never saw {count} runs in {journal}"
        if Path(journal).exists():
            reader = Journal(journal)
            try:
                runs = reader.list_runs()
            finally:
                reader.close()
            if len(runs) >= count:
                return [r.run_id for r in reversed(runs)]
        time.sleep(0.02)


def test_ctrl_c_names_the_run_it_interrupted_not_the_newest(tmp_path: Path) -> None:
    (tmp_path / "waiting_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(WORKFLOW))
    journal = str(tmp_path / "journal.db")
    first = weft(tmp_path, "run", "flow.yaml", "--journal", journal)
    second = None
    try:
        [first_id] = wait_for_runs(journal, 1, [first])
        second = weft(tmp_path, "run", "flow.yaml", "--journal", journal)
        first_id, newest_id = wait_for_runs(journal, 2, [first, second])

        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=30)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert first.returncode == 130, out + err
    # the journal was named on the command line: the resume command names it too
    assert err.splitlines() == [
        f"interrupted; resume with: weft resume {first_id} --journal {journal}"
    ]
    assert newest_id != first_id
    reader = Journal(journal)
    assert reader.get_run(first_id).state is RunState.CANCELLED
    assert reader.lease(first_id) is None  # resumable at once
    reader.close()


def test_ctrl_c_before_the_run_started_says_there_is_nothing_to_resume(tmp_path: Path) -> None:
    """The run waits for its broker first: a listening socket that never answers."""
    (tmp_path / "waiting_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(WORKFLOW))
    journal = tmp_path / "journal.db"
    with socket.create_server(("127.0.0.1", 0)) as silent_broker:
        silent_broker.settimeout(30)
        port = silent_broker.getsockname()[1]
        proc = weft(
            tmp_path, "run", "flow.yaml", "--journal", str(journal),
            "--broker", f"mqtt://127.0.0.1:{port}",
        )  # fmt: skip
        try:
            connection, _ = silent_broker.accept()  # weft is inside the run command now
        except TimeoutError:
            proc.kill()
            raise AssertionError(proc.communicate()) from None
        with connection:  # held open: the connect neither fails nor completes
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert err.splitlines() == ["interrupted before the run started; nothing to resume"]
    reader = Journal(journal)
    assert reader.list_runs() == []
    reader.close()


def test_ctrl_c_during_an_ask_names_its_run_and_the_resume_that_finishes_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "waiting_agents.py").write_text(
        textwrap.dedent(
            """
            import asyncio

            async def wait(task: str) -> None:
                await asyncio.Event().wait()
            """
        )
    )
    journal = str(tmp_path / "journal.db")
    proc = weft(
        tmp_path, "ask", "Wait forever.", "--agents", "waiting_agents:wait",
        "--no-memory", "--router", "lexical", "--journal", journal,
    )  # fmt: skip
    try:
        [run_id] = wait_for_runs(journal, 1, [proc])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130, out + err
    assert err.splitlines()[-1] == (
        f"interrupted; resume with: weft resume {run_id} --journal {journal}"
    )
    reader = Journal(journal)
    assert reader.get_run(run_id).state is RunState.CANCELLED
    assert reader.lease(run_id) is None  # resumable at once
    reader.close()
