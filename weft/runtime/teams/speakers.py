"""Who speaks next: a rule (round robin, the addressed member) or a chat model, traced.

Exactly one member speaks per turn. The conversation asks its selector for a
name; the member a turn's reply addressed (``to``) always comes first, and
during a vote the next voter does. ``LLMSelector`` asks any action (usually
an ``LLMAgent(output_type=SpeakerChoice)``, or one that writes that JSON as
its text, like a YAML ``llm:`` agent) to pick a name; a name that is not a
member falls back to round robin, and the choice, its reason and the fallback
are on the ``select speaker`` span.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from weft.protocols import Action
from weft.runtime.teams.member import MemberCaller, TeamMember, json_object_in
from weft.runtime.tracing.spans import new_span_id


@dataclass
class Selection:
    """What a selector sees: the members in order, who spoke last, the conversation so far."""

    members: list[str]
    last: str | None
    context: dict[str, Any]


class SpeakerSelector(Protocol):
    """Picks the next speaker; returns ``(name, how)`` where ``how`` is traced."""

    async def choose(self, selection: Selection, caller: MemberCaller) -> tuple[str, str]: ...


def round_robin_after(members: list[str], last: str | None) -> str:
    """The member after ``last`` in seat order (the first when ``last`` is gone or None)."""
    if last in members:
        return members[(members.index(last) + 1) % len(members)]
    return members[0]


class RoundRobin:
    """Seats take turns in order."""

    async def choose(self, selection: Selection, caller: MemberCaller) -> tuple[str, str]:
        return round_robin_after(selection.members, selection.last), "round_robin"


class LLMSelector:
    """A chat model (any action answering ``{"name": ...}``) picks the next speaker."""

    def __init__(self, chooser: Action | str) -> None:
        self.chooser = chooser
        self.member = TeamMember.of(chooser)

    async def choose(self, selection: Selection, caller: MemberCaller) -> tuple[str, str]:
        context = dict(selection.context, mode="select", you="moderator")
        span_id = new_span_id()
        started = time.time()
        result = await caller.call(
            self.member, context, parent_id=span_id, prompt=_prompt(selection)
        )
        output = result.output if result.ok else None
        if isinstance(output, str):  # a chooser without structured output writes the JSON as text
            output = json_object_in(output) or output
        name = output.get("name") if isinstance(output, dict) else output
        reason = output.get("reason") if isinstance(output, dict) else None
        how = "llm"
        if not isinstance(name, str) or name.strip() not in selection.members:
            name, how = round_robin_after(selection.members, selection.last), "llm_fallback"
        name = name.strip()
        caller.spans.record(
            f"select speaker → {name}",
            kind="team",
            start=started,
            span_id=span_id,
            attributes={
                "weft.team": caller.spans.team,
                "weft.team.selected_by": how,
                "weft.team.speaker": name,
                "weft.team.candidates": selection.members,
                "output": {"name": name, "reason": reason, "raw": output},
                "error": result.error,
            },
        )
        return name, how


def _prompt(selection: Selection) -> str:
    history = "\n".join(
        f"- {m['sender']} ({m['type']}): {m.get('text', '')}" for m in selection.context["history"]
    )
    return (
        f"You moderate team '{selection.context['team']}'. Goal: {selection.context['goal']}\n"
        f"Conversation so far:\n{history or '(nothing yet)'}\n\n"
        f"Who should speak next? Members: {', '.join(selection.members)}. "
        'Answer with one JSON object: {"name": "<member>", "reason": "<one sentence>"}.'
    )
