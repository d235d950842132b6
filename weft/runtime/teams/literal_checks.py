"""A team's or cluster's ``with:`` checked before the run, by the checks its call makes.

``weft validate`` (and every run, before its first node) asks each node's
action for ``argument_problems`` (``weft.protocols.argument_checks``). For
``team_action`` and ``cluster_action`` the answer comes from the very code
that refuses a bad setting when the node starts (``build``: the ``Team`` or
``Cluster`` constructor, the ``pools`` check), run on the literal arguments,
so the two can never disagree; a value still templated (``${inputs.x}``) is
left to the call. Every bad setting is reported, not only the first: the
argument that failed is dropped and the build tried again.

It also warns, without refusing, about ``{topic}`` in the text a team
sends its members (``task``, ``subtasks``, ``context``): weft fills only
``${...}``, so ``"Discuss {topic}"`` reaches the members as it is written,
which is rarely what was meant (the ``{topic}`` of a Python format string,
or of CrewAI's task descriptions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from weft.protocols import ActionCall
from weft.protocols.argument_checks import ArgumentProblem
from weft.protocols.references import TEMPLATE_MARK
from weft.runtime.teams.arguments import ArgumentError

#: ``{name}`` or ``{node.field}`` not preceded by ``$`` (nor ``{{``-escaped): a placeholder
#: of another template language. JSON (``{"act": ...}``) and prose braces do not match.
PLACEHOLDER_RE = re.compile(r"(?<![$\w{]){([A-Za-z_][\w]*(?:\.[\w]+)*)}(?!})")

#: The arguments whose text reaches the members (a team's goal, a cluster's subtasks).
TEXT_FIELDS = ("task", "subtasks", "context")

#: Members stand-in while ``members`` is a template: checks that need members are skipped.
_UNKNOWN_MEMBERS = "\0members"

Build = Callable[[ActionCall, str, list[str]], Any]


def templated(value: Any) -> bool:
    """Whether ``value`` holds a ``${...}`` anywhere: known only when the run starts."""
    if isinstance(value, str):
        return TEMPLATE_MARK in value
    if isinstance(value, Mapping):
        return any(templated(v) for v in value.values())
    if isinstance(value, list):
        return any(templated(v) for v in value)
    return False


def setting_problems(
    build: Build, kind: str, arguments: Mapping[str, Any], *, needs_members: tuple[str, ...]
) -> list[ArgumentProblem]:
    """Every literal setting ``build`` refuses, each with its place under ``with:``.

    ``needs_members`` are the arguments checked against the members (a team's
    ``pools``): left out while the members are a template.
    """
    given = {k: v for k, v in arguments.items() if not templated(v)}
    members = given.get("members")
    if not (isinstance(members, list) and members and all(isinstance(m, str) for m in members)):
        # no literal member list: the schema (or the call) reports that one
        given = {k: v for k, v in given.items() if k not in needs_members}
        members = [_UNKNOWN_MEMBERS]
    given["members"] = members
    name = str(given.get("name") or kind)
    owner = f"{kind} '{name}': "
    problems: list[ArgumentProblem] = []
    for _ in range(len(given) + 1):  # each try drops one argument: it ends
        try:
            build(ActionCall(action=kind, arguments=given), name, list(members))
        except ArgumentError as exc:
            message = str(exc).removeprefix(owner)
            problems.append(ArgumentProblem(path=exc.path, field=exc.field, message=message))
            key = exc.path[0] if exc.path else exc.field
            if key not in given or key == "members":
                break
            del given[key]
            continue
        except (ValueError, TypeError) as exc:  # a setting of a type the schema reports
            if not problems:
                problems.append(ArgumentProblem(path=(), field="with", message=str(exc)))
            break
        break
    return problems


def subtask_problems(arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
    """A cluster's literal ``subtasks`` that are not one per literal member."""
    members, subtasks = arguments.get("members"), arguments.get("subtasks")
    if not (isinstance(members, list) and isinstance(subtasks, list) and subtasks):
        return []
    if templated(members) or templated(subtasks) or len(members) == len(subtasks):
        return []
    message = (
        f"{len(members)} members but {len(subtasks)} subtasks; give one subtask per member "
        f"(members: {', '.join(map(str, members))})"
    )
    return [ArgumentProblem(path=("subtasks",), field="subtasks", message=message)]


def _texts(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(item, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _texts(item, (*path, i))


def _field(path: tuple[str | int, ...]) -> str:
    head, *rest = path
    return str(head) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)


def placeholder_message(text: str) -> str | None:
    """The warning for ``{name}`` placeholders in ``text``, or None when it has none."""
    found = list(dict.fromkeys(PLACEHOLDER_RE.findall(text)))
    if not found:
        return None
    shown = ", ".join(f"'{{{name}}}'" for name in found)
    meant = ", ".join(_meant(name) for name in found)
    return (
        f"{shown} is sent to the members as it is written: weft fills only "
        f"${{...}} references; did you mean {meant}? (leave it if the braces are meant)"
    )


def _meant(name: str) -> str:
    """``${inputs.topic}`` for ``{topic}``; ``${node.field}`` for ``{node.field}``."""
    if "." in name or name in ("input", "item", "index", "iteration"):
        return f"'${{{name}}}'"
    return f"'${{inputs.{name}}}'"


def placeholder_problems(arguments: Mapping[str, Any]) -> list[ArgumentProblem]:
    """Warnings for ``{name}`` in the literal text the members are sent (``TEXT_FIELDS``)."""
    problems: list[ArgumentProblem] = []
    for key in TEXT_FIELDS:
        if key not in arguments:
            continue
        for text, path in _texts(arguments[key], (key,)):
            message = placeholder_message(text)
            if message is not None:
                problems.append(
                    ArgumentProblem(path=path, field=_field(path), message=message, warning=True)
                )
    return problems
