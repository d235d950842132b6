"""examples/macnet runs offline: five LLM agents on a random DAG, a critic on every edge.

The agents use the real ``openai`` client against ``weft.testing.OpenAIServer``
serving the example's scripted answers; no network beyond loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from tests.examples.example_modules import example_run
from weft.cli import cli
from weft.protocols import NodeState
from weft.testing import OpenAIServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "macnet"


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    with example_run("macnet") as module:
        yield module


async def test_the_team_writes_with_every_first_draft_sent_back_once(example: ModuleType) -> None:
    result, reviews = await example.run_offline("Announce the release")
    assert result.ok, result.error
    assert {n.state for n in result.nodes.values()} == {NodeState.SUCCEEDED}
    assert len(result.nodes) == 5
    edges = sum(len(n.after) for n in example.build().build().nodes.values())
    # every edge: the draft is sent back (round 0), the revision approved (round 1)
    assert sorted(r for _, r, _ in reviews.verdicts) == [0] * edges + [1] * edges
    assert reviews.sent_back == edges
    assert all(approved == (r == 1) for _, r, approved in reviews.verdicts)
    assert list(result.outputs) == ["n4"]  # the editor merges everything
    assert result.outputs["n4"].startswith("editor:")


async def test_downstream_agents_see_only_revised_artifacts(example: ModuleType) -> None:
    model = example.scripted_model()
    async with OpenAIServer(model) as server:
        from weft.agents import model_defaults

        with model_defaults(base_url=server.base_url, model="m", api_key="k"):
            result, _ = await example.run_team("Announce the release")
    assert result.ok, result.error
    editor = [r for r in model.requests if "editor of a small writing team" in r.system]
    assert len(editor) == 1  # the sink has no critic after it: one call
    context = editor[0].last_user_text.split("Context:", 1)[1]
    assert context.count("(revised)") == 3  # its three predecessors, each revised once
    assert "first take" not in context


def test_weft_topology_lays_the_same_agents_out_and_weft_run_runs_them(
    tmp_path: Path, example: ModuleType
) -> None:
    team = EXAMPLE / "writing_team.py"
    out = tmp_path / "macnet.yaml"
    actors = [f"--actor={team}:{name}" for name in ("outliner", "drafter", "editor")]
    written = CliRunner().invoke(
        cli,
        ["topology", "tree", "--nodes", "4", *actors, f"--critic={team}:critic", "-o", str(out)],
    )
    assert written.exit_code == 0, written.output

    with OpenAIServer(example.scripted_model()) as server:  # served from its own thread
        env = {"OPENAI_BASE_URL": server.base_url, "WEFT_MODEL": "m", "OPENAI_API_KEY": "k"}
        ran = CliRunner().invoke(cli, ["run", str(out), "-i", "task=Say hi", "--json"], env=env)
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.output)
    assert report["state"] == "succeeded" and len(report["nodes"]) == 4
