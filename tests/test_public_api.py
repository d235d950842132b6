"""The public names: one list per package, and every name in it importable.

``weft`` keeps its names in ``_PUBLIC`` (grouped by defining package);
``__all__`` is derived from it and the ``TYPE_CHECKING`` imports repeat it for
type checkers. ``weft.runtime`` and each of its rooms keep an ``_EXPORTS``
mapping (name -> defining module) beside a literal ``__all__``. These tests
fail when a list and what is importable drift apart (after anyio's
``tests/test_all_attributes.py``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import weft
import weft.runtime

RUNTIME = Path(weft.runtime.__file__).parent

#: what users reach for first; README and docs use these from the top
TOP_LEVEL_NEEDS = (
    "tool",
    "Workflow",
    "run_workflow",
    "run_sync",
    "resume_run",
    "compile_workflow",
    "dumps_workflow",
    "load_workflow",
    "loads_workflow",
    "LLMAgent",
    "Orchestrator",
    "InProcessBus",
    "MqttBus",
    "AgentHost",
    "RemoteAction",
    "CapabilityRouter",
    "make_embedder",
    "TraceStore",
    "Journal",
    "ErrorInfo",
    "WeftError",
    "DefinitionError",
)


def type_checking_imports(module: ModuleType) -> dict[str, str]:
    """``{name: module}`` imported under ``if TYPE_CHECKING:`` in the module's source."""
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                for alias in statement.names:
                    found[alias.asname or alias.name] = str(statement.module)
    return found


def lazy_packages() -> list[str]:
    """``weft.runtime`` and every package under it that lists its names in ``_EXPORTS``."""
    names = ["weft.runtime"]
    for init in sorted(RUNTIME.rglob("__init__.py")):
        if init.parent == RUNTIME:
            continue
        dotted = ".".join(init.parent.relative_to(RUNTIME.parent.parent).parts)
        if "_EXPORTS" in init.read_text(encoding="utf-8"):
            names.append(dotted)
    return names


def rooms() -> list[str]:
    return sorted(
        f"weft.runtime.{p.name}" for p in RUNTIME.iterdir() if (p / "__init__.py").is_file()
    )


# -- weft ------------------------------------------------------------------------


def test_weft_all_is_derived_from_the_one_list() -> None:
    listed = [name for names in weft._PUBLIC.values() for name in names]
    assert len(listed) == len(set(listed)), "a name appears in two groups"
    assert weft.__all__ == listed


@pytest.mark.parametrize("name", weft.__all__)
def test_every_top_level_name_resolves_to_its_package_s_object(name: str) -> None:
    defining = importlib.import_module(weft._EXPORTS[name])
    assert getattr(weft, name) is getattr(defining, name)


def test_the_type_checking_imports_repeat_the_list_exactly() -> None:
    assert type_checking_imports(weft) == weft._EXPORTS


def test_type_checkers_see_each_top_level_name_as_a_re_export() -> None:
    # ``name as name``: ``__all__`` is computed, so mypy needs the alias to export it
    tree = ast.parse(Path(str(weft.__file__)).read_text(encoding="utf-8"))
    aliases = [
        alias
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
        for alias in node.names
        if alias.name not in ("TYPE_CHECKING", "Any")
    ]
    assert [a.name for a in aliases if a.asname != a.name] == []


def test_dir_lists_every_public_name() -> None:
    assert set(weft.__all__) <= set(dir(weft))


def test_what_users_need_is_at_the_top() -> None:
    assert set(TOP_LEVEL_NEEDS) <= set(weft.__all__)


def test_every_exception_at_the_top_is_a_weft_error() -> None:
    exceptions = [
        name
        for name in weft.__all__
        if inspect.isclass(getattr(weft, name)) and issubclass(getattr(weft, name), BaseException)
    ]
    assert "CallTimeoutError" in exceptions
    assert [n for n in exceptions if not issubclass(getattr(weft, n), weft.WeftError)] == []


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'weft' has no attribute 'prepare'"):
        _ = weft.prepare  # type: ignore[attr-defined]


def test_importing_weft_loads_none_of_its_layers() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, weft; print(sorted(m for m in sys.modules if m.startswith('weft.')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"


# -- weft.runtime and its rooms --------------------------------------------------


def test_every_runtime_room_lists_its_names_lazily() -> None:
    assert set(rooms()) <= set(lazy_packages())


@pytest.mark.parametrize("package", lazy_packages())
def test_a_package_s_all_is_its_exports(package: str) -> None:
    module = importlib.import_module(package)
    assert len(module.__all__) == len(set(module.__all__))
    assert sorted(module.__all__) == sorted(module._EXPORTS)


@pytest.mark.parametrize("package", lazy_packages())
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    unresolved = []
    for name, where in module._EXPORTS.items():
        try:
            value = getattr(module, name)
        except AttributeError:
            unresolved.append(name)
            continue
        assert value is getattr(importlib.import_module(where), name), name
    assert unresolved == []


@pytest.mark.parametrize("package", [p for p in lazy_packages() if p != "weft.runtime"])
def test_a_room_s_type_checking_imports_repeat_its_exports(package: str) -> None:
    module = importlib.import_module(package)
    assert type_checking_imports(module) == module._EXPORTS


def test_weft_runtime_re_exports_only_what_a_room_makes_public() -> None:
    not_public = [
        f"{room}.{name}"
        for name, room in weft.runtime._EXPORTS.items()
        if name not in importlib.import_module(room).__all__
    ]
    assert not_public == []
