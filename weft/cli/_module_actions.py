"""What a user's module offers as actions, and the names of those that have none of their own.

``weft ask --agents tools.py``, ``weft route --agents tools.py`` and ``weft agent
serve tools.py`` name a file without an object: they take every action at its
top level. That is its ``@weft.tool`` functions and agents (action objects, taken
wherever they were defined), and the compiled LangGraph graphs and weft
``Workflow`` builders the file makes itself: a graph or a workflow at a file's
top level is an agent the user wrote, as an ``LLMAgent`` there is, and it was
refused unless named (``mygraph.py:graph``). One made in another module and
imported (``from shared import graph``) is that module's, as a plain function
imported into the file is not the file's: the module that holds it at its top
level is where it was defined. Plain functions are not taken this way (helpers
and imported functions would become agents); ``plain_functions_hint`` says how
to offer them.

Some objects have no name an action can go by: Python names every lambda
``<lambda>``, LangGraph every graph compiled without a name ``LangGraph``. Such
an object is named after the variable that holds it (``add = weft.tool(lambda a,
b: a + b)``, ``graph = builder.compile()``), as ``FILE.py:attr`` names it by
``attr`` and a dict by its key; otherwise two of them would clash as one action.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path
from typing import Any

from weft.protocols.langgraph_objects import is_langgraph_graph

__all__ = ["plain_functions_hint", "top_level_actions", "with_variable_names"]

#: The name Python gives every lambda: no name an action can go by.
LAMBDA = "<lambda>"

#: The name LangGraph gives every graph compiled without ``name=``.
UNNAMED_GRAPH = "LangGraph"


def top_level_actions(module: Any) -> list[Any]:
    """The actions at ``module``'s top level (see the module docstring), each once, in the
    order the module defines them; an unnamed one is named after its variable."""
    from weft.protocols import Action, DefinitionError
    from weft.workflows import Workflow

    entries: list[tuple[str, Any]] = []
    made_here: list[Any] = []  # graphs and workflows: taken when not imported
    seen: set[int] = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, type) or id(value) in seen:
            continue
        if isinstance(value, Action):
            entries.append((name, value))
        elif is_langgraph_graph(value) or isinstance(value, Workflow):
            entries.append((name, value))
            made_here.append(value)
        seen.add(id(value))
    imported = _held_elsewhere(made_here, module) if made_here else set()
    actions: list[Any] = []
    refused: list[DefinitionError] = []
    for name, value in entries:
        if id(value) in imported:
            continue
        try:
            actions.append(_action(value, name, getattr(module, "__file__", None)))
        except DefinitionError as exc:
            refused.append(exc)
    if refused and not actions:
        raise refused[0]  # the file offers nothing else: say why its workflow is none
    # A workflow for ``weft run --broker`` beside the file's tools is left out, as the
    # file loaded before graphs and workflows counted: its tools are what it offers.
    return actions


def _action(value: Any, name: str, file: str | None = None) -> Any:
    """The action of top-level variable ``name``: named after it when it has no name of its
    own; a workflow compiled now, so that one that is no action on its own is an error
    naming it (``_not_an_action``)."""
    from weft.protocols import DefinitionError
    from weft.runtime.engine.compiler import as_action
    from weft.workflows import Workflow

    if _is_unnamed(value):
        return _named(value, name)
    if not isinstance(value, Workflow):
        return value
    try:
        return as_action(value)
    except DefinitionError as exc:
        raise _not_an_action(exc, value.name, name, file) from None


#: How the compiler says a node names an action nothing here defines.
_UNKNOWN_ACTION = re.compile(r"unknown action '([^']+)'")


def _not_an_action(exc: Any, workflow: str, name: str, file: str | None) -> Any:
    """Why the file's workflow ``workflow`` (variable ``name``) is no action, and what to do.

    A workflow whose only problems are actions the file does not define is one meant
    for ``weft run FILE --broker URL``, where agents serve them: the error says so,
    with every missing name, instead of a first problem and "(and 1 more)".
    """
    from weft.protocols import DefinitionError

    messages = [message for message, _ in exc.problems]
    missing = [m.group(1) for m in map(_UNKNOWN_ACTION.search, messages) if m is not None]
    if missing and len(missing) == len(messages):
        names = ", ".join(dict.fromkeys(missing))
        target = _shown_path(file) if file else "FILE.py"
        variable = "" if name == "workflow" else f" (with workflow = {name} in it)"
        return DefinitionError.single(
            f"its workflow '{workflow}' ({name}) is no action on its own: its nodes name "
            f"actions the file does not define ({names}). Run it where agents serve them, "
            f"weft run {target} --broker URL{variable}; or define them in the file, or name "
            "the actions to use (FILE.py:OBJ)"
        )
    first, *more = str(exc).splitlines()
    why = first + (f" (and {len(more)} more)" if more else "")
    return DefinitionError.single(
        f"its workflow '{workflow}' ({name}) is no action on its own: {why}; name the "
        "actions to use (FILE.py:OBJ), or list them in the file: agents = [...]"
    )


def _shown_path(file: str) -> str:
    """``file`` relative to the working folder when it is under it, as a user typed it."""
    path = Path(file).resolve()
    return str(path.relative_to(Path.cwd().resolve())) if path.is_relative_to(Path.cwd()) else file


def _held_elsewhere(objects: list[Any], module: Any) -> set[int]:
    """The ids of ``objects`` that another loaded module holds at its top level: imported
    into ``module`` (``from shared import graph``), so defined there, not here."""
    wanted = {id(obj) for obj in objects}
    held: set[int] = set()
    for other in list(sys.modules.values()):
        if other is module or other is None:
            continue
        try:
            values = list(vars(other).values())
        except TypeError:  # a module stand-in without a __dict__
            continue
        held.update(id(value) for value in values if id(value) in wanted)
        if held == wanted:
            break
    return held


def plain_functions_hint(module: Any) -> str:
    """What to do with the plain functions a module defines (``add = lambda a, b: ...``,
    ``def helper``), which are not taken as actions on their own; ``""`` when it has none."""
    names = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(value)
        and value.__module__ == module.__name__
    ]
    if not names:
        return ""
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    return (
        f"; its plain functions ({shown}) are not taken on their own: make them tools "
        f"(@weft.tool, or {names[0]} = weft.tool(...)), or list them: agents = [{shown}]"
    )


def _is_unnamed(obj: Any) -> bool:
    """Whether ``obj`` has no name an action can go by: a lambda, an action named after
    one (``weft.tool(lambda ...)``), or a LangGraph graph compiled without a name."""
    if is_langgraph_graph(obj):
        return getattr(obj, "name", None) in (None, "", UNNAMED_GRAPH)
    spec = getattr(obj, "spec", None)
    if spec is not None:
        return getattr(spec, "name", None) == LAMBDA
    return getattr(obj, "__name__", None) == LAMBDA and callable(obj)


def _named(obj: Any, name: str) -> Any:
    """The unnamed ``obj`` (``_is_unnamed``) as an action called ``name``."""
    from weft.runtime.engine.compiler import as_action

    named = getattr(obj, "named", None)
    if callable(named):  # a tool already: the same tool, renamed
        return named(name)
    if getattr(obj, "spec", None) is not None:
        return obj  # an action of another kind: it keeps its own name
    return as_action(obj, name=name)


def _variable_of(obj: Any, namespace: dict[str, Any]) -> str | None:
    """The one public variable of ``namespace`` that holds ``obj`` (or the function a
    tool ``obj`` was made from); None when none does, or several do."""
    fn = getattr(obj, "fn", None)
    names = [
        name
        for name, value in namespace.items()
        if not name.startswith("_") and (value is obj or (fn is not None and value is fn))
    ]
    return names[0] if len(names) == 1 else None


def with_variable_names(obj: Any, namespace: dict[str, Any], attr: str | None = None) -> Any:
    """``obj`` (what ``FILE.py:attr`` named) with each unnamed object in it given a name:
    one named by ``attr`` takes that name, one in a dict its key, one in a list the
    variable of ``namespace`` that holds it (``add = lambda a, b: a + b``,
    ``agents = [add, mul]``; ``graph = builder.compile()``, ``agents = [graph]``).

    Where the file does not name one (``agents = [lambda ...]``), it is left for the
    registry to refuse with the way to name it.
    """
    if _is_unnamed(obj):
        name = attr.rpartition(".")[2] if attr else _variable_of(obj, namespace)
        return _named(obj, name) if name else obj
    if isinstance(obj, dict):
        return {
            key: _named(value, key) if isinstance(key, str) and _is_unnamed(value) else value
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        named = []
        for value in obj:
            name = _variable_of(value, namespace) if _is_unnamed(value) else None
            named.append(_named(value, name) if name else value)
        return named
    return obj
