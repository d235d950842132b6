"""``weft run``'s live display gets the same critic reviews and loop passes on both engines."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.interop.engine_events import Events
from weft.cli.run import run_command

WORKFLOW = """
from typing import Any

from weft import Workflow, tool


@tool
def write(topic: str, feedback: str = "", draft: str = "") -> str:
    return f"{topic}, shorter" if feedback else f"{topic}: a long first draft"


@tool
def shorter_please(artifact: str, source: str = "", target: str = "") -> dict[str, Any]:
    return {"approved": "shorter" in artifact, "feedback": "cut it"}


@tool
def upper(text: str) -> str:
    return text.upper()


@tool
def attempt(iteration: int = 0) -> dict[str, Any]:
    return {"approved": iteration >= 2}


@tool
def echo(value: Any = None) -> Any:
    return value


workflow = Workflow("shown")
workflow.node("writer", write, with_={"topic": "weft"})
workflow.node("shout", upper, after=[])
workflow.edge("writer", "shout", critic=shorter_please, max_rounds=2)
workflow.node("attempt", attempt, with_={"iteration": "${iteration}"})
workflow.node("check", echo, after=["attempt"], with_={"value": "${attempt}"})
workflow.edge("check", "attempt", when="not output.approved", max_iterations=4)
"""


def _shown(engine: str, file: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """What the live display of ``weft run --engine ENGINE FILE`` was given to show."""
    events = Events()

    class Panel:
        def __init__(self, **_options: Any) -> None:  # RunDisplay's text=
            pass

        def __enter__(self) -> Panel:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

        def on_event(self, event: Any) -> None:
            events(event)

    monkeypatch.setattr("weft.cli._display.RunDisplay", Panel)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run_command.main(["--engine", engine, str(file)], standalone_mode=False)
    return events.seen


def test_the_live_display_sees_reviews_and_loop_passes_on_langgraph_as_on_weft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_HOME", str(tmp_path))
    monkeypatch.delenv("WEFT_BROKER", raising=False)
    file = tmp_path / "shown.py"
    file.write_text(WORKFLOW)
    on_weft = _shown("weft", file, monkeypatch)
    assert [e[0] for e in on_weft].count("review") == 2
    assert [e[0] for e in on_weft].count("loop") == 2
    assert _shown("langgraph", file, monkeypatch) == on_weft
