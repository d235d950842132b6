"""Importing the user's ``module:attribute`` references, with errors that say where.

A workflow's ``python:`` actions, ``weft agent serve mod:obj``, ``weft route
--cards mod:x`` and ``weft topology`` import user code through
``import_object``. A module that fails while it is imported is reported in
one located line: the workflow's line (``where``), the exception, and the
line of the user's own code that raised it (``support.user_code``).
"""

from __future__ import annotations

import importlib
from typing import Any

from weft.protocols import DefinitionError, Location
from weft.runtime.support.user_code import raised_at


def _import_module(name: str) -> Any:
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


def import_object(ref: str, *, where: Location | None = None) -> Any:
    """Import ``module:attribute`` (attribute may be dotted) with a located error."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise DefinitionError.single(f"'{ref}' is not of the form 'module:attribute'", where)
    try:
        obj: Any = _import_module(module_name)
    except ImportError as exc:
        raise DefinitionError.single(
            f"cannot import module '{module_name}': {exc}{raised_at(exc)}", where
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
                f"module '{module_name}' has no attribute '{attr}'", where
            ) from None
    return obj
