"""A weft workflow compiled to a LangGraph StateGraph gives the outputs weft's engine gives."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.interop.engine_events import Events
from weft import Workflow, run_workflow, tool
from weft.runtime.engine.compiler import import_object
from weft.runtime.engine.outcomes import RunResult
from weft.runtime.engine.to_langgraph import run_langgraph

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"


def _quickstart_actions() -> dict[str, str]:
    """The distributed example's actions, served locally: the quickstart's tools by name."""
    names = ("list_documents", "read_document", "text_statistics", "readability")
    names += ("build_vocabulary", "keywords", "write_report")
    return {name: f"quickstart_tools:{name}" for name in names}


def _example(folder: str) -> dict[str, ModuleType]:
    """``examples/FOLDER/run.py``, imported from its file, and the neighbours it imports by
    name from its folder (put on ``sys.path`` by it, taken off again here), by name."""
    where = ROOT / "examples" / folder
    spec = importlib.util.spec_from_file_location(f"{folder}_parity_run", where / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass in it looks its module up
    before = set(sys.modules)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(where))
    found = {"run": module}
    for name in set(sys.modules) - before:  # unloaded, so other tests import their own
        if str(where) in str(getattr(sys.modules[name], "__file__", "")):
            found[name] = sys.modules.pop(name)
    return found


@dataclass
class Example:
    """An example workflow, run offline: what builds it, and in what setting it runs."""

    build: Callable[[Any], Any]
    inputs: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    #: An async context manager to run in (scripted model, bus); what it yields goes to build.
    setting: Callable[[], AbstractAsyncContextManager[Any]] = lambda: nullcontext()
    #: Whether the run writes the report file of the quickstart.
    report: bool = True
    #: How some outputs start, so a comparison of two empty runs cannot pass.
    starts: dict[str, str] = field(default_factory=dict)
    #: Whether critics review artifacts on its edges.
    critics: bool = False


def _file(example: str) -> Callable[[Any], Path]:
    return lambda _: ROOT / "examples" / example


def _macnet() -> Example:
    run = _example("macnet")["run"]
    return Example(
        lambda _: run.build(),
        {"task": "Announce the release"},
        setting=run.offline,
        report=False,
        starts={"n4": "editor:"},
        critics=True,
    )


def _team() -> Example:
    example = _example("team")
    run, team = example["run"], example["launch_team"]
    return Example(
        lambda bus: team.build_workflow(bus=bus),
        {"topic": "teams"},
        setting=run.offline,
        report=False,
        starts={"conclusion": "weft now has teams:", "reason": "vote"},
    )


#: Every example workflow that runs offline, and how.
EXAMPLES: dict[str, Callable[[], Example]] = {
    "quickstart/workflow.yaml": lambda: Example(_file("quickstart/workflow.yaml")),
    "quickstart/workflow.py": lambda: Example(_file("quickstart/workflow.py")),
    "distributed/workflow.yaml": lambda: Example(
        _file("distributed/workflow.yaml"),
        {"folder": str(QUICKSTART / "docs")},
        _quickstart_actions(),
    ),
    "macnet (writing_team.build)": _macnet,
    "team (launch_team.build_workflow)": _team,
}


async def _run_both(
    case: Example, tmp_path: Path
) -> tuple[RunResult, RunResult, list[Any], list[Any]]:
    sys.path.insert(0, str(QUICKSTART))
    try:
        actions = {name: import_object(ref) for name, ref in case.actions.items()}
    finally:
        sys.path.remove(str(QUICKSTART))
    results, reviews = [], []
    for engine, run in (("weft", run_workflow), ("lg", run_langgraph)):
        listen = Events()
        inputs = dict(case.inputs)
        if case.report:
            inputs["report"] = str(tmp_path / f"{engine}.md")
        extra = {"record": False} if run is run_workflow else {}
        async with case.setting() as given:
            result = await run(
                case.build(given), inputs, actions=actions, listeners=[listen], **extra
            )
        results.append(result)
        reviews.append(listen.seen)
    return results[0], results[1], reviews[0], reviews[1]


@pytest.mark.parametrize("example", sorted(EXAMPLES))
async def test_every_example_gives_the_same_outputs_on_both_engines(
    example: str, tmp_path: Path
) -> None:
    case = EXAMPLES[example]()
    weft, lang, weft_reviews, lang_reviews = await _run_both(case, tmp_path)
    assert weft.ok and lang.ok, (weft.error, lang.error)
    assert lang.outputs and {**lang.outputs, "report": None} == {**weft.outputs, "report": None}
    if case.report:
        assert (tmp_path / "weft.md").read_text() == (tmp_path / "lg.md").read_text()
    assert {n: o.state for n, o in lang.nodes.items()} == {
        n: o.state for n, o in weft.nodes.items()
    }
    assert lang_reviews == weft_reviews  # the same critics said the same, round by round
    assert bool(weft_reviews) is case.critics
    for name, start in case.starts.items():
        assert str(lang.outputs[name]).startswith(start), lang.outputs[name]


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
