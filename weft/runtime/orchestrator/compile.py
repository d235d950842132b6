"""A routed plan becomes an ordinary weft workflow.

One node per subtask (named by its id), ``after`` = its dependencies, the
node's action = the routed action; then one ``answer`` node after every
subtask runs the aggregator. Independent subtasks therefore run in parallel
on the dataflow executor, and the run is journaled and traced like any other.

The task and the subtask descriptions travel as workflow *inputs* and are
referenced from the nodes (``${inputs.subtasks.ID}``), never pasted into the
templates: text from a user or an LLM may contain ``${...}`` and must not be
evaluated as a reference.

How a subtask becomes arguments depends on the action's input schema:

- it has a ``task`` parameter (LLM agents, teams): ``{task: description}``,
  plus ``context: {dep_id: dep_output, ...}`` when the subtask has
  dependencies and the action accepts ``context``;
- it has one parameter (or one required parameter), e.g. a tool
  ``word_count(text)``: the dependency's output (several dependencies: their
  outputs joined by blank lines), or the description when it has none;
- anything else cannot take a subtask, and is not offered to the router.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from weft.protocols import Action, ActionSpec
from weft.runtime.orchestrator.aggregate import takes_sinks
from weft.runtime.orchestrator.plan import Plan, Subtask
from weft.workflows import Workflow

ANSWER_NODE = "answer"


def _parameter(spec: ActionSpec) -> str | None:
    """The single parameter a subtask's text can go to, if the action has one."""
    properties = spec.input_schema.get("properties") or {}
    required = list(spec.input_schema.get("required") or [])
    if len(required) == 1:
        return str(required[0])
    if not required and len(properties) == 1:
        return str(next(iter(properties)))
    return None


def _takes_task(spec: ActionSpec) -> bool:
    properties = spec.input_schema.get("properties") or {}
    required = set(spec.input_schema.get("required") or [])
    return "task" in properties and required <= {"task", "context"}


def accepts_subtask(spec: ActionSpec) -> bool:
    """True when a subtask can be turned into arguments for this action."""
    return _takes_task(spec) or _parameter(spec) is not None


def takes_no_subtask(specs: Sequence[ActionSpec]) -> str:
    """Why each of ``specs`` cannot take a subtask (``accepts_subtask`` is false), for the
    error of an ask with no agent left: ``summariser takes text, words, summary (none
    required)``, so the user sees which of their actions were set aside and what to change."""
    reasons = []
    for spec in specs:
        properties = list(spec.input_schema.get("properties") or {})
        required = list(spec.input_schema.get("required") or [])
        if required:
            why = f"{', '.join(required)} required"
        else:
            why = "none required" if properties else "no parameters"
        reasons.append(f"{spec.name} takes {', '.join(properties) or 'nothing'} ({why})")
    return "; ".join(reasons)


def subtask_text(subtask: Subtask) -> str:
    """The description as the agent reads it (with the expected output, if given)."""
    if subtask.expected_output.strip():
        return f"{subtask.description}\n\nExpected output: {subtask.expected_output}"
    return subtask.description


def subtask_arguments(
    subtask: Subtask, spec: ActionSpec, refs: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The node's ``with`` for ``subtask`` on action ``spec`` (see the module docstring).

    ``refs`` maps a dependency's id to where its result is read (a channel's synthesis).
    """
    description = "${inputs.subtasks." + subtask.id + "}"
    deps = [(refs or {}).get(dep, dep) for dep in subtask.depends_on]
    if _takes_task(spec):
        arguments: dict[str, Any] = {"task": description}
        properties = spec.input_schema.get("properties") or {}
        open_schema = spec.input_schema.get("additionalProperties") is not False
        if deps and ("context" in properties or open_schema):
            arguments["context"] = {
                dep: "${" + ref + "}" for dep, ref in zip(subtask.depends_on, deps, strict=True)
            }
        return arguments
    parameter = _parameter(spec)
    if parameter is None:
        raise ValueError(f"action '{spec.name}' cannot take a subtask (see accepts_subtask)")
    if not deps:
        return {parameter: description}
    if len(deps) == 1:
        return {parameter: "${" + deps[0] + "}"}
    return {parameter: "\n\n".join("${" + dep + "}" for dep in deps)}


def sinks_of(plan: Plan) -> list[str]:
    """The subtasks no other depends on, in plan order: where the plan ends."""
    needed = {dep for s in plan.subtasks for dep in s.depends_on}
    return [s.id for s in plan.subtasks if s.id not in needed]


def plan_inputs(task: str, plan: Plan) -> dict[str, Any]:
    """The workflow inputs of a plan run: the task and every subtask's text."""
    return {"task": task, "subtasks": {s.id: subtask_text(s) for s in plan.subtasks}}


def cluster_actions(
    channels: Sequence[Sequence[str]], routes: Mapping[str, str], rounds: int
) -> list[tuple[list[str], Action]]:
    """The cluster action of each FoA channel (its subtask ids, first id names it), as
    ``plan_to_workflow`` takes them: built one way for an ask and for its resume."""
    from weft.runtime.teams.cluster import Cluster

    return [
        (list(ids), Cluster(f"channel_{ids[0]}", [routes[i] for i in ids], rounds=rounds))
        for ids in channels
    ]


def plan_to_workflow(
    plan: Plan,
    routes: Mapping[str, str],
    specs: Mapping[str, ActionSpec],
    *,
    aggregator: str | ActionSpec,
    name: str = "ask",
    description: str = "",
    channels: Sequence[tuple[Sequence[str], Action]] = (),
) -> Workflow:
    """The workflow for a validated, routed plan; run it with ``plan_inputs(task, plan)``.

    ``aggregator`` is the answer node's action, by name or spec: an aggregator whose
    schema declares ``sinks`` (``LastAggregator``) is given the plan's sinks too
    (only then, so the graph of an ask with another aggregator is what it was).

    ``channels`` (FoA clusters: subtask ids and the cluster action that runs
    them together) replace their subtasks' nodes with one node each, named
    after the action; what depended on a member reads the channel's synthesis.
    """
    wf = Workflow(name, description=description)
    wf.input("task", type="string", required=True, description="The task as asked.")
    wf.input("subtasks", type="object", required=True, description="Subtask id -> text.")
    by_id = {s.id: s for s in plan.subtasks}
    refs = {i: f"{action.spec.name}.synthesis" for ids, action in channels for i in ids}
    node_of = {i: ref.split(".")[0] for i, ref in refs.items()}
    for ids, action in channels:
        wf.node(
            action.spec.name,
            action,
            with_={
                "task": "${inputs.task}",
                "subtasks": ["${inputs.subtasks." + i + "}" for i in ids],
            },
            after=sorted({node_of.get(d, d) for d in by_id[ids[0]].depends_on}),
            description="; ".join(by_id[i].description for i in ids),
        )
    for subtask in plan.subtasks:
        if subtask.id in refs:
            continue
        action_name = routes[subtask.id]
        wf.node(
            subtask.id,
            action_name,
            with_=subtask_arguments(subtask, specs[action_name], refs),
            after=list(dict.fromkeys(node_of.get(d, d) for d in subtask.depends_on)),
            description=subtask.description,
        )
    answer_with: dict[str, Any] = {
        "task": "${inputs.task}",
        "results": {s.id: "${" + refs.get(s.id, s.id) + "}" for s in plan.subtasks},
        "subtasks": "${inputs.subtasks}",
    }
    if isinstance(aggregator, ActionSpec) and takes_sinks(aggregator):
        answer_with["sinks"] = sinks_of(plan)  # ids are node names: no ``${`` in them
    wf.node(
        ANSWER_NODE,
        aggregator.name if isinstance(aggregator, ActionSpec) else aggregator,
        with_=answer_with,
        after=list(dict.fromkeys(node_of.get(s.id, s.id) for s in plan.subtasks)),
        description="Combine the subtask results into the answer.",
    )
    wf.output(ANSWER_NODE, "${" + ANSWER_NODE + "}")
    return wf
