"""Lazy package exports: a package names its public API without importing it.

A room's ``__init__`` maps each public name to the module that defines it; the
module is imported on first access. This keeps ``weft --help`` and small runs
from loading chromadb, paho-mqtt or the executor they do not use, and it keeps
the package out of its own modules' import graph (they import each other by
full module path, never through the package).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` and returns its ``name``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
