"""Every third-party module weft imports is declared in pyproject.toml.

An undeclared import works on the machine where it happens to be installed
and breaks on a user's. The imports are read with ``ast`` (nothing is run),
mapped to the distributions that provide them, and looked up among the
declared requirements. A distribution only an extra declares is optional:
it must be imported lazily, inside the function that needs it (which can
then say how to install it), or by a module that only users of that extra
load.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "weft"

#: Modules that exist for an extra and are loaded only by its users.
EXTRA_ENTRY_MODULES = {
    "weft.testing.pytest_plugin": "testing",
    # loaded only through weft.runtime.interop's lazy names and `weft a2a serve`
    "weft.runtime.interop.a2a_server": "a2a",
    # imported only by a2a_server: the push notifications of its HTTP agent
    "weft.runtime.interop.a2a_push": "a2a",
    # imported only inside A2aMqttLink's connect, when an A2A-over-MQTT call is made
    "weft.agents._a2a_mqtt_client": "a2a",
    # a pytest module: run by pytest, never imported by weft
    "weft.testing.a2a_mqtt_conformance": "testing",
}
#: Extras for developing weft, not for using it.
DEVELOPMENT_EXTRAS = {"dev"}


@dataclass(frozen=True)
class Import:
    name: str  # top-level module name, e.g. "yaml"
    module: str  # the weft module that imports it
    lazy: bool  # inside a function body


def normalise(name: str) -> str:
    """PEP 503 form of a distribution name: ``PyYAML`` and ``pyyaml`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, f"cannot read requirement {requirement!r}"
    return normalise(match.group(0))


def declared() -> tuple[set[str], dict[str, set[str]]]:
    """(required distributions, {extra: its distributions}) from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {requirement_name(r) for r in project.get("dependencies", [])}
    extras = {
        extra: {requirement_name(r) for r in requirements}
        for extra, requirements in project.get("optional-dependencies", {}).items()
    }
    return required, extras


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def third_party_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        lazy_nodes: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lazy_nodes.update(id(inner) for inner in ast.walk(node) if inner is not node)
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.partition(".")[0]
                if top != "weft" and top not in sys.stdlib_module_names:
                    found.append(Import(top, module_name(path), id(node) in lazy_nodes))
    return found


@functools.cache
def installed() -> dict[str, list[str]]:
    """{top-level module: the distributions providing it}, for what is installed here."""
    return dict(importlib.metadata.packages_distributions())


def distributions_of(name: str) -> set[str]:
    return {normalise(d) for d in installed().get(name, [])}


def test_the_walk_sees_third_party_imports_and_knows_lazy_ones() -> None:
    imports = third_party_imports()
    assert Import("pydantic", "weft.protocols.actions", lazy=False) in imports
    assert any(i.name == "opentelemetry" and i.lazy for i in imports)
    assert distributions_of("yaml") == {"pyyaml"}


def test_every_third_party_import_is_declared() -> None:
    required, extras = declared()
    optional = set().union(*(v for k, v in extras.items() if k not in DEVELOPMENT_EXTRAS))
    problems: set[str] = set()
    for imported in third_party_imports():
        dists = distributions_of(imported.name)
        where = f"'{imported.name}' (imported by {imported.module})"
        if not dists:
            problems.add(f"{where}: no installed distribution provides it")
        elif dists & required:
            continue
        elif not dists & optional:
            problems.add(f"{where}: {', '.join(sorted(dists))} is not declared in pyproject.toml")
        elif not imported.lazy and imported.module not in EXTRA_ENTRY_MODULES:
            problems.add(f"{where}: optional, so it must be imported inside a function")
    assert not problems, "\n".join(sorted(problems))


def test_an_extra_entry_module_belongs_to_a_declared_extra() -> None:
    _, extras = declared()
    for module, extra in EXTRA_ENTRY_MODULES.items():
        assert extra in extras, f"{module} is for extra '{extra}', which is not declared"
        assert (PACKAGE.parent / (module.replace(".", "/") + ".py")).exists()


TESTS = ROOT / "tests"


def imports_of_the_tests() -> set[tuple[str, str]]:
    """``(top-level module, test file)`` for every third-party import under tests/."""
    local = {path.stem for path in TESTS.rglob("*.py")}  # helper modules beside the tests
    found: set[tuple[str, str]] = set()
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in ("weft", "tests") and top not in sys.stdlib_module_names | local:
                    found.add((top, path.relative_to(ROOT).as_posix()))
    return found


def with_their_requirements(names: set[str]) -> set[str]:
    """``names`` and every distribution they require (without extras), transitively."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        # A requirement of one of its own extras ("hypothesis; extra == 'test'") is not installed
        # with it, so it does not count.
        todo.extend(requirement_name(r) for r in requires if "extra ==" not in r.replace('"', "'"))
    return seen


def test_every_third_party_import_of_the_tests_is_declared() -> None:
    """A test needs what it imports declared too (``hypothesis`` in the dev extra, say):
    directly, or as a requirement of something declared."""
    required, extras = declared()
    allowed = with_their_requirements(required.union(*extras.values()))
    problems = {
        f"'{name}' (imported by {where}): "
        + (", ".join(sorted(distributions_of(name))) or "no installed distribution provides it")
        for name, where in imports_of_the_tests()
        if not distributions_of(name) & allowed
    }
    assert not problems, "\n".join(sorted(problems))
