"""A user's file named like a module weft or Python needs (``json.py``, ``mcp.py``),
served by its path.

Found in a real-use trial: ``weft mcp serve mcp.py:tools`` died in a traceback
(``No module named 'mcp.server'; 'mcp' is not a package``) and ``weft mcp serve
json.py:tools`` in another (``module 'json' has no attribute 'dumps'``): the
file was registered in ``sys.modules`` under its stem, over the real module, and
its folder went first on ``sys.path``. A file whose stem names no other module is
still imported under its stem, as ``module:object`` names elsewhere expect.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from weft.cli._serve_targets import load_target

TOOLS = '''
from weft import tool

@tool
def hello(name: str) -> str:
    """Say hello."""
    return f"hello {name}"

tools = [hello]
'''


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Puts back the modules and the import path a test's files may have replaced."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    names = ("json", "mcp", "weft_trial_tools_7731")
    saved = {name: sys.modules.get(name) for name in names}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize("stem", ["json", "mcp"])
def test_a_file_named_like_a_module_leaves_that_module_alone(tmp_path: Path, stem: str) -> None:
    real = importlib.import_module(stem)
    path = tmp_path / f"{stem}.py"
    path.write_text(TOOLS)

    (action,) = load_target(f"{path}:tools")

    assert sys.modules[stem] is real
    assert importlib.import_module(stem).__file__ == real.__file__
    assert action.spec.name == "hello"
    if stem == "mcp":  # what weft mcp serve imports after loading the targets
        assert importlib.import_module("mcp.server.stdio") is not None
    else:
        assert json.dumps({"a": 1}) == '{"a": 1}'


@pytest.mark.usefixtures("restored")
def test_a_file_with_its_own_name_is_still_its_stem(tmp_path: Path) -> None:
    path = tmp_path / "weft_trial_tools_7731.py"
    path.write_text(TOOLS)
    (action,) = load_target(f"{path}:tools")
    assert sys.modules["weft_trial_tools_7731"].__file__ == str(path)
    assert action.spec.name == "hello"
