"""The distributed quickstart: its launcher runs agents and workflow as the README says."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from weft.runtime import run_workflow
from weft.runtime.bus.mqtt.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]


async def test_the_launcher_runs_the_quickstart_on_agent_processes(
    weft_broker: MosquittoBroker, tmp_path: Path
) -> None:
    report = tmp_path / "distributed.md"
    launcher = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "examples" / "distributed" / "launch.py"),
        "--broker", weft_broker.url, "--report", str(report), "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    out, err = await asyncio.wait_for(launcher.communicate(), 180)
    assert launcher.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["state"] == "succeeded"
    assert "drained and stopped" in err.decode()  # the agents were stopped with SIGTERM

    local = await run_workflow(
        ROOT / "examples" / "quickstart" / "workflow.yaml",
        {"report": str(tmp_path / "local.md")},
    )
    for key in ("documents", "words", "top_keywords"):
        assert result["outputs"][key] == local.outputs[key]
    assert report.read_text() == (tmp_path / "local.md").read_text()
