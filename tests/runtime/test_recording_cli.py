"""A script's runs are the CLI's runs: `weft runs`, `weft trace show`, `weft resume` see them.

Each script runs in a process of its own in a temporary folder, and the
commands after it run there too, so they meet in ``./.weft`` (no
``WEFT_HOME``), the default both sides must agree on. A script gets SIGINT as
a terminal's Ctrl-C would send it; since a process started in the background
by a shell ignores SIGINT (and passes that on), the script puts Python's own
handler back first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import weft

def shout(text: str) -> str:
    return text.upper()

workflow = weft.Workflow("shouting")
workflow.node("shout", shout, with_={"text": "hello"})
result = weft.run_sync(workflow)
print(result.run_id, result.outputs["shout"])
"""

TOOLS = """
import asyncio, os
from weft import tool

@tool
async def wait_forever() -> str:
    if os.environ.get("RELEASE"):
        return "released"
    print("waiting", flush=True)
    await asyncio.Event().wait()
    return "never"
"""

WORKFLOW = """
name: waiting
actions:
  wait_forever: {python: "waiting_tools:wait_forever"}
nodes:
  wait: {action: wait_forever}
"""

INTERRUPTED_SCRIPT = """
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
import weft
weft.run_sync("flow.yaml")
"""


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WEFT_HOME", "WEFT_RECORD")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def python(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def weft(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = python(folder, "-m", "weft", *args, **env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_weft_trace_show_last_after_a_script_prints_the_script_s_run(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    ran = python(tmp_path, "script.py")
    assert ran.returncode == 0, ran.stderr
    run_id, output = ran.stdout.split()
    assert output == "HELLO"

    shown = weft(tmp_path, "trace", "show", "last").stdout
    assert f"run {run_id}  shouting  succeeded" in shown
    assert "shout  node" in shown
    [listed] = json.loads(weft(tmp_path, "runs", "--json").stdout)
    assert (listed["run_id"], listed["state"]) == (run_id, "succeeded")
    assert ran.stderr == ""


def test_a_script_with_weft_record_0_leaves_no_files(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    ran = python(tmp_path, "script.py", WEFT_RECORD="0")
    assert ran.returncode == 0, ran.stderr
    assert not (tmp_path / ".weft").exists()


def test_ctrl_c_in_a_script_leaves_a_run_that_weft_resume_finishes(tmp_path: Path) -> None:
    (tmp_path / "waiting_tools.py").write_text(textwrap.dedent(TOOLS))
    (tmp_path / "flow.yaml").write_text(textwrap.dedent(WORKFLOW))
    (tmp_path / "script.py").write_text(textwrap.dedent(INTERRUPTED_SCRIPT))
    script = subprocess.Popen(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert script.stdout is not None
        assert script.stdout.readline() == "waiting\n"  # the run is journaled and running
        script.send_signal(signal.SIGINT)
        _, err = script.communicate(timeout=60)
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(timeout=10)

    assert script.returncode != 0
    assert err.splitlines()[-1] == "KeyboardInterrupt", err  # Python's own report, no more
    for noise in ("Exception ignored", "was destroyed", "never retrieved", "warning"):
        assert noise not in err, err
    [run] = json.loads(weft(tmp_path, "runs", "--json").stdout)
    assert run["state"] == "cancelled"

    resumed = weft(tmp_path, "resume", run["run_id"], "--json", RELEASE="1")
    assert json.loads(resumed.stdout)["outputs"] == {"wait": "released"}
    shown = weft(tmp_path, "trace", "show", run["run_id"]).stdout
    assert f"run {run['run_id']}  waiting  succeeded" in shown
