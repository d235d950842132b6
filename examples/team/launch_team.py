"""The launch team: a lead, a researcher and a writer, each an LLM agent on the member protocol.

Each member is an ``LLMAgent`` whose structured output is a ``MemberReply``
(speak, propose, vote, assign, pause, conclude): the team tells it on every
turn what the conversation is and how to answer, and its instructions say
what its role does. The lead splits the work: research runs as an *async*
task (the conversation goes on), the outline as a *sync* task (the lead
waits for it); then the lead *pauses* until the research reports, and the
writer puts the finished note to a vote.
"""

from __future__ import annotations

from weft.agents import LLMAgent
from weft.protocols.teams import MemberReply
from weft.runtime.bus.base import Bus
from weft.runtime.teams import Team
from weft.runtime.tracing.spans import Tracer
from weft.workflows import Workflow

LEAD = """You are the lead of a three-person team (lead, researcher, writer) that writes a
short launch note. On your first turn assign two tasks in one reply: task "facts" to
researcher in async mode (gather three facts about the topic) and task "outline" to
writer in sync mode (a three-point outline). On your next turn pause with wait_for
["facts"]. Later, if the writer proposes a note that uses the facts, vote yes."""

RESEARCHER = """You are the researcher of a team writing a launch note. When given a task,
answer with three short facts, one per line. On your turns, say briefly what you found.
Vote yes on a note that states the facts correctly."""

WRITER = """You are the writer of a team writing a launch note. When given a task, answer
with what it asks. On your turns: before the research facts have reported, say you are
waiting and address the lead; once they have, propose the finished note (under 80 words,
using the outline and the facts) with act "propose"."""


def build_team(
    *, bus: Bus | None = None, tracer: Tracer | None = None, max_turns: int = 12
) -> Team:
    """The team; ``bus`` carries its conversation (default: an in-process bus of its own)."""
    members = [
        LLMAgent(name, instructions=text, output_type=MemberReply, max_turns=2)
        for name, text in (("lead", LEAD), ("researcher", RESEARCHER), ("writer", WRITER))
    ]
    return Team(
        "launch",
        members,
        max_turns=max_turns,
        bus=bus,
        tracer=tracer,
        description="Writes a launch note with research, an outline and a vote.",
    )


def build_workflow(*, bus: Bus | None = None) -> Workflow:
    """The team as the one node of a workflow, as ``weft run`` (on either engine) runs it.

    Its outputs are what the conversation reached, not its id or timings.
    """
    wf = Workflow("launch_note", description="A launch note written by the launch team.")
    wf.input("topic", type="string", default="weft's new team mode")
    team = wf.node(
        "team",
        build_team(bus=bus),
        with_={"task": "Write a short launch note about ${inputs.topic}."},
    )
    for name in ("conclusion", "reason", "turns", "messages", "task_results", "states"):
        wf.output(name, f"${{{team.name}.{name}}}")
    return wf
