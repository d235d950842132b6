"""The actions ``weft ask --agents`` names: Python objects, or a workflow file's ``actions:``.

A reference is one of:

- ``module:obj`` or ``path/to/file.py:obj`` (``obj`` defaults to ``agents``):
  an action, a function, a list or dict of them, or an ``ActionRegistry``.
  A module without ``agents`` gives every action it holds at its top level
  (its ``@weft.tool`` functions, its agents): ``--agents tools.py`` on a file
  of tools is what users write first, and plain functions are not taken
  that way (helpers and imports would become agents). A lambda is named
  after the variable that holds it (``add = weft.tool(lambda a, b: a + b)``,
  ``agents = [add, mul]``), as Python names every lambda ``<lambda>``;
- ``path/to/file.yaml`` (or ``.yml``): every action the workflow file
  defines in its ``actions:`` section (``llm:`` agents, ``python:`` tools,
  ``mcp:`` servers' tools, ``a2a:`` agents, sub-workflows). The file is
  loaded and checked as ``weft run`` does it (``compile_workflow``), so a
  mistake in it is the same error, at its file and line; its nodes are not
  run, the planner orders the work itself. Routing reads each action's
  capability card: an ``llm:`` action's ``description`` and ``skills``, a
  tool's description (the ``description:`` of its entry, else its
  docstring). A file of ``actions:`` alone, without ``name:`` and
  ``nodes:``, is taken too (an agents file).

References mix: ``--agents crew.yaml --agents tools.py`` plans over both. A
file reference is recorded absolute (``absolute_ref``) so that ``weft resume``
finds the same agents again from any folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from weft.cli._module_actions import plain_functions_hint, top_level_actions, with_variable_names
from weft.protocols import DefinitionError, WeftError
from weft.runtime.support.user_code import close_attributes, exec_file_module, import_failed

#: The endings of a workflow file ``--agents`` takes the actions of.
WORKFLOW_FILES = (".yaml", ".yml")


def _is_workflow_file(ref: str) -> bool:
    return ref.lower().endswith(WORKFLOW_FILES)


#: The node an agents file (``actions:`` without ``nodes:``) is given so that it loads as
#: a workflow; its action is this no-op, registered for the load and left out after.
_HOLDER = "_weft_agents_file"


def _nothing() -> None:
    """Holds the place of the nodes an agents file does not have."""


def workflow_actions(ref: str, base: str | None = None) -> Any:
    """An ``ActionRegistry`` with every action of the workflow file ``ref`` (relative to
    ``base`` when given, else to the current folder), loaded as ``weft run`` loads the
    file: its ``DefinitionError`` (file, line, field) is raised as it is.

    A file of ``actions:`` alone (no ``nodes:``, perhaps no ``name:``) is an agents
    file: it is read as the workflow it would be with one node, added after its last
    line so that every line keeps its number in the errors.
    """
    from weft.runtime.engine.compiler import compile_workflow
    from weft.runtime.engine.registry import ActionRegistry
    from weft.workflows import loads_workflow, loads_yaml
    from weft.workflows.yaml_io import read_yaml_file

    path = Path(ref)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    if not path.is_file():
        raise WeftError(f"--agents {ref}: no such file {path}")
    text = read_yaml_file(path, what="agents file")
    data = loads_yaml(text, file=str(path))
    holder: dict[str, Any] = {}
    if isinstance(data, dict) and "nodes" not in data and not text.lstrip().startswith("{"):
        added = "" if "name" in data else f"name: {json.dumps(path.stem)}\n"
        text = f"{text.rstrip()}\n{added}nodes:\n  {_HOLDER}: {{action: {_HOLDER}}}\n"
        holder[_HOLDER] = _nothing
    prepared = compile_workflow(loads_workflow(text, file=str(path)), holder)
    actions = ActionRegistry()
    for name in prepared.registry.names():
        if name not in holder:
            actions.register(prepared.registry.get(name), name=name)
    if not len(actions):
        raise WeftError(
            f"--agents {ref}: the file defines no actions (give them in its 'actions:' "
            "section, e.g. llm: agents with skills)"
        )
    return actions


def import_target(ref: str, base: str | None = None, loaded: dict[Path, Any] | None = None) -> Any:
    """The object named by ``module:obj`` or ``file.py:obj`` (``agents`` by default), or the
    actions of a workflow file; a module (a relative file) is looked for in ``base``
    (default: the current folder) too.

    ``loaded`` holds the files one command has run already, by resolved path: a file
    named twice (``--agents tools.py --agents tools.py:graph``) is run once, so its
    objects are the same objects both times, not two different actions of one name."""
    if _is_workflow_file(ref):
        return workflow_actions(ref, base)
    target, sep, attr = ref.rpartition(":") if ":" in ref else (ref, "", "")
    attr = attr if sep else "agents"
    if target.lower().endswith((".yaml", ".yml", ".json")):
        raise WeftError(
            f"--agents {ref}: a workflow file is given whole (--agents {target}), "
            "its actions all; a .json file is no agents file"
        )
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise WeftError(f"--agents {ref}: no such file {target}")
        module = (loaded or {}).get(path.resolve()) or _run_file(ref, target, path)
        if loaded is not None:
            loaded[path.resolve()] = module
    else:
        folder = base or str(Path.cwd())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise WeftError(f"--agents {ref}: cannot import module '{target}': {exc}") from None
        except Exception as exc:  # the module is there, and raised
            raise WeftError(f"--agents {ref}: {import_failed(repr(target), exc)}") from None
    if not sep and not hasattr(module, attr):
        return _module_actions(module, ref, target)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            hint = close_attributes(obj, part)
            raise WeftError(f"--agents {ref}: '{target}' has no attribute '{attr}'{hint}")
        obj = getattr(obj, part)
    # lambdas are all '<lambda>': named after their variables (``agents = [add, mul]``)
    return with_variable_names(obj, vars(module), attr)


def _run_file(ref: str, target: str, path: Path) -> Any:
    """The module ``path`` makes, run now (its folder importable while it runs)."""
    name = f"_weft_agents_{abs(hash(path.resolve()))}"
    sys.path.insert(0, str(path.parent.resolve()))
    try:
        return exec_file_module(name, path)
    except Exception as exc:
        raise WeftError(f"--agents {ref}: {import_failed(target, exc)}") from None
    finally:
        sys.path.remove(str(path.parent.resolve()))


def action_source(action: Any) -> Any:
    """The user's object ``action`` was made of: a plain function (``fn``), a LangGraph
    graph (``graph``), else the action itself. Each reference to a function or a graph
    wraps it anew, so two actions of one name are the same action when this is."""
    for attribute in ("fn", "graph"):
        source = getattr(action, attribute, None)
        if source is not None:
            return source
    return action


def _module_actions(module: Any, ref: str, target: str) -> list[Any]:
    """The actions at a module's top level, for a reference without ``:obj`` to a module
    without ``agents``; none is an error that says what to write instead."""
    try:
        found = top_level_actions(module)
    except DefinitionError as exc:
        raise WeftError(f"--agents {ref}: {exc}") from None
    if not found:
        raise WeftError(
            f"--agents {ref}: '{target}' has no 'agents' and no action at its top level "
            f"(a @weft.tool function, an agent): name what to use, --agents {target}:OBJ "
            "(a function, an action, or a list or dict of them)" + plain_functions_hint(module)
        )
    return found


def _add(registry: Any, obj: Any, ref: str, given: dict[str, Any]) -> None:
    from weft.runtime.engine.action_table import ActionTable

    try:
        if isinstance(obj, ActionTable):
            for name in obj.names():
                _register(registry, obj.get(name), name, given)
        elif isinstance(obj, dict):
            for name, action in obj.items():
                _register(registry, action, name, given)
        elif isinstance(obj, list | tuple | set | frozenset):
            for action in obj:
                _register(registry, action, None, given)
        else:
            _register(registry, obj, None, given)
    except DefinitionError as exc:
        raise WeftError(f"--agents {ref}: {exc}") from None


def _register(registry: Any, obj: Any, name: str | None, given: dict[str, Any]) -> None:
    """Register ``obj`` unless the same action (made of the same function or graph) is
    already there under its name: naming it twice is no clash. ``given`` keeps each
    name's source, and so keeps the source alive while its ``id`` is compared."""
    action = registry.adapt(obj, name)
    key = name or action.spec.name
    source = action_source(action)
    if key in given and given[key] is source:
        return
    registry.register(action, name=name)
    given[key] = source


def load_agents(refs: tuple[str, ...], base: str | None = None) -> Any:
    """An ``ActionRegistry`` with every action named by the ``--agents`` references
    (modules and relative files looked for in ``base`` too: the folder a resumed ask
    was asked in); two different actions of one name are an error naming the second,
    and the same action named twice (``--agents tools.py --agents tools.py:graph``) is
    taken once."""
    from weft.runtime.engine.registry import ActionRegistry

    registry = ActionRegistry()
    loaded: dict[Path, Any] = {}
    given: dict[str, Any] = {}
    for ref in refs:
        _add(registry, import_target(ref, base, loaded), ref, given)
    return registry


def absolute_ref(ref: str) -> str:
    """``ref`` with a file path made absolute, so it loads from any folder."""
    if _is_workflow_file(ref):
        return str(Path(ref).resolve())
    target, sep, attr = ref.rpartition(":") if ":" in ref else (ref, "", "")
    if target.endswith(".py") or os.sep in target or "/" in target:
        return str(Path(target).resolve()) + (sep + attr if sep else "")
    return ref
