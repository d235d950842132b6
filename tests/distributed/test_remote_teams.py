"""A YAML team whose members are agents in other processes, run with ``weft run --broker``.

The members are named only inside the team node's ``with:``; the run learns
them from the team action's own declaration (``referenced_actions``) and
fetches them from the broker like any node's action.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from distributed_support import ROOT, AgentProcesses, agent_of

from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.support.home import default_trace_path
from weft.runtime.tracing.store import TraceStore

WORKFLOW = """\
name: remote-team
actions:
  team: {python: "weft.runtime.teams:team_action"}
nodes:
  discuss:
    action: team
    with: {task: "plan a post", members: [alice, bob], max_turns: 6}
outputs:
  plan: ${discuss.conclusion}
"""


async def _run(workflow: Path, procs: AgentProcesses, wait: str = "30") -> tuple[int, str, str]:
    """``weft run WORKFLOW --broker ... --json`` in a child process: its code, stdout, stderr.

    It shares the test session's ``$WEFT_HOME`` with the agents: their key,
    the trust list, and the trace store the test reads.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", "run", str(workflow), "--json",
        "--broker", procs.url, "--namespace", procs.namespace, "--wait-agents", wait,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_yaml_team_of_remote_members_concludes_and_each_member_ran_on_its_agent(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    alice = await agent_procs.start("team_members:alice")
    bob = await agent_procs.start("team_members:bob")
    agent = {"alice": await agent_of(caller, alice), "bob": await agent_of(caller, bob)}
    (tmp_path / "wf.yaml").write_text(WORKFLOW)

    code, out, err = await _run(tmp_path / "wf.yaml", agent_procs)

    assert code == 0, err
    result = json.loads(out)
    assert result["state"] == "succeeded", result
    assert result["outputs"]["plan"] == f"agreed: bob adds a plan (pid {bob.pid})"
    with TraceStore(default_trace_path()) as store:
        spans = store.spans(result["run_id"])
    calls = [s for s in spans if s.kind == "call" and s.node == "discuss"]
    assert {s.name for s in calls} == {"alice", "bob"}
    assert all(s.agent == agent[s.name] for s in calls), [(s.name, s.agent) for s in calls]
    served = {(s.name, s.agent) for s in spans if s.attributes.get("weft.side") == "agent"}
    assert served == {("alice", agent["alice"]), ("bob", agent["bob"])}


async def test_a_member_no_agent_serves_fails_the_run_before_it_starts_naming_it(
    agent_procs: AgentProcesses, caller: LiveRegistry, tmp_path: Path
) -> None:
    await agent_of(caller, await agent_procs.start("team_members:alice"))
    (tmp_path / "wf.yaml").write_text(WORKFLOW.replace("[alice, bob]", "[alice, carol]"))
    started = time.monotonic()

    code, out, err = await _run(tmp_path / "wf.yaml", agent_procs, wait="0.5")

    assert code != 0 and not out
    assert "no agent serves 'carol'" in err, err
    assert f"'carol' is named in {tmp_path / 'wf.yaml'}:" in err, err
    assert "node 'discuss'" in err and "'alice'" not in err.split("is named in")[0], err
    assert time.monotonic() - started < 30  # not the default 30 s wait, nor a team started
