"""``weft run``: a secret passed as ``api_key`` and echoed by a tool is written down nowhere.

The tools are plain ``def`` functions: one echoes its key into its output, the
other into an exception message. Every file under ``$WEFT_HOME``, every format
of ``weft trace export``, the HTML view and what the commands print (with
debug logs on) are searched for the key, which only the tools ever see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from weft.runtime.support.redaction import MASK

SECRET = "ak-Cli-" + uuid.uuid4().hex[:12]

TOOLS = """
def connect(api_key: str, host: str) -> str:
    return f"connected to {host} with {api_key}"


def refuse(api_key: str) -> str:
    raise ValueError(f"key {api_key} was refused")


def quote(text: str) -> str:
    return f"quoted: {text}"
"""


def write_workflow(folder: Path) -> Path:
    module = f"secret_tools_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(TOOLS)
    path = folder / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: echoes
            on_failure: continue
            inputs:
              key: {{type: string, required: true}}
            actions:
              connect: {{python: "{module}:connect"}}
              refuse: {{python: "{module}:refuse"}}
              quote: {{python: "{module}:quote"}}
            nodes:
              login:
                action: connect
                with: {{api_key: "${{inputs.key}}", host: example.org}}
              retry:
                action: refuse
                with: {{api_key: "${{inputs.key}}"}}
              report:
                action: quote
                after: login
                with: {{text: "${{login}}"}}
            """
        )
    )
    return path


def weft(folder: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WEFT_HOME": str(home),
        "WEFT_LOG_LEVEL": "debug",
        "WEFT_LOG_FORMAT": "json",
    }
    return subprocess.run(
        [sys.executable, "-m", "weft", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_echoed_api_key_is_in_no_file_no_export_no_view_and_no_output(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workflow = write_workflow(tmp_path)
    shown: dict[str, str] = {}

    run = weft(tmp_path, home, "run", str(workflow), "-i", f"key={SECRET}")
    assert run.returncode == 1, run.stderr  # 'retry' failed, as it should
    assert "ValueError" in run.stdout and "example.org" in run.stdout
    shown["run"] = run.stdout + run.stderr
    as_json = weft(tmp_path, home, "run", str(workflow), "-i", f"key={SECRET}", "--json")
    shown["run --json"] = as_json.stdout + as_json.stderr
    for fmt in ("otlp-json", "jsonl", "chrome"):
        exported = weft(tmp_path, home, "trace", "export", "last", "--format", fmt)
        assert exported.returncode == 0, exported.stderr
        shown[fmt] = exported.stdout + exported.stderr
    view = weft(tmp_path, home, "trace", "view", "last", "-o", str(tmp_path / "view.html"))
    assert view.returncode == 0, view.stderr
    shown["html"] = (tmp_path / "view.html").read_text()

    for name, text in shown.items():
        assert SECRET not in text, f"the key leaked in {name}"
        assert MASK in text, f"{name} shows no masked value: did the tools run?"
    files = [p for p in home.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"journal.db", "traces.db"}
    leaked = [p for p in files if SECRET.encode() in p.read_bytes()]
    assert leaked == []
