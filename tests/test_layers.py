"""The shape of the package: layers import one way, no cycles, runtime rooms in order.

DESIGN.md section 2: ``protocols`` imports nothing of weft; ``agents`` and
``workflows`` import only ``protocols``; ``runtime`` may import those three;
``testing`` may import everything and nothing but ``cli`` imports it; ``cli``
may import everything. Inside ``runtime`` the rooms import one way, each only
from rooms to its left in ``ROOMS``. No two modules import each other, even
through a chain, and no module grows past ``MAX_LINES``.

The imports are read with ``ast`` (nothing is imported or run), the way
``../shared/tools/layers.py`` does. Every import counts: one under
``if TYPE_CHECKING:`` or inside a function is still a dependency a reader has
to follow, so a type-only back-reference is a cycle too. The checks are
functions of a source tree, and the last tests feed them a small bad tree to
show that each check can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import weft

PACKAGE = Path(weft.__file__).parent

#: layer -> the layers it may import (its own is always allowed)
ALLOWED: dict[str, frozenset[str]] = {
    "protocols": frozenset(),
    "agents": frozenset({"protocols"}),
    "workflows": frozenset({"protocols"}),
    "runtime": frozenset({"protocols", "agents", "workflows"}),
    "testing": frozenset({"protocols", "agents", "workflows", "runtime"}),
    "cli": frozenset({"protocols", "agents", "workflows", "runtime", "testing"}),
}

#: runtime rooms, lowest first: a room imports only itself and rooms to its left
ROOMS = (
    "support",
    "bus",
    "tracing",
    "engine",
    "remote",
    "interop",
    "routing",
    "memory",
    "teams",
    "orchestrator",
)

MAX_LINES = 600


# -- reading a tree --------------------------------------------------------------


@dataclass
class ImportGraph:
    """Which module of a package imports which other modules of it."""

    package: Path
    modules: dict[str, Path] = field(default_factory=dict)
    imports: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, package: Path) -> ImportGraph:
        graph = cls(package)
        for path in sorted(package.rglob("*.py")):
            graph.modules[_module_name(package, path)] = path
        for name, path in graph.modules.items():
            graph.imports[name] = set(graph._imported_by(name, path))
        return graph

    def _imported_by(self, current: str, path: Path) -> Iterator[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(current, is_package, node)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                module = self._innermost_module(target)
                # a package importing its own submodules is how a package is built
                if module and module != current and not module.startswith(current + "."):
                    yield module

    def _innermost_module(self, dotted: str) -> str:
        """``weft.a.b.name`` -> ``weft.a.b`` when that is the module ``name`` lives in."""
        while dotted and dotted not in self.modules:
            dotted = dotted.rpartition(".")[0]
        return dotted


def _module_name(package: Path, path: Path) -> str:
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _part(module: str, index: int) -> str:
    parts = module.split(".")
    return parts[index] if len(parts) > index else ""


# -- the checks ------------------------------------------------------------------


def layer_violations(graph: ImportGraph) -> list[str]:
    """``"a -> b"`` for each import that goes against ``ALLOWED``."""
    found = []
    for source, targets in graph.imports.items():
        src = _part(source, 1)
        for target in targets:
            dst = _part(target, 1)
            if src in ALLOWED and dst in ALLOWED and src != dst and dst not in ALLOWED[src]:
                found.append(f"{source} -> {target}")
    return sorted(found)


def import_cycles(graph: ImportGraph) -> list[list[str]]:
    """Groups of modules that import each other, directly or through a chain (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.imports.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph.imports):
        if v not in index:
            visit(v)
    return found


def room_violations(graph: ImportGraph) -> list[str]:
    """Imports from a runtime room to a room on its right, and rooms missing from ``ROOMS``."""
    found = set()
    for source, targets in graph.imports.items():
        if _part(source, 1) != "runtime" or not _part(source, 2):
            continue  # ``weft.runtime`` itself names the public API of every room
        src = _part(source, 2)
        if src not in ROOMS:
            found.add(f"room '{src}' is not in ROOMS")
            continue
        for target in targets:
            dst = _part(target, 2)
            if (
                _part(target, 1) == "runtime"
                and dst in ROOMS
                and ROOMS.index(dst) > ROOMS.index(src)
            ):
                found.add(f"{source} -> {target}")
    return sorted(found)


def loose_runtime_modules(graph: ImportGraph) -> list[str]:
    """Modules directly in ``runtime/`` (every module belongs to a room)."""
    runtime = graph.package / "runtime"
    return sorted(
        name
        for name, path in graph.modules.items()
        if path.parent == runtime and path.name != "__init__.py"
    )


def oversized_modules(graph: ImportGraph, limit: int = MAX_LINES) -> list[str]:
    """``"module: N lines"`` for each module longer than ``limit`` lines."""
    found = []
    for name, path in graph.modules.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append(f"{name}: {lines} lines")
    return sorted(found)


# -- weft itself -----------------------------------------------------------------


@pytest.fixture(scope="module")
def weft_graph() -> ImportGraph:
    return ImportGraph.read(PACKAGE)


def test_weft_layers_import_one_way(weft_graph: ImportGraph) -> None:
    assert layer_violations(weft_graph) == []


def test_weft_has_no_import_cycle(weft_graph: ImportGraph) -> None:
    assert import_cycles(weft_graph) == []


def test_weft_runtime_rooms_import_only_rooms_to_their_left(weft_graph: ImportGraph) -> None:
    assert room_violations(weft_graph) == []


def test_weft_runtime_has_no_module_outside_a_room(weft_graph: ImportGraph) -> None:
    assert loose_runtime_modules(weft_graph) == []


def test_no_weft_module_is_over_the_line_limit(weft_graph: ImportGraph) -> None:
    assert oversized_modules(weft_graph) == []


def test_the_graph_sees_weft_s_own_imports(weft_graph: ImportGraph) -> None:
    # guards the checks above against reading nothing and finding nothing
    assert "weft.protocols" in weft_graph.imports["weft.workflows.builder"]
    assert len(weft_graph.modules) > 100


# -- the checks can fail ---------------------------------------------------------


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """A package ``weft`` under ``root`` from ``{"weft/x/y.py": source}``; returns its folder."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                init.write_text("")
        path.write_text(source)
    return root / "weft"


CLEAN_TREE = {
    "weft/protocols/actions.py": "X = 1\n",
    "weft/agents/tool.py": "from weft.protocols.actions import X\n",
    "weft/workflows/builder.py": "from ..protocols import actions\n",
    "weft/runtime/bus/inprocess.py": "from weft.runtime.support.clock import now\n",
    "weft/runtime/support/clock.py": "def now() -> float:\n    return 0.0\n",
    "weft/runtime/engine/runner.py": (
        "from weft.runtime.bus import inprocess\nfrom weft.workflows import builder\n"
    ),
    "weft/testing/models.py": "from weft.runtime.engine import runner\n",
    "weft/cli/run.py": "import weft.runtime.engine.runner\nimport weft.testing\n",
}


def test_a_clean_tree_has_nothing_to_report(tmp_path: Path) -> None:
    graph = ImportGraph.read(write_tree(tmp_path, CLEAN_TREE))
    # ``from pkg import module`` runs ``pkg/__init__`` too: both are imports
    assert graph.imports["weft.workflows.builder"] == {"weft.protocols", "weft.protocols.actions"}
    assert layer_violations(graph) == []
    assert import_cycles(graph) == []
    assert room_violations(graph) == []
    assert loose_runtime_modules(graph) == []
    assert oversized_modules(graph) == []


def test_a_layer_violation_is_reported(tmp_path: Path) -> None:
    graph = ImportGraph.read(
        write_tree(
            tmp_path,
            {**CLEAN_TREE, "weft/workflows/builder.py": "from weft.agents.tool import tool\n"},
        )
    )
    assert layer_violations(graph) == ["weft.workflows.builder -> weft.agents.tool"]


def test_importing_testing_from_the_runtime_is_a_layer_violation(tmp_path: Path) -> None:
    graph = ImportGraph.read(
        write_tree(
            tmp_path, {**CLEAN_TREE, "weft/runtime/engine/debug.py": "import weft.testing\n"}
        )
    )
    assert layer_violations(graph) == ["weft.runtime.engine.debug -> weft.testing"]


def test_a_cycle_through_a_type_only_and_a_function_import_is_reported(tmp_path: Path) -> None:
    graph = ImportGraph.read(
        write_tree(
            tmp_path,
            {
                **CLEAN_TREE,
                "weft/runtime/engine/compiler.py": (
                    "def compile():\n    from weft.runtime.engine import executor\n"
                ),
                "weft/runtime/engine/executor.py": (
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from .compiler import compile\n"
                ),
            },
        )
    )
    assert import_cycles(graph) == [
        ["weft.runtime.engine.compiler", "weft.runtime.engine.executor"]
    ]


def test_a_room_importing_a_room_to_its_right_is_reported(tmp_path: Path) -> None:
    graph = ImportGraph.read(
        write_tree(
            tmp_path,
            {
                **CLEAN_TREE,
                "weft/runtime/bus/inprocess.py": "from weft.runtime.engine import runner\n",
            },
        )
    )
    assert room_violations(graph) == [
        "weft.runtime.bus.inprocess -> weft.runtime.engine",
        "weft.runtime.bus.inprocess -> weft.runtime.engine.runner",
    ]


def test_a_room_missing_from_the_order_is_reported(tmp_path: Path) -> None:
    graph = ImportGraph.read(write_tree(tmp_path, {**CLEAN_TREE, "weft/runtime/nowhere/x.py": ""}))
    assert room_violations(graph) == ["room 'nowhere' is not in ROOMS"]


def test_a_module_directly_in_runtime_is_reported(tmp_path: Path) -> None:
    graph = ImportGraph.read(write_tree(tmp_path, {**CLEAN_TREE, "weft/runtime/scheduler.py": ""}))
    assert loose_runtime_modules(graph) == ["weft.runtime.scheduler"]


def test_a_module_over_the_line_limit_is_reported(tmp_path: Path) -> None:
    graph = ImportGraph.read(
        write_tree(tmp_path, {**CLEAN_TREE, "weft/agents/big.py": "x = 1\n" * (MAX_LINES + 1)})
    )
    assert oversized_modules(graph) == [f"weft.agents.big: {MAX_LINES + 1} lines"]
