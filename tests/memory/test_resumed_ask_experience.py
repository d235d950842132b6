"""A stopped ask resumed to success is remembered as a success of its plan.

Before, the ask recorded its run as failed when it stopped for a person's
question (or failed), and the resume recorded nothing: the plan that worked
in the end was never reused for a similar task. Now the resume replaces the
ask's record (one record per ask, its reuse counted once); a resume that
fails again leaves it failed. Real embedded Chroma with MiniLM, the rule
planner, a tool that asks a person.
"""

from __future__ import annotations

import json
from pathlib import Path

from offline_weft import weft

from weft import ActionContext, RunState, tool
from weft.runtime.engine.journal import Journal
from weft.runtime.memory import ExperienceMemory
from weft.runtime.orchestrator import Orchestrator
from weft.runtime.orchestrator.memory_experience import MemoryExperience

TASK = "Approve the refund for order 7"
SIMILAR = "Approve the refund for order 9"


@tool
def approve(task: str, ctx: ActionContext) -> str:
    """Approves refunds once a person confirms."""
    answer = str(ctx.ask("Approve the refund?", choices=["yes", "no"]))
    if answer != "yes":
        raise RuntimeError("the refund was not approved")
    return "approved: " + task


def orchestrator(journal: Journal, memory: ExperienceMemory) -> Orchestrator:
    return Orchestrator([approve], journal=journal, experience=MemoryExperience(memory))


async def test_an_ask_answered_on_resume_is_remembered_as_a_success_and_reused(
    tmp_path: Path,
) -> None:
    memory = ExperienceMemory.open(tmp_path / "memory")
    journal = Journal(tmp_path / "journal.db")
    try:
        stopped = await orchestrator(journal, memory).ask(TASK)
        assert stopped.state is RunState.NEEDS_INPUT
        assert memory.match(SIMILAR)[1] is None  # a stopped ask is no plan to reuse
        done = await orchestrator(journal, memory).resume(stopped.run_id, answers={"s1": "yes"})
        assert done.ok, done.error
        [record] = memory.records()  # replaced, not a second record
        assert record.run_id == stopped.run_id and record.quality == 1.0
        assert all(s.succeeded for s in record.subtasks)
        decision, found = memory.match(SIMILAR)
        assert found is not None and found.id == record.id, decision.why

        again = await orchestrator(journal, memory).ask(SIMILAR)
    finally:
        journal.close()
    assert again.reuse is not None and again.reuse["record"] == record.id
    assert memory.get(record.id).uses == 1
    assert len(memory.records()) == 2  # the original and the new ask


async def test_an_ask_that_fails_again_on_resume_stays_failed(tmp_path: Path) -> None:
    memory = ExperienceMemory.open(tmp_path / "memory")
    journal = Journal(tmp_path / "journal.db")
    try:
        stopped = await orchestrator(journal, memory).ask(TASK)
        [asked] = memory.records()
        done = await orchestrator(journal, memory).resume(stopped.run_id, answers={"s1": "no"})
    finally:
        journal.close()
    assert done.state is RunState.FAILED
    [record] = memory.records()
    assert record.id == asked.id and record.quality == 0.0 and not record.reusable()
    assert memory.match(SIMILAR)[1] is None


async def test_an_ask_that_recorded_nothing_is_recorded_by_its_resume(tmp_path: Path) -> None:
    """As when the ask's process died before it could record: the resume records it."""
    memory = ExperienceMemory.open(tmp_path / "memory")
    journal = Journal(tmp_path / "journal.db")
    try:
        stopped = await Orchestrator([approve], journal=journal).ask(TASK)  # no memory
        done = await orchestrator(journal, memory).resume(stopped.run_id, answers={"s1": "yes"})
    finally:
        journal.close()
    assert done.ok, done.error
    [record] = memory.records()
    assert record.run_id == stopped.run_id and record.quality == 1.0
    assert memory.match(SIMILAR)[1] is not None


async def test_a_reusing_ask_resumed_counts_its_reuse_once(tmp_path: Path) -> None:
    """The ask that reused a plan counted that reuse; its resume must not count it again."""
    memory = ExperienceMemory.open(tmp_path / "memory")
    journal = Journal(tmp_path / "journal.db")
    try:
        first = await orchestrator(journal, memory).ask(TASK)
        await orchestrator(journal, memory).resume(first.run_id, answers={"s1": "yes"})
        [past] = memory.records()
        second = await orchestrator(journal, memory).ask(SIMILAR)
        assert second.reuse is not None and second.reuse["record"] == past.id
        assert memory.get(past.id).uses == 1
        done = await orchestrator(journal, memory).resume(second.run_id, answers={"s1": "yes"})
    finally:
        journal.close()
    assert done.ok, done.error
    assert memory.get(past.id).uses == 1
    mine = memory.by_run(second.run_id)
    assert mine.reused_from == past.id and mine.quality == 1.0
    assert len(memory.records()) == 2


async def test_a_resumed_ask_judged_bad_stays_unreusable(tmp_path: Path) -> None:
    """The user's verdict (``weft feedback RUN bad``) outranks the resumed run's success."""
    memory = ExperienceMemory.open(tmp_path / "memory")
    journal = Journal(tmp_path / "journal.db")
    try:
        stopped = await orchestrator(journal, memory).ask(TASK)
        memory.feedback(stopped.run_id, "bad")
        done = await orchestrator(journal, memory).resume(stopped.run_id, answers={"s1": "yes"})
    finally:
        journal.close()
    assert done.ok, done.error
    [record] = memory.records()
    assert record.outcome == "bad" and not record.reusable()


DESK = '''
from weft import ActionContext, tool

@tool
def approve(task: str, ctx: ActionContext) -> str:
    """Approves refunds once a person confirms."""
    return "approved: " + str(ctx.ask("Approve the refund?", choices=["yes", "no"]))

agents = [approve]
'''


def test_weft_resume_with_the_answer_makes_weft_memory_match_reuse_the_plan(
    tmp_path: Path,
) -> None:
    (tmp_path / "desk.py").write_text(DESK)
    desk = str(tmp_path / "desk.py")
    stopped = weft(tmp_path, "ask", TASK, "--agents", desk)
    assert stopped.exit_code == 1 and "answer with: weft resume" in stopped.output
    journal = Journal(tmp_path / "journal.db")
    run_id = journal.list_runs(1)[0].run_id
    journal.close()
    before = weft(tmp_path, "memory", "match", SIMILAR, "--json")
    assert json.loads(before.stdout)["reuse"] is None, before.output

    resumed = weft(tmp_path, "resume", run_id, "--answer", "s1=yes")
    assert resumed.exit_code == 0, resumed.output

    after = weft(tmp_path, "memory", "match", SIMILAR, "--json")
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["reuse"]["task"] == TASK
    listed = json.loads(weft(tmp_path, "memory", "ls", "--json").stdout)
    assert [r["quality"] for r in listed if r["run_id"] == run_id] == [1.0]
