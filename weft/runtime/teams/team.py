"""``Team``: an IoA team as an action. Call it like any action; its members converse.

A team is formed (an explicit list of members, or ``formation=`` picks them
through a router by capability), converses on its topic
``weft/{ns}/teams/{team}-{id}`` (one topic per conversation, so two calls of
one team never mix) and answers with a ``TeamOutcome``. It runs on the
``bus`` it is given (MQTT or in-process, already started) or on a private
in-process bus of its own.

A member that asks a person (``ctx.ask``) stops the team: its call ends
``needs_input`` with the member's question, and ``weft resume --answer
TEAM_NODE=VALUE`` holds the conversation again from its start with the
answers, each going to the member call that asked (``weft.agents.answering``).

A team is a member like any other, so teams nest. A call's ``context``
says how many teams enclose it (``team_depth``); at ``team_up_depth`` a team
no longer forms: its lead (first member) answers alone, so nesting stops at
the limit whatever the members are. A nested team votes through its lead
too; on a turn or a task it converses on what it is asked and speaks its
conclusion.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from weft.protocols import (
    Action,
    ActionCall,
    ActionFailed,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
)
from weft.protocols.argument_checks import ArgumentProblem
from weft.protocols.hints import did_you_mean
from weft.protocols.teams import IllegalTransition, TeamOutcome
from weft.runtime.bus.base import Bus
from weft.runtime.teams.arguments import ArgumentError, at_least, positive_seconds
from weft.runtime.teams.channel import conversation_channel
from weft.runtime.teams.conversation import Conversation
from weft.runtime.teams.formation import Formation
from weft.runtime.teams.literal_checks import placeholder_problems
from weft.runtime.teams.local_context import SpecHolder, missing_task, run_locally
from weft.runtime.teams.member import MemberCaller, TeamMember, bundled_of
from weft.runtime.teams.names import Named, seat_names, unknown_name_failure
from weft.runtime.teams.settings import TeamSettings
from weft.runtime.teams.speakers import LLMSelector, RoundRobin, SpeakerSelector
from weft.runtime.teams.team_spans import TeamSpans
from weft.runtime.tracing.spans import Tracer

TEAM_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {"type": "string", "description": "What the team is to achieve."},
        "context": {
            "type": "object",
            "description": "Set when the team is itself a member (the member protocol).",
        },
    },
    "required": ["task"],
}

MemberLike = Action | str | TeamMember


class Team(SpecHolder):
    """An IoA team: members converse under flow control until they conclude.

    ``members`` are actions, names of actions (called through the run's
    registry, e.g. a YAML file's actions or remote agents), or ``TeamMember``
    seats with a replacement ``pool``; ``formation`` picks them by capability
    instead. ``max_turns`` bounds speaker turns; ``window`` is how many recent
    messages a member is shown; ``team_up_depth`` bounds nesting; ``selector``
    is ``"round_robin"``, an action that picks names (``LLMSelector``) or any
    ``SpeakerSelector``; ``turn_timeout`` (seconds) bounds one member call, a
    member that exceeds it is dead; ``pause_timeout`` bounds a pause.
    ``bus`` carries the conversation (default: a private in-process bus);
    ``tracer`` receives spans when the team is not run by a workflow.
    """

    def __init__(
        self,
        name: str,
        members: Sequence[MemberLike] = (),
        *,
        description: str = "",
        formation: Formation | None = None,
        max_turns: int = 20,
        window: int = 20,
        team_up_depth: int = 2,
        selector: SpeakerSelector | Action | str = "round_robin",
        turn_timeout: float | None = None,
        pause_timeout: float | None = 600.0,
        bus: Bus | None = None,
        tracer: Tracer | None = None,
        skills: Sequence[str] = (),
    ) -> None:
        owner = f"team '{name}'"
        at_least(owner, "max_turns", max_turns, 1)
        at_least(owner, "window", window, 1)
        at_least(owner, "team_up_depth", team_up_depth, 1)  # 1: the team itself
        positive_seconds(owner, "turn_timeout", turn_timeout)
        positive_seconds(owner, "pause_timeout", pause_timeout)
        if not members and formation is None:
            raise ArgumentError("members", f"{owner} needs members or a formation")
        self.members = [TeamMember.of(m) for m in members]
        self.formation = formation
        self.settings = TeamSettings(
            name=name,
            max_turns=max_turns,
            window=window,
            team_up_depth=team_up_depth,
            pause_timeout=pause_timeout,
            selector=_selector(owner, selector),
        )
        self.turn_timeout = turn_timeout
        self.bus = bus
        self.tracer = tracer
        summary = description or f"A team of {len(self.members) or 'routed'} members"
        self._spec = ActionSpec(
            name=name,
            kind=ActionKind.TEAM,
            description=summary,
            input_schema=TEAM_INPUT_SCHEMA,
            output_schema=TeamOutcome.model_json_schema(),
            card=CapabilityCard(agent_id=name, description=summary, skills=list(skills)),
        )

    def __repr__(self) -> str:
        return f"<Team {self.name} ({len(self.members)} members)>"

    async def invoke(self, call: ActionCall, ctx: Any) -> ActionResult:
        """Form the team and hold the conversation; never raises for the team's own failure.

        A member's illegal move arrives as an ``ActionFailed`` naming the member;
        any other ``IllegalTransition`` (a flow-control bug) still fails the call
        with the team's name, not a traceback.
        """
        try:
            return await self._invoke(call, ctx)
        except ActionFailed as exc:
            return ActionResult.from_exception(call.call_id, exc, source=self.name)
        except IllegalTransition as exc:
            return ActionResult.from_exception(call.call_id, exc, source=self.name)

    @property
    def bundled_actions(self) -> list[Action]:
        """The tools its members given as objects bring (``bundled_of``)."""
        return bundled_of(self.members)

    def named(self) -> list[Named]:
        """The members, pool replacements and speaker chooser given by name."""
        named = seat_names(self.members)
        selector = self.settings.selector
        if isinstance(selector, LLMSelector) and selector.member.action is None:
            named.append(Named(selector.member.name, "speaker chooser", "selector", ("selector",)))
        return named

    def referenced_actions(self, arguments: Mapping[str, Any]) -> list[str]:
        """The names of ``named``, whatever the call's arguments (``ReferencesActions``)."""
        return [named.name for named in self.named()]

    def argument_problems(self, arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
        """``{name}`` in the text a node's ``with:`` sends (``ChecksArguments``): warnings
        only, the settings were checked when this object was made."""
        return placeholder_problems(arguments)

    async def run(self, task: str) -> TeamOutcome:
        """Run the team from Python, outside a workflow; raises ``ActionFailed`` if it fails."""
        return TeamOutcome.model_validate(await run_locally(self, {"task": task}))

    async def _invoke(self, call: ActionCall, ctx: Any) -> ActionResult:
        problem = missing_task(call)
        if problem is not None:
            return problem
        unknown = unknown_name_failure(call, ctx, f"team '{self.name}'", self.named())
        if unknown is not None:  # before anyone speaks, and before a pool is ever needed
            return unknown
        task = str(call.arguments["task"])
        context = call.arguments.get("context")
        context = context if isinstance(context, dict) else {}
        depth = int(context.get("team_depth", 0)) if "mode" in context else 0
        spans = TeamSpans(self.name, call, ctx, self.tracer)
        caller = MemberCaller(ctx, call, spans, self.turn_timeout, owner=self.name)
        members = list(self.members)
        if self.formation is not None:
            members = [*members, *await self.formation.form()]
        if members and (depth >= self.settings.team_up_depth or context.get("mode") == "vote"):
            return await self._lead_alone(call, members[0], caller, depth)
        goal = _goal(task, context)
        async with conversation_channel(self.bus, self.name, call.call_id) as channel:
            conversation = Conversation(
                self.settings, members, goal, depth=depth, channel=channel, caller=caller
            )
            outcome = await conversation.run()
        if caller.asked is not None:
            return caller.stopped(call.call_id, self.name)
        if conversation.misnamed:
            return ActionResult.failure(
                call.call_id, "UnknownAction", f"team '{self.name}': {conversation.misnamed}"
            )
        return ActionResult.success(call.call_id, outcome.model_dump(mode="json"), caller.usage)

    async def _lead_alone(
        self, call: ActionCall, lead: TeamMember, caller: MemberCaller, depth: int
    ) -> ActionResult:
        """At the depth limit (or asked to vote) the team's lead answers for it, alone."""
        started = time.time()
        context = dict(call.arguments.get("context") or {})
        result = await caller.call(
            lead, context, parent_id=call.call_id, prompt=call.arguments["task"]
        )
        caller.spans.record(
            f"{self.name}: {lead.name} answers alone",
            kind="team",
            start=started,
            attributes={
                "weft.team": self.name,
                "weft.team.depth": depth,
                "weft.team.depth_limit": self.settings.team_up_depth,
                "weft.team.lead": lead.name,
                "weft.team.message": "lead_alone",
            },
        )
        if caller.asked is not None:
            return caller.stopped(call.call_id, self.name)
        if not result.ok:
            return result.model_copy(update={"call_id": call.call_id})
        return ActionResult.success(call.call_id, result.output, caller.usage)


def _selector(owner: str, selector: SpeakerSelector | Action | str) -> SpeakerSelector:
    if isinstance(selector, str):
        if selector.startswith("llm:"):
            if not selector[4:].strip():
                raise ArgumentError(
                    "selector", f"{owner}: speaker rule 'llm:' names no action: use llm:<action>"
                )
            return LLMSelector(selector[4:].strip())
        if selector != "round_robin":
            hint = _selector_hint(selector)
            raise ArgumentError(
                "selector",
                f"{owner}: unknown speaker rule {selector!r}{hint}: use 'round_robin', "
                "'llm:<action>' (an action that picks the next speaker) or an action",
            )
        return RoundRobin()
    if hasattr(selector, "choose"):
        return selector  # type: ignore[return-value]
    return LLMSelector(selector)


def _selector_hint(selector: str) -> str:
    """What a wrong speaker rule most likely meant: ``round_robin`` misspelt, or an action
    (a CrewAI-style manager, ``selector: manager``) named without its ``llm:`` prefix."""
    hint = did_you_mean(selector, ["round_robin"], n=1, cutoff=0.5)
    if hint:
        return hint
    name = selector.strip()
    if name.lower() == "llm":
        return " (did you mean 'llm:<action>', naming the action that picks?)"
    if name and all(c.isalnum() or c in "_.-" for c in name):
        return f" (did you mean 'llm:{name}'?)"
    return ""


def _goal(task: str, context: dict[str, Any]) -> str:
    """What a team converses about: its task, or (as a member) what it was asked."""
    mode = context.get("mode")
    if mode == "task" and isinstance(context.get("task"), dict):
        return str(context["task"].get("task", task))
    if mode == "turn":
        said = [m.get("text", "") for m in context.get("history", []) if m.get("text")]
        latest = f" Latest in the outer team: {said[-1]}" if said else ""
        return f"{context.get('goal', task)} (for team {context.get('team')}).{latest}"
    return task
