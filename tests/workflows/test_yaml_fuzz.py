"""Fuzzing the YAML loader: whatever the text, a workflow or a ``DefinitionError``, bounded.

Hypothesis writes random YAML-like text, valid workflows and mutations of
them, alias bombs and deep nesting. The loader must return a
``WorkflowSpec`` or raise weft's ``DefinitionError`` with a message naming
the file; never another exception (``RecursionError``, ``MemoryError``,
PyYAML's own errors, pydantic's), and never more than a bounded amount of
memory. Runs are derandomized, so the suite stays deterministic.
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from weft.protocols import DefinitionError, WorkflowSpec
from weft.workflows import LoadLimits, loads_workflow

FILE = "fuzz.yaml"
#: Small limits keep each example fast; the defaults get their own, fewer examples.
SMALL = LoadLimits(max_bytes=64 * 1024, max_depth=24, max_aliases=64, max_values=5_000)
#: More examples for a deeper search: WEFT_FUZZ_EXAMPLES=5000 python -m pytest this file.
EXAMPLES = int(os.environ.get("WEFT_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FRAGMENTS = [
    "&a ", "*a", "&b [", "*b", "<<: *a", "[", "]", "{", "}", ", ", ": ", "- ", "? ",
    "\n", "\n  ", "\n    ", "\t", "'", '"', "|\n", ">-\n", "#", "!!str ", "!!python/object ",
    "---\n", "...\n", "%YAML 1.1\n", "${inputs.x}", "null", "~", "on", "1e3", ".nan",
    "nodes:", "action: t", "after: [a]", "\x00", "\ufeff", "é", "\\",
]  # fmt: skip

#: Names a node, action or key may have, YAML's booleans among them ("on", "no").
names = st.sampled_from(["a", "b", "fetch", "on", "no", "x1", "_y", "inputs", "with"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=8,
)


@st.composite
def workflows(draw: st.DrawFn) -> str:
    """A valid workflow, dumped by PyYAML in block or flow style."""
    nodes = draw(st.dictionaries(names, st.fixed_dictionaries({}), min_size=1, max_size=4))
    for node in nodes:
        nodes[node] = {"action": draw(names), "with": draw(st.dictionaries(names, json_values))}
    data = {"name": draw(names), "nodes": nodes}
    return yaml.safe_dump(data, default_flow_style=draw(st.booleans()))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid workflow after a few random insertions, deletions and repeats."""
    text = draw(workflows())
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "repeat"]))
        if edit == "insert":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        else:
            end = min(len(text), at + draw(st.integers(1, 40)))
            piece = text[at:end]
            text = (
                text[:at]
                + (piece * draw(st.integers(2, 5)) if edit == "repeat" else "")
                + text[end:]
            )
    return text


@st.composite
def alias_bombs(draw: st.DrawFn, smallest: int = 1) -> str:
    """Each level an anchor repeating the previous one, at the top or inside a node's ``with``.

    Levels and width from ``smallest`` to 12: at 7 and more every bomb is far
    over the default ``max_values`` (8 x 7**6 values at the least).
    """
    levels, width = draw(st.integers(smallest, 12)), draw(st.integers(smallest, 12))
    lines = [f"l0: &a0 [{','.join('x' * width)}]"]
    for level in range(1, levels):
        items = [f"*a{level - 1}"] * width
        if draw(st.booleans()):
            lines.append(f"l{level}: &a{level} [{','.join(items)}]")
        else:
            lines.append(f"l{level}: &a{level}\n" + "".join(f"  - {item}\n" for item in items))
    body = "\n".join(lines) + "\n"
    if draw(st.booleans()):
        return body
    indented = "".join(f"      {line}\n" for line in body.splitlines())
    return "name: x\nnodes:\n  a:\n    action: t\n    with:\n" + indented


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    """Flow collections nested up to 3,000 levels, block ones (two spaces a level) up to 400."""
    style = draw(st.sampled_from(["flow-list", "flow-map", "block-list", "block-map"]))
    depth = draw(st.integers(0, 3000 if style.startswith("flow") else 400))
    if style == "flow-list":
        value = "[" * depth + "]" * depth
    elif style == "flow-map":
        value = "{k: " * depth + "v" + "}" * depth
    elif style == "block-list":
        value = "\n" + "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "v"
    else:
        value = "\n" + "".join("  " * i + "k:\n" for i in range(depth)) + "  " * depth + "v"
    return f"name: x\nnodes:\n  a:\n    action: t\n    with:\n      v: {value}\n"


yaml_texts = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
    st.text(max_size=200),
    workflows(),
    mutated(),
    alias_bombs(),
    deep_nesting(),
)


def load_bounded(text: str, limits: LoadLimits | None) -> tuple[Any, int]:
    """What loading ``text`` gives (a spec or a ``DefinitionError``) and its peak memory."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = loads_workflow(text, file=FILE, limits=limits)
        except DefinitionError as exc:
            outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


def check(outcome: Any) -> None:
    if isinstance(outcome, WorkflowSpec):
        return
    assert isinstance(outcome, DefinitionError)
    assert outcome.problems and str(outcome).strip()
    for message, where in outcome.problems:
        assert message.strip() and where.file in (FILE, None), (message, where)


@FUZZ
@given(yaml_texts)
@example('"\\U00110000"')  # PyYAML's scanner fails in chr() on it (ValueError)
@example("\x1f")  # a character YAML refuses before parsing starts (ReaderError)
def test_any_text_gives_a_workflow_or_a_definition_error_within_small_limits(text: str) -> None:
    outcome, peak = load_bounded(text, SMALL)
    check(outcome)
    assert peak < 32 * 1024 * 1024, f"{peak / 1e6:.0f} MB"


@settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))
@given(st.one_of(alias_bombs(smallest=7), deep_nesting()))
def test_bombs_and_deep_nesting_stay_bounded_at_the_default_limits(text: str) -> None:
    outcome, peak = load_bounded(text, None)
    check(outcome)
    assert peak < 128 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
