"""Importing the user's ``module:attribute`` references, with errors that say where.

A workflow's ``python:`` actions and ``module:function`` reducers, ``weft agent
serve mod:obj``, ``weft route --cards mod:x`` and ``weft topology`` import
user code through ``import_object``. A module that fails while it is imported
is reported in one located line: the workflow's line (``where``), the
exception, and the line of the user's own code that raised it
(``support.user_code``).

A workflow file's refs are resolved from its folder (``folders``: the file's
folder, then its ``python_path``): a module file found there is loaded *by its
path*, under a name made from that path (``beside.py``), so two workflow files
in one long-lived process that each have their own ``tools.py`` each get their
own, where Python's module cache would hand the second the first's. An
installed or standard-library module of the same name is never displaced by a
user file, and a name with no file beside the workflow is imported as usual.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from weft.protocols import DefinitionError, Location, WorkflowSpec
from weft.runtime.engine.beside import load_beside, shadowed_file
from weft.runtime.support.user_code import close_attributes, raised_at

__all__ = ["import_module", "import_object", "import_paths", "workflow_folders"]


@contextmanager
def import_paths(paths: Sequence[Path]) -> Iterator[None]:
    """``paths`` first on ``sys.path`` for the block: a workflow's modules sit beside it."""
    added = [str(p) for p in paths if str(p) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            if p in sys.path:
                sys.path.remove(p)


def workflow_folders(spec: WorkflowSpec) -> list[Path]:
    """The folders a workflow file's refs are looked for in first: its own, then its
    ``python_path`` (relative to it). None for a definition that has no file (a
    builder's): its refs are imported by name, as Python finds them."""
    source_file = spec.source.file if spec.source is not None else None
    if not source_file:
        return []
    base = Path(source_file).resolve().parent
    return [base, *[(base / p).resolve() for p in spec.python_path]]


def _import_by_name(name: str) -> Any:
    """``importlib.import_module``, looking again at the folders when the module is missing.

    Python caches each import folder's listing; a module written after the
    cache was filled (a file saved between two runs in one process: a notebook,
    a test) is not found until the caches are invalidated.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        importlib.invalidate_caches()
        return importlib.import_module(name)


def import_module(name: str, folders: Sequence[Path] = ()) -> Any:
    """The module ``name``: loaded by path when its file is in one of ``folders``
    (and the name is not an installed module's), else imported by name.

    ``folders`` are first on ``sys.path`` meanwhile, so a module loaded by path
    can still import its siblings by name (those are shared through Python's
    module cache as usual: a package beside the workflow, with relative
    imports, keeps them apart).
    """
    with import_paths(folders):
        module = load_beside(name, folders) if folders else None
        return module if module is not None else _import_by_name(name)


def import_object(ref: str, *, where: Location | None = None, folders: Sequence[Path] = ()) -> Any:
    """Import ``module:attribute`` (attribute may be dotted) with a located error;
    ``folders`` as for ``import_module`` (``workflow_folders`` of the workflow)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise DefinitionError.single(f"'{ref}' is not of the form 'module:attribute'", where)
    if module_name.endswith(".py"):
        module_name, folders = _module_file(module_name, folders, where)
    try:
        obj: Any = import_module(module_name, folders)
    except ImportError as exc:
        raise DefinitionError.single(
            f"cannot import module '{module_name}': {exc}{raised_at(exc)}"
            f"{_shadowed_hint(module_name, folders)}",
            where,
        ) from None
    except Exception as exc:
        raise DefinitionError.single(
            f"importing '{module_name}' failed: {type(exc).__name__}: {exc}{raised_at(exc)}",
            where,
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise DefinitionError.single(
                f"module '{module_name}' has no attribute '{attr}'{close_attributes(obj, part)}"
                f"{_shadowed_hint(module_name, folders)}",
                where,
            ) from None
    return obj


def _module_file(
    path_text: str, folders: Sequence[Path], where: Location | None
) -> tuple[str, list[Path]]:
    """``tools.py:fn`` or ``lib/tools.py:fn``: the file named, relative to the workflow's
    folder (else the current one), as its module name and the folder to load it from.

    Users write the file as ``weft ask --agents tools.py:fn`` takes it; as a module
    name it failed with "No module named 'tools.py'; 'tools' is not a package"."""
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = (folders[0] if folders else Path.cwd()) / path
    if not path.is_file():
        raise DefinitionError.single(f"no file {path_text} (looked for {path})", where)
    return path.stem, [path.resolve().parent]


def _shadowed_hint(module_name: str, folders: Sequence[Path]) -> str:
    """Why a file beside the workflow was not the module imported, when that is so."""
    shadowed = shadowed_file(module_name, folders) if folders else None
    if shadowed is None:
        return ""
    top = module_name.partition(".")[0]
    return (
        f" ({shadowed} is not used: '{top}' is the name of an installed or standard-library "
        "module, which a file beside the workflow never replaces; rename the file)"
    )
