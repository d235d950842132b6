"""``Cluster``: a Federation-of-Agents channel: k rounds of mutual refinement, one synthesis.

Agents that work on similar subtasks gain from reading each other. A cluster
is an action over one channel (a team topic): every member first drafts an
answer to its subtask (all at once), then for exactly ``rounds`` rounds every
member refines its own answer having read its peers' latest, and finally one
synthesis step (the ``synthesizer``, else the first member) combines them.
So a cluster of m members sends m drafts, exactly m * k ``refinement``
messages and one ``synthesis`` on its topic, each a ``team`` span.

Members follow the team member protocol (``{task, context}``; see
``member.py``) with ``context.mode`` ``draft`` (``subtask``), ``refine``
(``round``, ``own``, ``peers``: the others' latest answers) or
``synthesize`` (``outputs``: every member's final answer). A member answers
with anything; a ``MemberReply``-shaped dict gives its ``text``. A member
that fails keeps its previous answer (and the failure is on its message), so
one bad round does not lose the channel's work. A member that asks a person
(``ctx.ask``) is no failure: the cluster stops after that round and its call
ends ``needs_input`` with the question, as a team's does (``weft.agents.answering``);
``weft resume --answer NODE=VALUE`` runs the cluster again with the answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from weft.protocols import Action, ActionCall, ActionKind, ActionResult, ActionSpec
from weft.protocols.argument_checks import ArgumentProblem
from weft.protocols.errors import ActionFailed
from weft.protocols.teams import MessageType, TeamMessage, TeamState
from weft.runtime.bus.base import Bus
from weft.runtime.teams.arguments import ArgumentError, at_least, located, positive_seconds
from weft.runtime.teams.channel import TeamChannel, conversation_channel
from weft.runtime.teams.literal_checks import placeholder_problems
from weft.runtime.teams.local_context import SpecHolder, missing_task, run_locally
from weft.runtime.teams.member import MemberCaller, TeamMember, bundled_of, task_output
from weft.runtime.teams.names import Named, seat_names, unknown_name_failure
from weft.runtime.teams.state_machine import FlowControl
from weft.runtime.teams.team_spans import TeamSpans, post_moving
from weft.runtime.tracing.spans import Tracer, new_span_id

CLUSTER_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "task": {"type": "string", "description": "The task all subtasks serve."},
        "subtasks": {
            "type": "array",
            "items": {"type": "string"},
            "description": "One subtask per member, in member order; omitted: all do 'task'.",
        },
        "context": {"description": "Material to work from."},
    },
    "required": ["task"],
}


class Cluster(SpecHolder):
    """A FoA channel of ``members`` refining each other for ``rounds`` rounds, then synthesising."""

    def __init__(
        self,
        name: str,
        members: Sequence[Action | str],
        *,
        rounds: int = 2,
        synthesizer: Action | str | None = None,
        description: str = "",
        member_timeout: float | None = None,
        bus: Bus | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        owner = f"cluster '{name}'"
        at_least(owner, "rounds", rounds, 0)
        positive_seconds(owner, "member_timeout", member_timeout)
        if not members:
            raise ArgumentError("members", f"{owner} needs members")
        self.members = [TeamMember.of(m) for m in members]
        self.rounds = rounds
        self.synthesizer = TeamMember.of(synthesizer) if synthesizer is not None else None
        self.member_timeout = member_timeout
        self.bus = bus
        self.tracer = tracer
        summary = description or f"{len(self.members)} agents refine each other for {rounds} rounds"
        self._spec = ActionSpec(
            name=name,
            kind=ActionKind.TEAM,
            description=summary,
            input_schema=CLUSTER_INPUT_SCHEMA,
        )

    async def run(self, task: str, subtasks: Sequence[str] | None = None) -> dict[str, Any]:
        """Run the cluster from Python; raises ``ActionFailed`` if it fails."""
        arguments: dict[str, Any] = {"task": task}
        if subtasks is not None:
            arguments["subtasks"] = list(subtasks)
        output: dict[str, Any] = await run_locally(self, arguments)
        return output

    @property
    def bundled_actions(self) -> list[Action]:
        """The tools its members given as objects bring (``bundled_of``)."""
        return bundled_of(self.members)

    def named(self) -> list[Named]:
        """The members and synthesizer given by name: the run must have actions of those names."""
        named = seat_names(self.members)
        if self.synthesizer is not None and self.synthesizer.action is None:
            named.append(
                Named(self.synthesizer.name, "synthesizer", "synthesizer", ("synthesizer",))
            )
        return named

    def referenced_actions(self, arguments: Mapping[str, Any]) -> list[str]:
        """The names of ``named``, whatever the call's arguments (``ReferencesActions``)."""
        return [named.name for named in self.named()]

    def argument_problems(self, arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
        """``{name}`` in the text a node's ``with:`` sends (``ChecksArguments``): warnings
        only, the settings were checked when this object was made."""
        return placeholder_problems(arguments)

    async def invoke(self, call: ActionCall, ctx: Any) -> ActionResult:
        problem = missing_task(call)
        if problem is not None:
            return problem
        task = str(call.arguments["task"])
        subtasks = call.arguments.get("subtasks") or [task] * len(self.members)
        if len(subtasks) != len(self.members):
            message = (
                f"cluster '{self.name}' has {len(self.members)} members but got "
                f"{len(subtasks)} subtasks; give one per member"
            )
            return ActionResult.failure(
                call.call_id,
                "ValidationError",
                located(ctx, ("subtasks",), "subtasks", message),
                field="subtasks",
            )
        unknown = unknown_name_failure(call, ctx, f"cluster '{self.name}'", self.named())
        if unknown is not None:  # before the first draft: a typo must not cost every round
            return unknown
        spans = TeamSpans(self.name, call, ctx, self.tracer)
        caller = MemberCaller(ctx, call, spans, self.member_timeout, owner=self.name)
        material = call.arguments.get("context")
        async with conversation_channel(self.bus, self.name, call.call_id) as channel:
            run = _ClusterRun(self, task, [str(s) for s in subtasks], channel, caller, material)
            output = await run.run()
        if caller.asked is not None:  # answered by `weft resume --answer NODE=...`
            return caller.stopped(call.call_id, self.name)
        return ActionResult.success(call.call_id, output, caller.usage)


class _ClusterRun:
    """One cluster call: drafts, k refinement rounds, synthesis, all on the channel."""

    def __init__(
        self,
        cluster: Cluster,
        task: str,
        subtasks: list[str],
        channel: TeamChannel,
        caller: MemberCaller,
        material: Any,
    ) -> None:
        self.cluster = cluster
        self.task = task
        self.subtasks = subtasks
        self.channel = channel
        self.caller = caller
        self.material = material
        self.flow = FlowControl()
        self.outputs: list[Any] = [None] * len(cluster.members)

    async def run(self) -> dict[str, Any]:
        names = [m.name for m in self.cluster.members]
        await self._post(
            MessageType.TEAM_UP,
            self.cluster.name,
            TeamState.DISCUSSION,
            text=self.task,
            data={"members": names, "rounds": self.cluster.rounds},
        )
        await self._round(MessageType.DRAFT, 0)
        for number in range(1, self.cluster.rounds + 1):
            if self.caller.asked is not None:  # a person must answer first: no more rounds
                return {}
            await self._round(MessageType.REFINEMENT, number)
        if self.caller.asked is not None:
            return {}
        synthesizer = self.cluster.synthesizer or self.cluster.members[0]
        outputs = [
            {"member": n, "subtask": s, "output": o}
            for n, s, o in zip(names, self.subtasks, self.outputs, strict=True)
        ]
        context = self._context(synthesizer.name, "synthesize", outputs=outputs)
        span_id, started = new_span_id(), time.time()
        result = await self.caller.call(
            synthesizer, context, parent_id=span_id, prompt=_synthesis_prompt(self.task, outputs)
        )
        if self.caller.asked is not None:  # the synthesizer asked: the cluster stops on it
            return {}
        synthesis = task_output(result.output) if result.ok else None
        await self._post(
            MessageType.SYNTHESIS,
            synthesizer.name,
            TeamState.CONCLUSION,
            output=synthesis,
            text=_text(synthesis),
            data={"ok": result.ok},
            span_id=span_id,
            started=started,
        )
        if not result.ok:
            message = result.error.message if result.error else "failed"
            raise ActionFailed(f"cluster '{self.cluster.name}': synthesis failed: {message}")
        return {
            "synthesis": synthesis,
            "outputs": dict(zip(_output_keys(names), self.outputs, strict=True)),
            "rounds": self.cluster.rounds,
            "messages": len(self.channel.log),
            "conversation": self.channel.conversation,
        }

    async def _round(self, kind: MessageType, number: int) -> None:
        """Every member at once; the round's messages are posted in member order."""
        calls = [
            self._member(i, member, kind, number) for i, member in enumerate(self.cluster.members)
        ]
        answers = await asyncio.gather(*calls)
        for i, (result, span_id, started) in enumerate(answers):
            member = self.cluster.members[i]
            if result.ok:
                self.outputs[i] = task_output(result.output)
            await self._post(
                kind,
                member.name,
                TeamState.DISCUSSION,
                output=self.outputs[i],
                text=_text(self.outputs[i]),
                data={"round": number, "ok": result.ok},
                span_id=span_id,
                started=started,
            )

    async def _member(
        self, index: int, member: TeamMember, kind: MessageType, number: int
    ) -> tuple[ActionResult, str, float]:
        span_id, started = new_span_id(), time.time()
        if kind is MessageType.DRAFT:
            context = self._context(member.name, "draft", subtask=self.subtasks[index])
            prompt = f"{self.task}\n\nYour part: {self.subtasks[index]}"
        else:
            peers = [
                {"member": m.name, "output": self.outputs[j]}
                for j, m in enumerate(self.cluster.members)
                if j != index
            ]
            context = self._context(
                member.name,
                "refine",
                subtask=self.subtasks[index],
                round=number,
                own=self.outputs[index],
                peers=peers,
            )
            prompt = _refine_prompt(self.task, self.subtasks[index], self.outputs[index], peers)
        result = await self.caller.call(member, context, parent_id=span_id, prompt=prompt)
        return result, span_id, started

    def _context(self, you: str, mode: str, **extra: Any) -> dict[str, Any]:
        return {
            "mode": mode,
            "team": self.cluster.name,
            "goal": self.task,
            "you": you,
            "context": self.material,
            **extra,
        }

    async def _post(
        self, kind: MessageType, sender: str, state: TeamState, **fields: Any
    ) -> TeamMessage:
        return await post_moving(
            self.channel, self.flow, self.caller.spans, kind, sender, state, **fields
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _refine_prompt(task: str, subtask: str, own: Any, peers: list[dict[str, Any]]) -> str:
    shown = "\n".join(f"- {p['member']}: {_text(p['output'])}" for p in peers)
    return (
        f"{task}\n\nYour part: {subtask}\nYour current answer: {_text(own)}\n\n"
        f"Your peers on similar parts answered:\n{shown}\n\n"
        "Improve your answer using what is useful in theirs; answer with the improved version."
    )


def _output_keys(names: list[str]) -> list[str]:
    """The keys of a cluster's ``outputs``: each member's name, and ``NAME#2``, ``NAME#3``...
    for a member that holds several seats (a plan's channel often routes every subtask to
    one agent), so that no seat's answer overwrites another's."""
    seen: dict[str, int] = {}
    keys = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return keys


def _synthesis_prompt(task: str, outputs: list[dict[str, Any]]) -> str:
    shown = "\n".join(f"- {o['member']} ({o['subtask']}): {_text(o['output'])}" for o in outputs)
    return f"{task}\n\nCombine these answers into one:\n{shown}"
