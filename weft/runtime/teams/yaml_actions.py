"""A team and a cluster configured by their arguments, so a YAML workflow can use them.

Register them as actions (``{python: "weft.runtime.teams:team_action"}``) and
give the members by name in a node's ``with:``; members are the workflow's
own actions (or remote agents under ``weft run --broker``), called through
the run's registry::

    actions:
      team: {python: "weft.runtime.teams:team_action"}
      planner: {python: "agents:planner"}
    nodes:
      discuss:
        action: team
        with: {task: "${inputs.task}", members: [planner, coder, tester], max_turns: 12}

``team_action`` takes ``task``, ``members``, and optionally ``name``,
``pools`` (member -> replacement names), ``max_turns``, ``window``,
``team_up_depth``, ``selector`` (``round_robin`` or ``llm:<action>``),
``turn_timeout``. ``cluster_action`` takes ``task``, ``members``, and
optionally ``subtasks``, ``rounds``, ``synthesizer``, ``name``. Both take
``broker`` (an MQTT URL) and ``namespace``: the conversation's topic is then
on that broker, where anyone may watch it.

A bad argument fails the node before any member is called, as a
``ValidationError`` (or ``UnknownAction`` for a name the run has no action
for) whose message starts with the file, line and node of the ``with:``
entry (``arguments.located``). A bad literal argument is found earlier still,
by ``weft validate`` and before the run starts (``argument_problems``, by the
same checks: ``literal_checks``); the call's own check is for the values a
template gives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from weft.protocols import ActionCall, ActionKind, ActionResult, ActionSpec
from weft.protocols.argument_checks import ArgumentProblem
from weft.runtime.teams.arguments import ArgumentError, located
from weft.runtime.teams.cluster import Cluster
from weft.runtime.teams.literal_checks import (
    placeholder_problems,
    setting_problems,
    subtask_problems,
)
from weft.runtime.teams.member import TeamMember
from weft.runtime.teams.team import Team

#: The arguments that name actions the built team or cluster calls (``referenced_actions``).
_NAMING_FIELDS = ("members", "pools", "selector", "synthesizer")

_NAMES = {"type": "array", "items": {"type": "string"}, "minItems": 1}
_BROKER = {
    "broker": {"type": "string", "description": "MQTT URL: the conversation's topic is there."},
    "namespace": {"type": "string", "description": "Topic namespace on that broker."},
}


async def _on_bus(
    action: Team | Cluster, args: dict[str, Any], call: ActionCall, ctx: Any
) -> ActionResult:
    """Run ``action`` with ``call`` on an MQTT bus when ``args`` name a ``broker``.

    Without one the conversation runs on a private in-process bus. A broker
    that cannot be reached fails the call with ``BusError``, as any bus does.
    """
    url = args.get("broker")
    if not url:
        return await action.invoke(call, ctx)
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus  # paho only when a broker is named

    async with MqttBus(str(url), namespace=str(args.get("namespace") or "default")) as bus:
        action.bus = bus
        return await action.invoke(call, ctx)


def _member_names(call: ActionCall, owner: str) -> list[str]:
    """The ``members`` argument as names; ``ArgumentError`` when it lists none."""
    members = call.arguments.get("members")
    if isinstance(members, list) and members:
        return [str(m) for m in members]
    raise ArgumentError(
        "members", f"{owner}: argument 'members' must list member names, not {members!r}"
    )


def _spec(name: str, description: str, properties: dict[str, Any]) -> ActionSpec:
    """A team-kind spec taking ``task`` and ``members``, ``properties``, ``name`` and the broker."""
    return ActionSpec(
        name=name,
        kind=ActionKind.TEAM,
        description=description,
        input_schema={
            "type": "object",
            "properties": {
                "task": {"type": "string"},
                "members": _NAMES,
                **properties,
                "name": {"type": "string"},
                **_BROKER,
            },
            "required": ["task", "members"],
            # a key of another framework's (CrewAI's ``process``, ``manager_llm``) or a typo
            # would be ignored silently: refused instead, by ``weft validate`` at its line
            "additionalProperties": False,
        },
    )


class _FromArguments(ABC):
    """An action that builds a ``Team`` or a ``Cluster`` per call and runs it there.

    A bad argument (no members, a value the constructor refuses) is a
    ``ValidationError`` result; the built action gets only the arguments its
    own call takes (``build``'s second value).
    """

    spec: ActionSpec

    #: What the built action is called in messages: ``team`` or ``cluster``.
    kind: str

    @abstractmethod
    def build(
        self, call: ActionCall, name: str, members: list[str]
    ) -> tuple[Team | Cluster, dict[str, Any]]:
        """The action to run, named ``name``, and the arguments of its call."""

    async def invoke(self, call: ActionCall, ctx: Any) -> ActionResult:
        name = str(call.arguments.get("name") or call.node or self.spec.name).replace("/", ".")
        try:
            members = _member_names(call, f"{self.kind} '{name}'")
            action, inner = self.build(call, name, members)
        except ArgumentError as exc:
            message = located(ctx, exc.path, exc.field, str(exc))
            return ActionResult.failure(call.call_id, "ValidationError", message, field=exc.field)
        except ValueError as exc:
            return ActionResult.failure(call.call_id, "ValidationError", str(exc))
        return await _on_bus(
            action, call.arguments, call.model_copy(update={"arguments": inner}), ctx
        )

    #: Arguments checked against the members: unchecked before the run while those are a template.
    needs_members: tuple[str, ...] = ()

    def argument_problems(self, arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
        """What ``weft validate`` reports about a node's literal ``with:`` (``ChecksArguments``):
        every setting the call would refuse, and ``{name}`` placeholders (warnings)."""
        found = setting_problems(self.build, self.kind, arguments, needs_members=self.needs_members)
        return [*found, *self.more_problems(arguments), *placeholder_problems(arguments)]

    def more_problems(self, arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
        """Checks the call makes outside ``build`` (a cluster's subtasks per member)."""
        return []

    def referenced_actions(self, arguments: Mapping[str, Any]) -> list[str]:
        """The names the team or cluster built from ``arguments`` calls (``ReferencesActions``).

        Read before the run (``weft run --broker`` fetches them from the
        broker), so only the naming fields are used, through the same
        ``build`` as a call; arguments that do not build yet (a template, a
        mistake) fall back to the members alone, then to nothing: the call
        reports them when it runs.
        """
        naming = {k: arguments[k] for k in _NAMING_FIELDS if k in arguments}
        for given in (naming, {"members": arguments.get("members")}):
            call = ActionCall(action=self.spec.name, arguments=given)
            try:
                action, _inner = self.build(call, self.spec.name, _member_names(call, self.kind))
            except (ArgumentError, ValueError):
                continue
            return [named.name for named in action.named()]
        return []


class TeamFromArguments(_FromArguments):
    """The ``team_action``: a ``Team`` built per call from its arguments."""

    kind = "team"
    needs_members = ("pools",)
    spec = _spec(
        "team",
        "An IoA team of the named members that converses until it concludes.",
        {
            "pools": {"type": "object", "additionalProperties": _NAMES},
            "max_turns": {"type": "integer", "minimum": 1},
            "window": {"type": "integer", "minimum": 1},
            "team_up_depth": {"type": "integer", "minimum": 1},
            "selector": {"type": "string"},
            "turn_timeout": {"type": "number"},
            "context": {"type": "object"},
        },
    )

    def build(self, call: ActionCall, name: str, members: list[str]) -> tuple[Team, dict[str, Any]]:
        args = call.arguments
        pools = args.get("pools") or {}
        strays = sorted(set(pools) - set(members))
        if strays:
            raise ArgumentError(
                "pools",
                f"team '{name}': argument 'pools' names {', '.join(map(repr, strays))}, not a "
                f"member of {members}: a pool replaces a member, so its key must be one",
                ("pools", strays[0]),
            )
        for member, spares in pools.items():
            if not isinstance(spares, list):
                raise ArgumentError(
                    f"pools.{member}",
                    f"team '{name}': pools.{member} must list the names that replace "
                    f"{member} ([{spares}]), not {spares!r}",
                    ("pools", member),
                )
        seats = [TeamMember(name=n, pool=[str(p) for p in pools.get(n, [])]) for n in members]
        team = Team(
            name,
            seats,
            max_turns=args.get("max_turns", 20),
            window=args.get("window", 20),
            team_up_depth=args.get("team_up_depth", 2),
            selector=str(args.get("selector", "round_robin")),
            turn_timeout=args.get("turn_timeout"),
        )
        return team, {"task": args.get("task"), "context": args.get("context")}


class ClusterFromArguments(_FromArguments):
    """The ``cluster_action``: a ``Cluster`` built per call from its arguments."""

    kind = "cluster"
    spec = _spec(
        "cluster",
        "Named members refine each other's answers for k rounds, then synthesise.",
        {
            "subtasks": {"type": "array", "items": {"type": "string"}},
            "rounds": {"type": "integer", "minimum": 0},
            "synthesizer": {"type": "string"},
            "context": {},
        },
    )

    def build(
        self, call: ActionCall, name: str, members: list[str]
    ) -> tuple[Cluster, dict[str, Any]]:
        args = call.arguments
        cluster = Cluster(
            name,
            list(members),
            rounds=args.get("rounds", 2),
            synthesizer=args.get("synthesizer"),
        )
        return cluster, {k: args[k] for k in ("task", "subtasks", "context") if k in args}

    def more_problems(self, arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
        return subtask_problems(arguments)


team_action = TeamFromArguments()
cluster_action = ClusterFromArguments()
