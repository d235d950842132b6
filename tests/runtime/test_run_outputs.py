"""Declared outputs whose path cannot be read: null, and the run says why (both engines).

``${verse.output}`` is the guess a LangGraph or CrewAI user makes for a node's
result; it used to be a silent ``null`` in a run that succeeded.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from weft import run_workflow, tool
from weft.runtime.engine.to_langgraph import run_langgraph

Engine = Callable[..., Awaitable[Any]]
ENGINES = pytest.mark.parametrize(
    "engine", [run_workflow, run_langgraph], ids=["weft", "langgraph"]
)


@tool
def verse(text: str) -> str:
    """Three lines of verse."""
    return f"{text}\nand fall\nagain"


@tool
def scores(text: str) -> dict[str, int]:
    """A map of scores."""
    return {"clarity": 3}


def workflow(tmp_path: Path, outputs: str) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: poem
            inputs:
              flag: {type: boolean, default: false}
            nodes:
              poem: {action: verse, with: {text: Tides rise}}
              rate: {action: scores, after: poem, with: {text: "${poem}"}}
              never: {action: verse, after: [{node: poem, when: "inputs.flag"}], with: {text: x}}
            outputs:
            """
        )
        + textwrap.indent(textwrap.dedent(outputs), "  ")
    )
    return path


ACTIONS = {"verse": verse, "scores": scores}


@ENGINES
async def test_an_unreadable_path_into_a_node_that_ran_is_warned(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = workflow(
        tmp_path,
        """
        text: ${poem.output}
        clarity: ${rate.clarty}
        fine: ${rate.clarity}
        """,
    )
    with caplog.at_level(logging.WARNING, logger="weft.run"):
        result = await engine(path, actions=ACTIONS)
    assert result.ok
    assert result.outputs == {"text": None, "clarity": None, "fine": 3}
    assert result.warnings == [
        "output 'text' is null: '${poem.output}': cannot read 'output' of str at 'poem'; "
        "the value of '${poem}' is the output itself",
        "output 'clarity' is null: '${rate.clarty}': 'rate' has no key 'clarty' (keys: clarity)",
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "weft.run"]
    assert logged == [f"workflow poem: {line}" for line in result.warnings]


@ENGINES
async def test_an_output_of_a_node_that_did_not_run_is_null_without_a_warning(
    engine: Engine, tmp_path: Path
) -> None:
    path = workflow(tmp_path, "skipped: ${never}\nfirst_line: ${poem}\n")
    result = await engine(path, actions=ACTIONS)
    assert result.ok
    assert result.outputs == {"skipped": None, "first_line": "Tides rise\nand fall\nagain"}
    assert result.warnings == []


@ENGINES
async def test_a_run_whose_every_end_node_was_skipped_says_so(
    engine: Engine, tmp_path: Path
) -> None:
    """A router whose model answered none of the expected labels: both branches skipped, a
    run that "succeeded" with nothing to show used to say nothing about it."""
    path = tmp_path / "route.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: support
            nodes:
              triage: {action: verse, with: {text: "2022-17T19:56:34Z"}}
              billing: {action: verse, after: [{node: triage, when: "output == 'billing'"}]}
              refunds: {action: verse, after: [{node: triage, when: "output == 'refunds'"}]}
            """
        )
    )
    result = await engine(path, actions=ACTIONS)
    assert result.ok and result.outputs == {}
    assert result.warnings == [
        "no end node ran ('billing', 'refunds'): every branch to them was skipped, so the "
        "run has no outputs (a 'when' that no answer matched?)"
    ]


@ENGINES
async def test_a_failed_run_gets_no_warning_about_its_missing_outputs(
    engine: Engine, tmp_path: Path
) -> None:
    @tool
    def broken(text: str) -> str:
        """Always fails."""
        raise RuntimeError("down")

    path = tmp_path / "fail.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: failing
            nodes:
              first: {action: broken, with: {text: x}, retry: {max_attempts: 1}}
              last: {action: verse, after: first}
            """
        )
    )
    result = await engine(path, actions={**ACTIONS, "broken": broken})
    assert not result.ok
    assert result.warnings == []
