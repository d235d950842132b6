"""What a node's own action finds wrong in its literal ``with:``, before the run starts.

The JSON schema check (``weft.workflows.validate``) says what a schema can
say; an action that knows more (a team: ``selector: roundrobin`` is no speaker
rule, a ``pools`` key is no member) answers ``argument_problems``
(``weft.protocols.argument_checks``). ``check_node_arguments`` asks every
compiled node, so ``weft validate``, ``weft run`` and ``run_workflow`` refuse
those mistakes at their line before any node runs, instead of the node failing
after the nodes before it had run (and its resume needing ``--force``).

Warnings (``{topic}`` where ``${inputs.topic}`` was likely meant) do not stop
anything: they are returned as lines (``PreparedWorkflow.warnings``) that
``weft validate`` prints and a run logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from weft.protocols import WorkflowSpec, locate
from weft.protocols.argument_checks import argument_problems_of
from weft.protocols.errors import DefinitionError, Location
from weft.protocols.references import referenced_actions_of
from weft.runtime.engine.compiled import CompiledNode

_log = logging.getLogger("weft.validate")

#: ``{name}`` not written ``${name}``: another template language's placeholder.
_PLACEHOLDER_RE = re.compile(r"(?<![$\w{]){([A-Za-z_]\w*(?:\.\w+)*)}(?!})")


def check_node_arguments(spec: WorkflowSpec, nodes: Mapping[str, CompiledNode]) -> tuple[str, ...]:
    """Raise ``DefinitionError`` with every error the nodes' actions find; return the warnings.

    Each warning is one line, ``FILE:LINE:COL, node 'N', field 'with.F': message``, and
    is logged (logger ``weft.validate``, WARNING: on stderr even with logging not set up).
    """
    errors: list[tuple[str, Location]] = []
    warnings: list[tuple[str, Location]] = []
    for name, node in nodes.items():
        for problem in argument_problems_of(node.action, node.spec.with_):
            where = locate(
                spec.source,
                ("nodes", name, "with", *problem.path),
                node=name,
                field_name=f"with.{problem.field}",
            )
            (warnings if problem.warning else errors).append((problem.message, where))
    warnings += _instruction_warnings(spec, nodes)
    if errors:
        raise DefinitionError(errors)
    lines = tuple(f"{where}: {message}" for message, where in warnings)
    for line in lines:  # maybe the user's mistake: said before the run, never fatal
        _log.warning("warning: %s", line)
    return lines


def _instruction_warnings(
    spec: WorkflowSpec, nodes: Mapping[str, CompiledNode]
) -> list[tuple[str, Location]]:
    """``{name}`` in the instructions of an ``llm:`` action that a node calls by name (a
    team's member): instructions are sent as written, so the value never gets there.
    Once per action, at the first node that names it."""
    seen: set[str] = set()
    found: list[tuple[str, Location]] = []
    for name, node in nodes.items():
        for member in referenced_actions_of(node.action, node.spec.with_):
            ref = spec.actions.get(member)
            if member in seen or ref is None or ref.llm is None:
                continue
            seen.add(member)
            names = list(dict.fromkeys(_PLACEHOLDER_RE.findall(ref.llm.instructions)))
            if not names:
                continue
            shown = ", ".join(f"'{{{n}}}'" for n in names)
            message = (
                f"{shown} in the instructions of '{member}' (called by node '{name}') is sent "
                "to the model as it is written: instructions are not filled in; give the "
                f'value in the node\'s task instead (task: "... ${{inputs.{names[0]}}}"), '
                "or leave it if the braces are meant"
            )
            path = ("actions", member, "llm", "instructions")
            field = f"actions.{member}.llm.instructions"
            found.append((message, locate(spec.source, path, node=name, field_name=field)))
    return found
