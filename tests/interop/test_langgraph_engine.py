"""A weft workflow compiled to a LangGraph StateGraph gives the outputs weft's engine gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from weft import DefinitionError, Workflow, run_workflow, tool
from weft.runtime.engine.compiler import import_object
from weft.runtime.engine.to_langgraph import run_langgraph

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"


def _quickstart_actions() -> dict[str, str]:
    """The distributed example's actions, served locally: the quickstart's tools by name."""
    names = ("list_documents", "read_document", "text_statistics", "readability")
    names += ("build_vocabulary", "keywords", "write_report")
    return {name: f"quickstart_tools:{name}" for name in names}


#: Every example workflow that runs offline, with the actions it needs beyond its own.
EXAMPLES = {
    "quickstart/workflow.yaml": ({}, {}),
    "quickstart/workflow.py": ({}, {}),
    "distributed/workflow.yaml": (_quickstart_actions(), {"folder": str(QUICKSTART / "docs")}),
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
async def test_every_example_gives_the_same_outputs_on_both_engines(
    example: str, tmp_path: Path
) -> None:
    refs, inputs = EXAMPLES[example]
    path = ROOT / "examples" / example
    sys.path.insert(0, str(QUICKSTART))
    try:
        actions = {name: import_object(ref) for name, ref in refs.items()}
    finally:
        sys.path.remove(str(QUICKSTART))
    weft = await run_workflow(
        path, {**inputs, "report": str(tmp_path / "weft.md")}, actions=actions, record=False
    )
    lang = await run_langgraph(path, {**inputs, "report": str(tmp_path / "lg.md")}, actions=actions)
    assert weft.ok and lang.ok, (weft.error, lang.error)
    assert {**lang.outputs, "report": None} == {**weft.outputs, "report": None}
    assert (tmp_path / "weft.md").read_text() == (tmp_path / "lg.md").read_text()
    assert {n: o.state for n, o in lang.nodes.items()} == {
        n: o.state for n, o in weft.nodes.items()
    }


@tool
def classify(n: int) -> str:
    return "big" if n > 10 else "small"


@tool
def shout(text: str) -> str:
    return text.upper()


@tool
def whisper(text: str) -> str:
    return text.lower()


@tool
def boom(text: str) -> str:
    raise ValueError("no")


def branching() -> Workflow:
    wf = Workflow("branch")
    wf.input("n", type="integer")
    c = wf.node("classify", classify, with_={"n": "${inputs.n}"})
    wf.node("big", shout, with_={"text": "${classify}"}, after=[])
    wf.edge(c, "big", when="output == 'big'")
    wf.node("small", whisper, with_={"text": "${classify}"}, after=[])
    wf.edge(c, "small", when="output == 'small'")
    wf.node("done", shout, after=["big", "small"], join={"reducer": "first"})
    return wf


@pytest.mark.parametrize("n", [3, 30])
async def test_conditions_and_skipped_branches_match(n: int) -> None:
    weft = await run_workflow(branching(), {"n": n}, record=False)
    lang = await run_langgraph(branching(), {"n": n})
    assert weft.ok and lang.ok, (weft.error, lang.error)
    assert weft.outputs == lang.outputs == {"done": "BIG" if n > 10 else "SMALL"}
    assert {k: v.state for k, v in weft.nodes.items()} == {
        k: v.state for k, v in lang.nodes.items()
    }


async def test_a_failed_node_fails_the_run_with_its_error() -> None:
    wf = Workflow("fails")
    wf.node("a", boom, with_={"text": "x"})
    result = await run_langgraph(wf, {})
    assert not result.ok
    assert result.error is not None and "node 'a' failed" in result.error


def test_a_critic_on_an_edge_is_refused_naming_the_node() -> None:
    wf = Workflow("critic")
    a = wf.node("a", shout, with_={"text": "x"})
    wf.node("b", whisper, after=[])
    wf.edge(a, "b", critic=shout)
    with pytest.raises(DefinitionError, match="node 'b': the critic"):
        import asyncio

        asyncio.run(run_langgraph(wf, {}))


def test_weft_run_engine_langgraph_prints_the_outputs(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "weft",
            "run",
            "--engine",
            "langgraph",
            "--json",
            str(QUICKSTART / "workflow.yaml"),
            "-i",
            f"report={tmp_path / 'r.md'}",
        ],
        capture_output=True,
        text=True,
        env={"WEFT_HOME": str(tmp_path), "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert '"documents": 7' in done.stdout
