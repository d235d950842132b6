"""The orchestrator's own moments in a trace: a memory reuse and a planner fallback are
zero-length spans of the run, with what was decided and why."""

from __future__ import annotations

from weft.runtime.orchestrator.experience import Recall
from weft.runtime.orchestrator.plan import Plan, Subtask
from weft.runtime.orchestrator.reuse import trace_reuse
from weft.runtime.orchestrator.run_support import trace_note
from weft.runtime.tracing.spans import MemoryTracer, trace_id_for

RECALL = Recall(
    plan=Plan(subtasks=[Subtask(id="s1", description="Export the list.", capability="export")]),
    record="rec-1",
    task="Export the customer list to CSV",
    similarity=0.93,
    why="same operation and deliverable",
)


def test_a_refused_reuse_is_an_error_span_of_the_plan_with_its_problems() -> None:
    tracer = MemoryTracer()
    trace_reuse(tracer, "run-1", RECALL, ["subtask s1's agent is gone"])
    (span,) = tracer.by_kind("memory")
    assert span.start == span.end and span.status == "error" and span.node == "plan"
    assert span.trace_id == trace_id_for("run-1") and span.run_id == "run-1"
    assert span.attributes["weft.memory.reused"] is False
    assert span.attributes["weft.memory.problems"] == ["subtask s1's agent is gone"]
    assert span.attributes["weft.memory.similarity"] == 0.93


def test_a_kept_reuse_and_a_fallback_note_are_ok_spans() -> None:
    tracer = MemoryTracer()
    trace_reuse(tracer, "run-2", RECALL, [])
    trace_note(tracer, "run-2", "the model planner failed; the rule planner planned")
    memory, note = tracer.spans
    assert memory.status == "ok" and memory.attributes["weft.memory.problems"] is None
    assert note.kind == "note" and note.name == "planner fallback" and note.node is None
    assert note.attributes == {"weft.note": "the model planner failed; the rule planner planned"}
    trace_note(None, "run-2", "no tracer: nothing recorded, nothing raised")
