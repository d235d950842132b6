"""What the router learns from an ask that stopped and was resumed.

A question to a person is not a failure of the agent that asked it, and a
subtask that failed and then succeeded once its cause was fixed has shown
that its agent can do it: before, the ask taught the router "failed" for
both, the resume taught it nothing, and the only agent that fits a task was
refused for the same task afterwards ("no agent fits"). Offline: the rule
planner and the word-overlap router, recording what it is taught.
"""

from __future__ import annotations

from pathlib import Path

from weft import ActionContext, RunState, tool
from weft.protocols import RouteRequest
from weft.runtime.engine.journal import Journal
from weft.runtime.orchestrator import Orchestrator
from weft.runtime.routing.lexical_router import LexicalRouter


class Taught(LexicalRouter):
    """The word-overlap router, keeping each outcome it is taught as (agent, success)."""

    def __init__(self) -> None:
        super().__init__()
        self.taught: list[tuple[str, bool]] = []

    async def record_outcome(self, request: RouteRequest, agent_id: str, success: bool) -> None:
        self.taught.append((agent_id, success))
        await super().record_outcome(request, agent_id, success)


@tool
def approve(task: str, ctx: ActionContext) -> str:
    """Approves refunds once a person confirms."""
    return "approved: " + str(ctx.ask("Approve the refund?", choices=["yes", "no"]))


BROKEN = {"press": True}


@tool
def publish(task: str) -> str:
    """Publish the findings in the newsletter."""
    if BROKEN["press"]:
        raise RuntimeError("the press is offline")
    return "published: " + task


async def test_a_question_teaches_nothing_and_its_answered_call_a_success(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "journal.db")
    try:
        router = Taught()
        stopped = await Orchestrator([approve], journal=journal, router=router).ask(
            "Approve the refund for order 7"
        )
        assert stopped.state is RunState.NEEDS_INPUT
        assert router.taught == []  # asking a person is no failure of the agent
        done = await Orchestrator([approve], journal=journal, router=router).resume(
            stopped.run_id, answers={"s1": "yes"}
        )
    finally:
        journal.close()
    assert done.ok, done.error
    assert router.taught == [("approve", True)]


async def test_a_subtask_fixed_and_resumed_teaches_its_success(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    BROKEN["press"] = True
    try:
        router = Taught()
        failed = await Orchestrator([publish], journal=journal, router=router).ask(
            "Publish the findings in the newsletter"
        )
        assert failed.state is RunState.FAILED
        assert router.taught == [("publish", False)]
        BROKEN["press"] = False
        done = await Orchestrator([publish], journal=journal, router=router).resume(failed.run_id)
    finally:
        BROKEN["press"] = True
        journal.close()
    assert done.ok, done.error
    assert router.taught == [("publish", False), ("publish", True)]


@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()


async def test_a_subtask_served_from_the_journal_is_not_taught_twice(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    BROKEN["press"] = True
    try:
        router = Taught()
        agents = [research, publish]
        task = "Research solar power. Then publish the findings in the newsletter."
        failed = await Orchestrator(agents, journal=journal, router=router).ask(task)
        assert failed.routes == {"s1": "research", "s2": "publish"}
        assert router.taught == [("research", True), ("publish", False)]
        BROKEN["press"] = False
        done = await Orchestrator(agents, journal=journal, router=router).resume(failed.run_id)
    finally:
        BROKEN["press"] = True
        journal.close()
    assert done.ok, done.error
    assert router.taught == [("research", True), ("publish", False), ("publish", True)]
