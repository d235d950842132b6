"""A workflow file's ``python:`` refs are resolved from its own folder, whatever
else the process has imported: two files, each with a same-named module beside
it, each get their own (Python's module cache would hand the second the first's).

The module names here are unique to this file (the process's module cache is
shared by every test), and the same in both folders of a test: that clash is
what is tested.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
from pathlib import Path

import pytest
import yaml

from weft.agents import tool
from weft.protocols import DefinitionError
from weft.runtime.engine.compiler import compile_workflow
from weft.runtime.engine.runner import run_workflow


def _flow(folder: Path, ref: str, module: str = "", source: str = "") -> Path:
    """``folder/flow.yaml`` with one node calling ``ref``, and ``module`` written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    if module:
        target = folder.joinpath(*module.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    path = folder / "flow.yaml"
    actions = f'actions:\n  act: {{python: "{ref}"}}\n'
    path.write_text(f"name: f\n{actions}nodes:\n  n: {{action: act}}\n")
    return path


async def _output(path: Path) -> object:
    result = await run_workflow(path, record=False)
    return result.outputs["n"]


async def test_two_workflows_with_same_named_modules_each_run_their_own(tmp_path: Path) -> None:
    source = "def fn() -> str:\n    return {!r}\n"
    a = _flow(tmp_path / "a", "samemod_k7q:fn", "samemod_k7q.py", source.format("a"))
    b = _flow(tmp_path / "b", "samemod_k7q:fn", "samemod_k7q.py", source.format("b"))
    assert await _output(a) == "a"
    assert await _output(b) == "b"
    assert await _output(a) == "a"  # and the first is still its own afterwards


def test_a_function_only_the_second_module_has_is_found(tmp_path: Path) -> None:
    first = "def fn() -> str:\n    return 'a'\n"
    second = "def other() -> str:\n    return 'b'\n"
    compile_workflow(_flow(tmp_path / "a", "samemod_r2w:fn", "samemod_r2w.py", first))
    compiled = compile_workflow(
        _flow(tmp_path / "b", "samemod_r2w:other", "samemod_r2w.py", second)
    )
    assert compiled.registry.get("act").spec.name == "act"


async def test_packages_beside_two_workflows_keep_their_relative_imports_apart(
    tmp_path: Path,
) -> None:
    for folder, word in (("a", "alpha"), ("b", "beta")):
        package = tmp_path / folder / "samepkg_m3x"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "words.py").write_text(f"WORD = {word!r}\n")
        (package / "tools.py").write_text(
            "from .words import WORD\n\ndef fn() -> str:\n    return WORD\n"
        )
        _flow(tmp_path / folder, "samepkg_m3x.tools:fn")
    assert await _output(tmp_path / "a" / "flow.yaml") == "alpha"
    assert await _output(tmp_path / "b" / "flow.yaml") == "beta"


def test_reducers_beside_two_workflows_are_each_their_own(tmp_path: Path) -> None:
    """A reducer's module beside the file is importable even when no action imported it."""

    @tool
    def one() -> int:
        return 1

    reducers = []
    for folder, pick in (("a", "values[0]"), ("b", "'b'")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "samered_p4n.py").write_text(
            f"def pick(values, sources):\n    return {pick}\n"
        )
        path = tmp_path / folder / "flow.yaml"
        path.write_text(
            "name: f\nnodes:\n  x: {action: one}\n  y: {action: one}\n"
            "  z: {action: one, after: [x, y], join: {reducer: 'samered_p4n:pick'}}\n"
        )
        reducers.append(compile_workflow(path, actions=[one]).nodes["z"].reducer)
    assert [reducer([1, 2], ["x", "y"]) for reducer in reducers] == [1, "b"]


def test_a_standard_library_module_is_not_displaced_by_a_file_beside_the_workflow(
    tmp_path: Path,
) -> None:
    from weft.runtime.engine.importing import import_object

    (tmp_path / "json.py").write_text("def dumps(obj):\n    return 'mine'\n")
    assert import_object("json:dumps", folders=[tmp_path]) is json.dumps


def test_an_installed_module_is_not_displaced_by_a_file_beside_the_workflow(
    tmp_path: Path,
) -> None:
    from weft.runtime.engine.importing import import_object

    (tmp_path / "yaml.py").write_text("def safe_dump(data):\n    return 'mine'\n")
    found = import_object("yaml:safe_dump", folders=[tmp_path])
    assert found is yaml.safe_dump


async def test_a_package_on_the_import_path_still_resolves_by_name(tmp_path: Path) -> None:
    package = tmp_path / "lib" / "samelib_q1d"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("def fn() -> str:\n    return 'lib'\n")
    path = _flow(tmp_path / "flows", "samelib_q1d:fn")
    sys.path.insert(0, str(tmp_path / "lib"))
    try:
        assert await _output(path) == "lib"
    finally:
        sys.path.remove(str(tmp_path / "lib"))


def test_a_module_the_program_imported_itself_is_the_one_the_workflow_gets(
    tmp_path: Path,
) -> None:
    from weft.runtime.engine.importing import import_object

    (tmp_path / "samemod_j5v.py").write_text("def fn() -> str:\n    return 'x'\n")
    sys.path.insert(0, str(tmp_path))
    try:
        samemod_j5v = importlib.import_module("samemod_j5v")  # the program's own import
    finally:
        sys.path.remove(str(tmp_path))
    assert import_object("samemod_j5v:fn", folders=[tmp_path]) is samemod_j5v.fn


def test_what_a_module_loaded_by_path_defines_pickles(tmp_path: Path) -> None:
    from weft.runtime.engine.importing import import_object

    (tmp_path / "samemod_z8c.py").write_text(
        "from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: int\n"
    )
    point_type = import_object("samemod_z8c:Point", folders=[tmp_path])
    point = point_type(3)
    assert pickle.loads(pickle.dumps(point)) == point
    assert point_type.__module__.startswith("samemod_z8c")


def test_a_missing_submodule_of_a_package_beside_the_workflow_is_named_as_written(
    tmp_path: Path,
) -> None:
    (tmp_path / "samepkg_v6b").mkdir()
    (tmp_path / "samepkg_v6b" / "__init__.py").write_text("")
    path = _flow(tmp_path, "samepkg_v6b.nothere:fn")
    with pytest.raises(DefinitionError) as info:
        compile_workflow(path)
    message = str(info.value)
    assert "samepkg_v6b.nothere" in message
    assert "__weft_" not in message


def test_a_file_named_like_a_standard_module_is_named_when_the_ref_fails(tmp_path: Path) -> None:
    path = _flow(tmp_path, "json:summarise", "json.py", "def summarise() -> str:\n    return ''\n")
    with pytest.raises(DefinitionError) as info:
        compile_workflow(path)
    message = str(info.value)
    assert "module 'json' has no attribute 'summarise'" in message
    assert f"{tmp_path / 'json.py'} is not used" in message and "rename the file" in message


async def test_the_user_s_own_import_of_the_module_shares_its_state(tmp_path: Path) -> None:
    """One workflow: its module is the one ``import`` gives the user's other code, not
    a second copy with its own module-level state (a cache, a connection, a counter)."""
    folder = tmp_path / "solo"
    _flow(
        folder,
        "sharedstate_p4v:fn",
        "sharedstate_p4v.py",
        "CALLS: list[str] = []\n\ndef fn() -> int:\n    CALLS.append('x')\n    return len(CALLS)\n",
    )
    assert await _output(folder / "flow.yaml") == 1
    sys.path.insert(0, str(folder))  # the user's code beside it imports it by name
    try:
        assert importlib.import_module("sharedstate_p4v").CALLS == ["x"]
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("sharedstate_p4v", None)
