"""A subtask that failed, was fixed and resumed, is routed to its agent again.

Before, the ask taught the router's outcome memory (in the experience
memory's Chroma store) that the agent failed, and ``weft resume`` taught it
nothing: the same task then found "no agent fits" and nothing ran, although
the only agent had just done it. The capability router (MiniLM) over
embedded Chroma, as ``weft ask`` routes by default.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from offline_weft import weft

from weft.runtime.engine.journal import Journal

DESK = '''
from pathlib import Path
from weft import tool

HERE = Path(__file__).parent

@tool
def summarise(task: str) -> str:
    """Summarise a text into one short paragraph."""
    if not (HERE / "fixed").exists():
        raise ValueError("the summariser is broken")
    return "summary: " + task

agents = [summarise]
'''

TASK = "Summarise the heat pump report"


def test_an_agent_fixed_and_resumed_is_routed_the_same_task_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "desk.py").write_text(DESK)
    failed = weft(tmp_path, "ask", TASK, "--agents", "desk.py", "--router", "capability")
    assert failed.exit_code == 1, failed.output
    journal = Journal(tmp_path / "journal.db")
    run_id = journal.list_runs(1)[0].run_id
    journal.close()

    (tmp_path / "fixed").touch()
    resumed = weft(tmp_path, "resume", run_id)
    assert resumed.exit_code == 0, resumed.output

    again = weft(tmp_path, "ask", TASK, "--agents", "desk.py", "--router", "capability")
    assert again.exit_code == 0, again.output
    assert "summary: " + TASK in again.stdout


def test_feedback_good_on_a_resumed_ask_counts_no_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ask's failed call was counted when it ran; "good" must not teach it again. The
    resume made the memory record a success (s1 succeeded), so "good" counts s1 for its
    agent as after any ask that went well."""
    from weft.runtime.routing.chroma_store import chroma_client
    from weft.runtime.routing.embeddings import make_embedder
    from weft.runtime.routing.outcome_memory import open_outcomes

    monkeypatch.chdir(tmp_path)
    (tmp_path / "desk.py").write_text(DESK)
    failed = weft(tmp_path, "ask", TASK, "--agents", "desk.py", "--router", "capability")
    assert failed.exit_code == 1, failed.output
    journal = Journal(tmp_path / "journal.db")
    run_id = journal.list_runs(1)[0].run_id
    journal.close()
    (tmp_path / "fixed").touch()
    assert weft(tmp_path, "resume", run_id).exit_code == 0

    judged = weft(tmp_path, "feedback", run_id, "good")
    assert judged.exit_code == 0, judged.output

    outcomes = open_outcomes(chroma_client(path=tmp_path / "memory"), make_embedder("minilm"))
    # the ask's failed call, the resume's successful one, and the verdict: a success; only
    # the verdict teaches the card (a call's own outcome is weak evidence, no example)
    assert len(outcomes) == 3
    assert outcomes.learned(["summarise"])["summarise"].kinds == ("learned",)
