"""One wording for a user's module that fails while weft imports it.

``weft run`` (a workflow's ``python:`` actions), ``weft agent serve
file.py:obj``, ``weft mcp serve``, ``weft a2a serve`` and ``weft ask --agents``
run the user's module. When it raises, the user needs the exception and the
line of their own code that raised it, in one line, not weft's frames, nor
those of the standard library (``os.environ["X"]`` raises inside ``os``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from weft.protocols.hints import did_you_mean

#: Folders whose frames are not the user's: the standard library, installed packages, weft.
_NOT_THE_USERS = tuple(
    {
        *(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
        str(Path(__file__).resolve().parents[2]),
    }
)


def exec_file_module(name: str, path: Path) -> ModuleType:
    """Runs the user's file ``path`` (or package folder) as module ``name``, registered in
    ``sys.modules`` first.

    pydantic resolves a model's postponed annotations (``from __future__ import
    annotations``) in ``sys.modules[model.__module__]``: a module run without
    being registered left ``list[Keyword]`` unresolved, and the quickstart's own
    tools failed under ``weft ask --agents`` ("`write_report_arguments` is not
    fully defined"). A module that raises is taken out again. Raises ImportError
    when ``path`` cannot be loaded as a module, and whatever the module raises.
    """
    # Resolved, so that tracebacks name "/srv/files/tools.py", not "wd/../files/tools.py".
    path = path.resolve()
    if path.is_dir():  # a package: its __init__.py, its folder searched for submodules
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}", name=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def raised_at(exc: BaseException) -> str:
    """`` (file.py, line N)``: the last frame of ``exc``'s traceback in the user's code,
    or ``""`` when none is (a ``SyntaxError`` names its own line in its message)."""
    if isinstance(exc, SyntaxError):
        return ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        name = frame.filename
        if name.startswith("<") or any(name.startswith(d + os.sep) for d in _NOT_THE_USERS):
            continue
        return f" ({name}, line {frame.lineno})"
    return ""


def import_failed(target: str, exc: BaseException) -> str:
    """``importing T failed: Type: message (file.py, line N)`` (``raised_at``)."""
    return f"importing {target} failed: {type(exc).__name__}: {exc}{raised_at(exc)}"


def close_attributes(obj: Any, name: str) -> str:
    """`` (did you mean 'a' or 'b'?)``: public names of ``obj`` close to the missing
    ``name``, or ``""``; so ``tools:totl`` says ``total`` as a misspelt action name does."""
    return did_you_mean(name, (n for n in dir(obj) if not n.startswith("_")))
