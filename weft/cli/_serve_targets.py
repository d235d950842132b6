"""What ``weft agent serve TARGETS`` names: Python objects, or a workflow file's actions.

A target is one of:

- ``module:object``: imported from the current folder and the ``--path`` folders;
- ``path/to/file.py:object``: that file, imported as a module;
- ``path/to/flow.yaml`` (or ``.yml``): every action the file's ``actions:``
  section defines (``llm:`` agents, ``python:`` tools, ``mcp:`` servers' tools,
  ``a2a:`` agents, sub-workflows), built as ``weft run`` builds them;
- ``path/to/flow.yaml:NAME``: the action ``NAME`` of that section, with the
  tools its ``llm:`` entry names (an agent's tools must be served by its own
  process, docs/distributed.md).

Why the workflow file: a user who wrote an ``llm:`` agent in YAML (docs/yaml.md)
should not have to rewrite it in Python to run it on another machine, and
``weft ask --agents flow.yaml`` already takes such a file. Only the actions are
built: the file's nodes may name actions that other agents serve (a workflow
meant for ``weft run --broker``), so they are set aside, and an error in an
action is reported at its file and line as ``weft run`` reports it.

Every mistake is a ``DefinitionError`` of one line naming the target: a module
that is not found says where it was looked for, an attribute that is not
there lists the close names the module has.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from weft.cli._module_actions import plain_functions_hint, top_level_actions, with_variable_names
from weft.protocols import DefinitionError
from weft.protocols.hints import did_you_mean
from weft.runtime.support.user_code import close_attributes, exec_file_module, import_failed

#: The endings of a workflow file whose actions ``weft agent serve`` takes.
WORKFLOW_FILES = (".yaml", ".yml")

#: The node a workflow file's actions are built with, in place of the file's own nodes.
_HOLDER = "_weft_serve_holder"


def _nothing() -> None:
    """Holds the place of the file's nodes while its actions are built."""


def load_target(ref: str) -> Any:
    """The object ``ref`` names: an action, a function, a list or dict of them, or (for a
    workflow file) a dict of its actions by name."""
    module, sep, attr = ref.rpartition(":")
    if ref.lower().endswith(WORKFLOW_FILES):
        return workflow_file_actions(ref, Path(ref), None)
    if sep and module.lower().endswith(WORKFLOW_FILES):
        return workflow_file_actions(ref, Path(module), attr)
    if sep and module.endswith(".py"):
        loaded = _load_file(ref, Path(module))
        found = _attribute(loaded, attr, str(Path(module)))
        return with_variable_names(found, vars(loaded), attr)
    if not sep and ref.endswith(".py"):  # the file's top-level actions, as weft ask takes them
        loaded = _load_file(ref, Path(ref))
        try:
            found = top_level_actions(loaded)
        except DefinitionError as exc:
            raise DefinitionError.single(f"{ref}: {exc}") from None
        if not found:
            raise DefinitionError.single(
                f"'{ref}' has no action at its top level (a @weft.tool function, an agent): "
                f"write {ref}:OBJECT (a function, an action, or a list or dict of them)"
                + plain_functions_hint(loaded)
            )
        return found
    found = _import(ref)
    imported = sys.modules.get(module) if sep else None
    return with_variable_names(found, vars(imported) if imported else {}, attr if sep else None)


def _load_file(ref: str, path: Path) -> Any:
    """The module of ``path/to/file.py[:object]``, imported under its stem (the module, not
    the object: ``load_target`` names its lambdas by the module's variables), its folder
    first on ``sys.path`` so that it imports its neighbours; a stem that names another
    module (``_stem_taken``) gets a name of its own, and the folder goes last."""
    if not path.exists():
        raise DefinitionError.single(f"{ref}: no such file {path}")
    folder = str(path.parent.resolve())
    name = path.stem
    if _stem_taken(path):
        name = f"_weft_file_{abs(hash(str(path.resolve())))}_{path.stem}"
        if folder not in sys.path:
            sys.path.append(folder)
    else:
        sys.path.insert(0, folder)
    try:
        return exec_file_module(name, path)
    except Exception as exc:  # the user's module raised: one line, with its own line
        raise DefinitionError.single(f"{ref}: {import_failed(str(path), exc)}") from None


def _stem_taken(path: Path) -> bool:
    """True when the stem of ``path`` names a module that is not this file: the standard
    library's, an installed package's, one already imported (``json.py``, ``email.py``,
    ``mcp.py``). Registered under that name, the user's file replaced it for the whole
    process, and ``weft mcp serve mcp.py:tools`` died in a traceback when it imported the
    MCP SDK (``'mcp' is not a package``), ``json.py`` when logging wrote JSON."""
    stem = path.stem
    if not stem.isidentifier():
        return False  # no import statement can name it
    here = path.resolve()
    loaded = sys.modules.get(stem)
    if loaded is not None:
        file = getattr(loaded, "__file__", None)
        return file is None or Path(file).resolve() != here
    if stem in sys.stdlib_module_names:
        return True
    try:
        spec = importlib.util.find_spec(stem)
    except (ImportError, ValueError):
        return False
    return spec is not None and (spec.origin is None or Path(spec.origin).resolve() != here)


def _import(ref: str) -> Any:
    """``module:object``, saying where the module was looked for when it is not there and
    which names are close to one it does not have."""
    from weft.runtime.engine.compiler import import_object

    module, sep, attr = ref.partition(":")
    try:
        return import_object(ref)  # its own one-line error for a module that raises
    except DefinitionError:
        if not (sep and module and attr):
            raise
        loaded = sys.modules.get(module)
        if loaded is not None:  # the module is fine: the name is not in it
            return _attribute(loaded, attr, f"module '{module}'")
        top = module.split(".")[0]
        try:
            missing = importlib.util.find_spec(top) is None  # caches fresh: import_object
        except (ImportError, ValueError):
            missing = False
        if not missing:
            raise
        raise DefinitionError.single(
            f"{ref}: no module '{top}' in the current folder ({Path.cwd()}), the --path "
            "folders or the installed packages; run the command in the module's "
            "folder, add --path DIR, or give the file: path/to/file.py:OBJECT"
        ) from None


def _attribute(module: Any, attr: str, what: str) -> Any:
    """``module.attr`` (dotted); a missing name is an error listing the close ones."""
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            hint = close_attributes(obj, part)
            raise DefinitionError.single(f"{what} has no attribute '{attr}'{hint}")
        obj = getattr(obj, part)
    return obj


def workflow_file_actions(ref: str, path: Path, name: str | None) -> dict[str, Any]:
    """The actions of the workflow file ``path`` by name: all of them, or ``name`` with
    the tools its ``llm:`` entry names (and theirs)."""
    from weft.protocols import NodeSpec
    from weft.runtime.engine.compiler import compile_workflow
    from weft.workflows import loads_workflow, loads_yaml
    from weft.workflows.yaml_io import read_yaml_file

    if not path.is_file():
        raise DefinitionError.single(f"{ref}: no such file {path}")
    text = read_yaml_file(path, what="workflow file")
    data = loads_yaml(text, file=str(path))
    if isinstance(data, dict) and "nodes" not in data and not text.lstrip().startswith("{"):
        # An agents file (``actions:`` alone, as ``weft ask --agents`` takes): read as the
        # workflow it would be, with lines added after its last so errors keep their lines.
        added = "" if "name" in data else f"name: {json.dumps(path.stem)}\n"
        text = f"{text.rstrip()}\n{added}nodes:\n  {_HOLDER}: {{action: {_HOLDER}}}\n"
    spec = loads_workflow(text, file=str(path))
    if not spec.actions:
        raise DefinitionError.single(
            f"{ref}: the file defines no actions to serve (its 'actions:' section is empty "
            "or missing; an llm: entry there is an agent, a python: entry a tool)"
        )
    # Only the actions are built: the nodes may name actions that other agents serve.
    alone = spec.model_copy(update={"nodes": {_HOLDER: NodeSpec(action=_HOLDER)}, "outputs": {}})
    try:
        prepared = compile_workflow(alone, {_HOLDER: _nothing})
    except DefinitionError as exc:  # the holder is no action of the user's: not listed
        raise DefinitionError(
            [(_without_holder(message), where) for message, where in exc.problems]
        ) from None
    built = {n: prepared.registry.get(n) for n in prepared.registry.names() if n != _HOLDER}
    if name is None:
        return built
    # An mcp: entry NAME is its tools, the actions NAME.TOOL.
    own = [n for n in built if n == name or (_is_mcp(spec, name) and n.startswith(f"{name}."))]
    if not own:
        hint = did_you_mean(name, built, then=f"its actions: {', '.join(sorted(built))}")
        raise DefinitionError.single(f"{ref}: the file has no action '{name}'{hint}")
    wanted: dict[str, Any] = {}
    todo = list(own)
    while todo:
        current = todo.pop()
        if current in wanted or current not in built:
            continue
        wanted[current] = built[current]
        entry = spec.actions.get(current)
        if entry is not None and entry.llm is not None:
            todo.extend([*entry.llm.tools, *entry.llm.handoffs])
    return wanted


def _is_mcp(spec: Any, name: str) -> bool:
    entry = spec.actions.get(name)
    return entry is not None and entry.mcp is not None


def _without_holder(message: str) -> str:
    """``message`` without the holder's name in its lists of known actions."""
    for form in (f"{_HOLDER}, ", f", {_HOLDER}", _HOLDER):
        message = message.replace(form, "")
    return message
