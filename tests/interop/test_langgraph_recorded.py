"""A run on LangGraph's engine is traced and journaled as weft's engine records one.

The span tree (run, a node span per node execution, critic and revision
spans, secrets masked) matches weft's engine's for the same workflow; ``weft
trace show`` and ``view`` draw it; the journal lists it, and a failed run is
finished by ``weft resume`` (weft's engine) or ``resume_langgraph`` without
repeating a finished call.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from weft import run_workflow
from weft.cli.run import resume_command, run_command
from weft.cli.trace import show_command, view_command
from weft.protocols import RunState
from weft.runtime.engine.journal import Journal
from weft.runtime.engine.runner import resume_run
from weft.runtime.engine.to_langgraph import resume_langgraph, run_langgraph
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore

SECRET = "sk-live-0123456789abcdefXYZ"

WORKFLOW = f'''
from pathlib import Path
from typing import Any

from weft import Workflow, tool


def _log(log: str, what: str) -> None:
    with open(log, "a") as f:
        f.write(what + "\\n")


@tool
def write(topic: str, log: str, feedback: str = "", draft: str = "") -> str:
    _log(log, "write" + ("~" if feedback else ""))
    return f"{{topic}}, shorter" if feedback else f"{{topic}}: a long first draft"


@tool
def shorter_please(artifact: str, source: str = "", target: str = "") -> dict[str, Any]:
    return {{"approved": "shorter" in artifact, "feedback": "cut it"}}


@tool
def upper(text: str, log: str) -> str:
    _log(log, "upper")
    return text.upper()


@tool
def draft(log: str, feedback: Any = None) -> dict[str, Any]:
    version = feedback["version"] + 1 if isinstance(feedback, dict) else 1
    _log(log, f"draft{{version}}")
    return {{"version": version}}


@tool
def review(text: dict[str, Any], log: str) -> dict[str, Any]:
    _log(log, f"review{{text['version']}}")
    return {{"version": text["version"], "approved": text["version"] >= 3}}


@tool
def login(api_key: str, log: str) -> str:
    _log(log, "login")
    return "signed in"


@tool
def publish(value: Any, broken: str, log: str) -> Any:
    _log(log, "publish")
    if broken and Path(broken).exists():
        raise RuntimeError("the printer is out of paper")
    return value


workflow = Workflow("recorded")
workflow.input("log")
workflow.input("broken", default="")
workflow.input("api_key", default="{SECRET}")
workflow.node("login", login, with_={{"api_key": "${{inputs.api_key}}", "log": "${{inputs.log}}"}})
workflow.node("writer", write, with_={{"topic": "weft", "log": "${{inputs.log}}"}})
workflow.node("shout", upper, after=[], with_={{"text": "${{writer}}", "log": "${{inputs.log}}"}})
workflow.edge("writer", "shout", critic=shorter_please, max_rounds=2)
workflow.node("draft", draft, with_={{"feedback": "${{review}}", "log": "${{inputs.log}}"}})
workflow.node(
    "review", review, after=["draft"], with_={{"text": "${{draft}}", "log": "${{inputs.log}}"}}
)
workflow.edge("review", "draft", when="not output.approved", max_iterations=5)
workflow.node(
    "publish",
    publish,
    after=["review", "shout", "login"],
    with_={{"value": "${{review}}", "broken": "${{inputs.broken}}", "log": "${{inputs.log}}"}},
)
'''


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    file = tmp_path / "recorded.py"
    file.write_text(WORKFLOW)
    return file


def _shape(spans: list[SpanRecord]) -> list[tuple[Any, ...]]:
    """The tree as both engines must leave it: each span's kind, name, node key, status,
    its parent's kind and what it took and gave; not ids or times."""
    kinds = {s.span_id: s.kind for s in spans}
    return sorted(
        (
            s.kind,
            s.name,
            s.node,
            s.status,
            kinds.get(s.parent_id or ""),
            json.dumps(s.attributes.get("input"), sort_keys=True, default=str),
            json.dumps(s.attributes.get("output"), sort_keys=True, default=str),
            s.attributes.get("weft.action"),
        )
        for s in spans
    )


def _record(tmp_path: Path, engine: str, file: Path, inputs: dict[str, Any]) -> Any:
    store = TraceStore(tmp_path / f"{engine}-traces.db")
    journal = Journal(tmp_path / f"{engine}-journal.db")
    run = run_langgraph if engine == "langgraph" else run_workflow
    try:
        result = asyncio.run(run(str(file), inputs, journal=journal, tracer=store))
        store.flush()
        return result, store.spans(result.run_id)
    finally:
        journal.close()
        store.close()


def test_the_span_tree_of_a_loop_and_a_critic_matches_weft_engine(
    tmp_path: Path, workflow_file: Path
) -> None:
    inputs = {"log": str(tmp_path / "calls.log")}
    weft, weft_spans = _record(tmp_path, "weft", workflow_file, inputs)
    lang, lang_spans = _record(tmp_path, "langgraph", workflow_file, inputs)
    assert weft.ok and lang.ok, (weft.error, lang.error)
    assert _shape(lang_spans) == _shape(weft_spans)
    nodes = sorted(s.node or "" for s in lang_spans if s.kind == "node")
    loop = ["draft", "draft#1", "draft#2", "review", "review#1", "review#2"]
    assert nodes == sorted(["login", "writer", "shout", "publish", *loop])
    assert {s.node for s in lang_spans if s.kind == "critic"} == {
        "writer->shout",
        "writer->shout~1",
    }
    (run_span,) = [s for s in lang_spans if s.kind == "run"]
    assert run_span.status == "succeeded" and run_span.parent_id is None


def test_secrets_are_masked_in_the_spans_of_a_langgraph_run(
    tmp_path: Path, workflow_file: Path
) -> None:
    _, spans = _record(tmp_path, "langgraph", workflow_file, {"log": str(tmp_path / "l")})
    stored = json.dumps([s.attributes for s in spans], default=str)
    assert "api_key" in stored
    assert SECRET not in stored


def test_weft_trace_show_and_view_draw_a_langgraph_run(
    tmp_path: Path,
    workflow_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path))
    monkeypatch.delenv("WEFT_BROKER", raising=False)
    args = ["--engine", "langgraph", "--json", str(workflow_file), "-i", f"log={tmp_path / 'l'}"]
    run_command.main(args, standalone_mode=False)
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    show_command.main([run_id], standalone_mode=False)
    shown = capsys.readouterr().out
    assert f"run {run_id}" in shown
    # Each loop pass as the journal keys it, and which pass it is.
    assert "draft#2  node  pass 3" in shown
    assert all(f"review{key}  node  pass {n}" in shown for n, key in ((1, ""), (2, "#1")))
    assert "shorter_please  critic" in shown
    view_command.main([run_id, "-o", str(tmp_path / "view.html")], standalone_mode=False)
    assert "<html" in (tmp_path / "view.html").read_text().lower()


def _failed_langgraph_run(tmp_path: Path, file: Path) -> tuple[str, Path, Path]:
    log, broken = tmp_path / "calls.log", tmp_path / "broken"
    broken.touch()
    inputs = {"log": str(log), "broken": str(broken)}
    result = asyncio.run(run_langgraph(str(file), inputs, journal=tmp_path / "journal.db"))
    assert result.state is RunState.FAILED
    assert "out of paper" in (result.error or "")
    broken.unlink()
    return result.run_id, log, tmp_path / "journal.db"


def _each_once_but_publish(log: Path) -> None:
    calls = Counter(log.read_text().split())
    assert calls.pop("publish") == 2  # failed, then again on resume
    assert set(calls.values()) == {1}, calls  # every other call ran once, before the failure
    assert {"draft3", "review3", "write~", "upper", "login"} <= set(calls)


def test_a_failed_langgraph_run_is_journaled_and_weft_resume_finishes_it(
    tmp_path: Path, workflow_file: Path
) -> None:
    run_id, log, journal_path = _failed_langgraph_run(tmp_path, workflow_file)
    journal = Journal(journal_path)
    try:
        (listed,) = [r for r in journal.list_runs() if r.run_id == run_id]
        assert listed.state is RunState.FAILED
        resumed = asyncio.run(resume_run(run_id, journal=journal, tracer=False))
    finally:
        journal.close()
    assert resumed.ok, resumed.error
    assert resumed.outputs == {"publish": {"version": 3, "approved": True}}
    _each_once_but_publish(log)


def test_resume_langgraph_finishes_a_failed_run_on_langgraph(
    tmp_path: Path, workflow_file: Path
) -> None:
    run_id, log, journal_path = _failed_langgraph_run(tmp_path, workflow_file)
    resumed = asyncio.run(resume_langgraph(run_id, journal=journal_path, tracer=False))
    assert resumed.ok, resumed.error
    assert resumed.outputs == {"publish": {"version": 3, "approved": True}}
    assert {n: o.cached for n, o in resumed.nodes.items()}["publish"] is False
    _each_once_but_publish(log)


def test_weft_resume_finishes_a_failed_run_of_weft_run_engine_langgraph(
    tmp_path: Path,
    workflow_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path))
    monkeypatch.delenv("WEFT_BROKER", raising=False)
    log, broken = tmp_path / "calls.log", tmp_path / "broken"
    broken.touch()
    args = ["--engine", "langgraph", str(workflow_file), "-i", f"log={log}"]
    with pytest.raises(SystemExit):
        run_command.main([*args, "-i", f"broken={broken}"], standalone_mode=False)
    printed = capsys.readouterr().out
    assert "resume with: weft resume" in printed
    run_id = printed.split("resume with: weft resume ")[1].split()[0]
    broken.unlink()
    resume_command.main([run_id], standalone_mode=False)
    assert "succeeded" in capsys.readouterr().out
    _each_once_but_publish(log)


def test_foreach_items_and_sub_workflow_nodes_span_as_on_weft_engine() -> None:
    from weft import Workflow, tool
    from weft.runtime.tracing.spans import MemoryTracer

    @tool
    def double(n: int) -> int:
        return 2 * n

    @tool
    def total(values: list[int]) -> int:
        return sum(values)

    inner = Workflow("inner")
    inner.input("values", default=[])
    inner.node("sum", total, with_={"values": "${inputs.values}"})
    outer = Workflow("outer")
    outer.input("ns", default=[1, 2, 3])
    outer.node("each", double, foreach="${inputs.ns}", with_={"n": "${item}"})
    outer.node("sub", inner, after=["each"], with_={"values": "${each}"})

    def spans(run: Any) -> list[SpanRecord]:
        tracer = MemoryTracer()
        result = asyncio.run(run(outer, {}, journal=False, tracer=tracer))
        assert result.ok and result.outputs == {"sub": {"sum": 12}}, result.error
        return tracer.spans

    lang = spans(run_langgraph)
    assert _shape(lang) == _shape(spans(run_workflow))
    assert {s.node for s in lang if s.kind == "call"} >= {"each[0]", "each[1]", "each[2]"}
    assert "sub/sum" in {s.node for s in lang if s.kind == "node"}
