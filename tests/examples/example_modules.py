"""An example's ``run.py`` imported from its file, for the tests of that example."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def example_run(folder: str) -> Iterator[ModuleType]:
    """``examples/FOLDER/run.py`` while the block runs.

    ``run.py`` puts its folder on ``sys.path`` and imports its neighbours by
    name; after the block the folder is taken off again and the module and
    those neighbours are unloaded, so that another example's neighbour of the
    same name is imported afresh.
    """
    where = EXAMPLES / folder
    spec = importlib.util.spec_from_file_location(f"{folder}_example_run", where / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.modules[spec.name] = module  # a dataclass in it looks its module up
    spec.loader.exec_module(module)
    try:
        yield module
    finally:
        sys.path.remove(str(where))
        for name in set(sys.modules) - before:
            if name == spec.name or str(where) in str(getattr(sys.modules[name], "__file__", "")):
                del sys.modules[name]
