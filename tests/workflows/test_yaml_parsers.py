"""libyaml's parser and PyYAML's own under weft's composer: the same workflows, the same
errors where it matters.

weft reads YAML with libyaml's scanner and parser when PyYAML has them (its wheels
do): about five times faster on a big file, such as a 1,000-node MacNet topology.
The pure-Python parser stays the fallback, and takes over where libyaml gives up
(its own nesting bound, text it cannot encode), so both must read every file the
same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import weft.workflows._yaml_compose as compose
from weft.protocols import DefinitionError
from weft.workflows import dumps_workflow, loads_workflow
from weft.workflows.topologies import layered

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))


def both(text: str, file: str = "wf.yaml") -> tuple[object, object]:
    """What each parser makes of ``text``: the spec's dump, or the error's text."""
    out = []
    for libyaml in (True, False):
        compose._LIBYAML = libyaml
        try:
            out.append(loads_workflow(text, file=file).model_dump(mode="json"))
        except DefinitionError as exc:
            out.append(str(exc))
        finally:
            compose._LIBYAML = LIBYAML
    return out[0], out[1]


LIBYAML = compose._LIBYAML


def test_libyaml_is_what_reads_here() -> None:
    """The speed is libyaml's: the suite must run where it is (PyPI's PyYAML wheels)."""
    assert compose._LIBYAML


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_examples_read_the_same(path: Path) -> None:
    fast, slow = both(path.read_text(), file=str(path))
    assert fast == slow


def test_a_large_topology_reads_the_same() -> None:
    text = dumps_workflow(layered(20, 10, "relay").build())
    fast, slow = both(text)
    assert isinstance(fast, dict) and fast == slow
    assert len(fast["nodes"]) == 200


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: w\nnodes:\n\ta: {action: x}\n", "wf.yaml:3:1: YAML syntax error"),
        ("name: w\nnodes: [1, 2\n", "wf.yaml:3:1: YAML syntax error"),
        ("name: w\nnodes: *nope\n", "wf.yaml:2:8: YAML syntax error: found undefined alias"),
        ("name: w\n---\nnodes: {}\n", "wf.yaml:2:1: YAML syntax error: but found another document"),
        ("name: w\nnodes: \ud800\n", "wf.yaml:2: YAML error: special characters are not allowed"),
        ("name: w\nnodes: {a: " + "[" * 1000 + "]" * 1000 + "}\n", "YAML nested more than 64"),
    ],
    ids=["tab", "unclosed", "alias", "two documents", "surrogate", "too deep"],
)
def test_mistakes_are_placed_alike(text: str, words: str) -> None:
    fast, slow = both(text)
    assert isinstance(fast, str) and isinstance(slow, str)
    assert words in fast and words in slow
    # where: the same line and column, whatever each parser's wording
    assert fast.split(" YAML")[0] == slow.split(" YAML")[0]


def test_a_tab_indent_is_named() -> None:
    fast, slow = both("name: w\nnodes:\n\ta: {action: x}\n")
    assert "(a tab: YAML indents with spaces only)" in fast
    assert "(a tab: YAML indents with spaces only)" in slow
