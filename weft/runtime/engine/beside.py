"""Loading a workflow's own module by its path, so that same-named modules do not clash.

Python caches modules by name: once ``tools`` is imported, every later
``import tools`` gets that module, whichever folder the importer meant. A
process that serves two workflow files, each with a ``tools.py`` beside it,
would hand the second workflow the first one's functions (or an
``AttributeError``). The first workflow to use a name imports its file by
that name, as plain Python would (so the user's own ``import tools`` shares
it); ``load_beside`` loads a file whose name another file already holds from
its path instead, under a name made from that path (``tools__weft_<hash>``),
and registers it in ``sys.modules`` under that name:
pickling its objects, pydantic's and dataclasses' look-ups of their module, and
a package's relative imports of its own submodules all work in the process.

What it never does: displace an installed or standard-library module (a
``json.py`` beside the workflow does not hide ``json``), or handle anything
but a ``.py`` file or a folder with ``__init__.py`` (namespace packages and
compiled extensions are imported by name, as before).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import site
import sys
import sysconfig
import threading
from collections.abc import Sequence
from importlib.machinery import PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

from weft.runtime.support.user_code import exec_file_module

__all__ = ["load_beside", "path_module_name", "shadowed_file"]

#: Held while a module is loaded by path (re-entrant: a module may compile a workflow).
_loading = threading.RLock()


def path_module_name(top: str, location: Path) -> str:
    """The ``sys.modules`` name of the module at ``location``: stable across processes
    (a hash of the path, not Python's salted ``hash``), and starting with the name
    the user wrote so that tracebacks and type names still read as theirs."""
    digest = hashlib.sha256(str(location).encode()).hexdigest()[:12]
    return f"{top}__weft_{digest}"


def load_beside(name: str, folders: Sequence[Path]) -> ModuleType | None:
    """The module ``name`` (``tools`` or ``pkg.sub``) loaded from the first of
    ``folders`` holding its top-level file, or ``None`` when none does or the
    top-level name is an installed module's (then the caller imports it by name).

    The same file is loaded once per process: a second call returns the module
    from ``sys.modules``, as does a file the program itself imported already
    under its plain name. Raises what running the module raises; a submodule
    missing from a package is a ``ModuleNotFoundError`` naming it as written.
    """
    top, _, rest = name.partition(".")
    location = _find(top, folders)
    if location is None or _installed(top):
        return None
    if top not in sys.modules and path_module_name(top, location) not in sys.modules:
        # The name is free: the caller imports it by name (``folders`` first on the
        # path, so it is this file), and the user's own ``import tools`` elsewhere
        # then shares it rather than running a second copy with its own state.
        return None
    with _loading:  # two threads compiling one workflow run its module once
        module = _load_top(top, location)
    if not rest:
        return module
    if not hasattr(module, "__path__"):
        raise ModuleNotFoundError(
            f"No module named '{name}'; '{top}' ({location}) is not a package", name=name
        )
    try:
        return importlib.import_module(f"{module.__name__}.{rest}")
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith(module.__name__):
            raise
        missing = top + exc.name[len(module.__name__) :]
        message = f"No module named '{missing}' in {location}"
        raise ModuleNotFoundError(message, name=missing) from None


def shadowed_file(name: str, folders: Sequence[Path]) -> Path | None:
    """The file beside the workflow that ``name`` does *not* load because an installed
    or standard-library module has its name (for the error when the import fails)."""
    top = name.partition(".")[0]
    location = _find(top, folders)
    return location if location is not None and _installed(top) else None


def _find(top: str, folders: Sequence[Path]) -> Path | None:
    """``folder/top`` (a package) or ``folder/top.py`` in the first folder that has one,
    in the order Python's own finder looks within a folder."""
    if not top.isidentifier():
        return None
    for folder in folders:
        if (folder / top / "__init__.py").is_file():
            return folder / top
        if (folder / f"{top}.py").is_file():
            return folder / f"{top}.py"
    return None


def _load_top(top: str, location: Path) -> ModuleType:
    existing = sys.modules.get(top)
    if existing is not None and _file_of(existing) == location:
        return existing  # the program imported this very file by name: share it
    unique = path_module_name(top, location)
    loaded = sys.modules.get(unique)
    if loaded is not None:
        return loaded
    return exec_file_module(unique, location)


def _file_of(module: ModuleType) -> Path | None:
    """The file or package folder ``module`` was loaded from (``_find``'s form)."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    return path.parent if path.name == "__init__.py" else path


def _installed(top: str) -> bool:
    """Whether ``top`` is a standard-library module or one installed in this
    environment (site-packages, a folder a ``.pth`` file adds, an editable install)."""
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return True
    if PathFinder.find_spec(top, list(_installed_folders())) is not None:
        return True
    return any(finder.find_spec(top, None) is not None for finder in _editable_finders())


@functools.cache
def _installed_folders() -> tuple[str, ...]:
    """Site-packages folders and the folders their ``.pth`` files add (read once)."""
    paths = sysconfig.get_paths()
    sites = [paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    sites += [*site.getsitepackages(), site.getusersitepackages()]
    folders = [s for s in dict.fromkeys(sites) if s and Path(s).is_dir()]
    for folder in list(folders):
        for pth in sorted(Path(folder).glob("*.pth")):
            try:
                lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import ", "import\t")):
                    added = Path(folder, line).resolve()
                    if added.is_dir():
                        folders.append(str(added))
    return tuple(dict.fromkeys(folders))


def _editable_finders() -> list[Any]:
    """The import hooks of editable installs (setuptools' ``__editable__`` finders,
    the ``editables`` package's redirector) now on ``sys.meta_path``."""
    found: list[Any] = []
    for finder in sys.meta_path:
        module = getattr(finder, "__module__", "") or ""
        if module.startswith(("__editable__", "editables")) and hasattr(finder, "find_spec"):
            found.append(finder)
    return found
