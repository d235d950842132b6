"""``weft validate`` and ``weft run`` list the problems of loading the actions with the rest.

An unknown action beside an unknown field, two ``python:`` refs that cannot
be imported beside a bad ``after:``, an argument of the wrong type beside a
misspelt field: one run lists them all, in file order, exit 2, no traceback;
``weft run`` prints the same lines and runs nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from validate_output import invoke, problem_lines

TOOLS = """\
def summarise(text: str, n: int = 3) -> str:
    return text[: n * 10]


def upper(text: str) -> str:
    return text.upper()
"""

UNKNOWN_ACTION = """\
name: trial_a
actions:
  summarise: {python: "action_stage_tools:summarise"}
  upper: {python: "action_stage_tools:upper"}
nodes:
  first:
    action: summarise
    with: {text: "hello world"}
    timout: 5
  second:
    action: uper
    after: [first]
"""

BAD_REFS = """\
name: trial_b
actions:
  summarise: {python: "action_stage_tools:summarise"}
  fetch: {python: "action_stage_missing:fetch"}
  shout: {python: "action_stage_tools:uper"}
nodes:
  get:
    action: fetch
    with: {url: "http://example.org"}
  loud:
    action: shout
    after: [gte]
  short:
    action: summarise
    after: [loud]
"""

WRONG_ARGUMENT = """\
name: trial_c
actions:
  summarise: {python: "action_stage_tools:summarise"}
  upper: {python: "action_stage_tools:upper"}
nodes:
  short:
    action: summarise
    with: {text: "hello world", n: "three"}
  loud:
    action: upper
    afterr: [short]
"""

EXPECTED = {
    "a": [
        ":9:5, node 'first', field 'timout': unknown field 'timout' (did you mean 'timeout'?)",
        ":11:5, node 'second', field 'action': unknown action 'uper' (did you mean 'upper'?)",
    ],
    "b": [
        ":4:3: cannot import module 'action_stage_missing': No module named 'action_stage_missing'",
        ":5:3: module 'action_stage_tools' has no attribute 'uper' (did you mean 'upper'?)",
        ":12:13, node 'loud', field 'after': edge from unknown node 'gte' (did you mean 'get'?)",
    ],
    "c": [
        ":8:33, node 'short', field 'with.n': argument 'n' of action 'summarise' should be "
        "integer, got str 'three'",
        ":11:5, node 'loud', field 'afterr': unknown field 'afterr' (did you mean 'after'?)",
    ],
}

FILES = {"a": UNKNOWN_ACTION, "b": BAD_REFS, "c": WRONG_ARGUMENT}


@pytest.mark.parametrize("case", sorted(FILES))
def test_validate_lists_the_action_problems_with_the_others(tmp_path: Path, case: str) -> None:
    (tmp_path / "action_stage_tools.py").write_text(TOOLS)
    path = tmp_path / f"{case}.yaml"
    path.write_text(FILES[case])
    lines = problem_lines(invoke(tmp_path, "validate", str(path)))
    assert lines == [f"{path}{line}" for line in EXPECTED[case]]


@pytest.mark.parametrize("case", sorted(FILES))
def test_run_prints_the_same_list_and_runs_nothing(tmp_path: Path, case: str) -> None:
    (tmp_path / "action_stage_tools.py").write_text(TOOLS)
    path = tmp_path / f"{case}.yaml"
    path.write_text(FILES[case])
    assert problem_lines(invoke(tmp_path, "run", str(path))) == [
        f"{path}{line}" for line in EXPECTED[case]
    ]
    runs = invoke(tmp_path, "runs", "--json")
    assert runs.exit_code == 0, runs.output
    assert runs.stdout.strip() == "[]"


def test_run_with_a_broker_in_the_environment_lists_them_all_too(tmp_path: Path) -> None:
    """With ``$WEFT_BROKER`` set, ``weft run`` first asks which actions the file leaves to
    agents; that reading stopped at the field problems, and the run printed only those."""
    (tmp_path / "action_stage_tools.py").write_text(TOOLS)
    path = tmp_path / "b.yaml"
    path.write_text(FILES["b"])
    broker = {"WEFT_BROKER": "mqtt://127.0.0.1:9"}  # never reached: the file does not load
    assert problem_lines(invoke(tmp_path, "run", str(path), env=broker)) == [
        f"{path}{line}" for line in EXPECTED["b"]
    ]
