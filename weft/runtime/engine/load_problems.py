"""Every problem of a workflow some of whose ``actions:`` entries could not be loaded.

Loading a file's ``actions:`` (importing ``python:`` refs, compiling
``workflow:`` files, building ``llm:`` agents) tries every entry: one that
fails is a problem at its line, and the workflow is still checked, in the same
run, with the entries that loaded: the graph (unless already checked), the
LLM agents' ``tools`` and ``handoffs``, and the nodes' actions and arguments
(``Partial.action_problems``, the filter the loader's salvage uses, so the
two stages leave out the same follow-ons). What only follows from an entry
that failed is left out: a node naming it is not told its action is unknown,
and its arguments are not judged (there is no schema to judge them by); an
agent's tool naming it is not unknown either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from weft.protocols import ActionSpec, DefinitionError, WorkflowSpec
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.llm_actions import check_llm_handoffs, check_llm_tools
from weft.workflows import Partial
from weft.workflows.graph import Problem, in_file_order
from weft.workflows.validate import collect_problems

__all__ = ["load_problems", "unloaded_names"]


class _Unloaded:
    """Stands for an action that could not be loaded, so that checks by name find it.
    Never called: a workflow with one fails to compile."""

    def __init__(self, name: str) -> None:
        self.spec = ActionSpec(name=name)

    async def invoke(self, call: Any, ctx: Any) -> Any:  # pragma: no cover - never compiled
        raise RuntimeError(f"action '{self.spec.name}' could not be loaded")


def _named(spec: WorkflowSpec) -> Iterator[str]:
    """Every action name the workflow writes: node actions, critics, concurrency keys,
    LLM agents' tools and handoffs."""
    for node in spec.nodes.values():
        if node.action:
            yield node.action
        yield from (edge.critic for edge in node.after if edge.critic is not None)
    yield from spec.action_concurrency
    for ref in spec.actions.values():
        if ref.llm is not None:
            yield from (*ref.llm.tools, *ref.llm.handoffs)


def unloaded_names(spec: WorkflowSpec, entries: Iterable[str]) -> set[str]:
    """The action names the ``actions:`` entries not loaded stand for: their own and,
    for an MCP server's, every ``{entry}.x`` the workflow names (its tools are unknown)."""
    names = set(entries)
    servers = tuple(
        f"{name}." for name in names if name in spec.actions and spec.actions[name].mcp is not None
    )
    if servers:
        names.update(name for name in _named(spec) if name.startswith(servers))
    return names


def load_problems(
    spec: WorkflowSpec,
    registry: ActionTable,
    problems: list[Problem],
    entries: Iterable[str],
    partial: Partial | None = None,
) -> DefinitionError:
    """The error listing ``problems`` (of loading, and of the fields when ``partial`` is
    given) with those of the checks that depend on the actions, in file order.

    ``entries`` are the ``actions:`` entries not loaded; ``registry`` the actions
    that were (it is not changed). With ``partial`` (a definition whose fields
    failed) its graph was checked with its fields; else the graph is checked here.
    """
    problems = list(problems)
    names = unloaded_names(spec, entries)
    if partial is not None:  # the entries that failed their fields are not loaded either
        names |= partial.lost_actions
    table = registry.copy()
    for name in sorted(names):
        if name not in table:
            table.register(_Unloaded(name), name=name)
    for check in (check_llm_tools, check_llm_handoffs):
        try:
            check(spec, table)
        except DefinitionError as exc:
            problems.extend(exc.problems)
    if partial is None:
        problems.extend(collect_problems(spec, None))
        partial = Partial(spec)
    problems.extend(partial.action_problems(table.specs(), names))
    # the file's own problems first, then those of the files it includes
    own = spec.source.file if spec.source is not None else None
    ordered = in_file_order(problems)
    return DefinitionError(sorted(ordered, key=lambda p: p[1].file not in (own, None)))
